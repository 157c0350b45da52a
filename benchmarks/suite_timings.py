"""What a suite costs on a device: seconds per training step and per evaluation of each kind of
run (task × method, seed 0, at the suite's settings), measured here, and the suite's committed
runs (``leaderboards/SUITE.results.jsonl``: the steps and evaluations each really ran) costed at
those timings, beside the wall time each recorded where it was computed.

    python benchmarks/suite_timings.py --suite full --device cuda [--steps 300]
        [--tasks modadd,imdb] [--methods wd,muon] [--threads 1]

Timings come from differences of whole runs, so a GPU's asynchronous queue is counted where it
is paid (every run ends with an evaluation, which waits for the device): for each kind, a short
warm-up run (data loaded, kernels compiled), then runs of S steps and of 2S steps evaluated only
at their start, end and a few early points, and one of S steps evaluated every S/10: wall =
setup + steps · (s/step) + evaluations · (s/evaluation), solved from the three (a small
evaluation cost comes out noisy, sometimes 0). Methods not measured (--methods) are costed at
the task's weight-decay timings. The wall times a run records on the CPU (one thread on a
shared 2-core machine) are an upper bound on its CPU time.
"""
import argparse
import statistics
import time

import torch

from grokbench.engine import run
from grokbench.grid import expand, load_suite, suites_dir, validate_spec
from grokbench.leaderboard import read_records
from grokbench.registry import get_registry


def wall(config, steps, every):
    """(wall seconds, steps, evaluations) of a run of ``steps`` steps evaluated every ``every``
    (and at its few early log-spaced points)."""
    result = run(dict(config, steps=steps, eval_every=every, evals_per_decade=1, early_stop=False,
                      loggers=[]), progress=False)
    return result["wall_time"], steps, len(result["curve"])


def timing(config, steps):
    """(seconds per training step, seconds per evaluation) of this kind of run: wall = setup +
    steps · t_step + evaluations · t_eval, solved from three runs."""
    wall(config, 10, 10)                                  # warm-up: data, caches, kernels
    runs = [wall(config, steps, steps), wall(config, 2 * steps, 2 * steps),
            wall(config, steps, max(1, steps // 10))]
    a = torch.tensor([[1.0, n, e] for _, n, e in runs], dtype=torch.float64)
    b = torch.tensor([w for w, _, _ in runs], dtype=torch.float64)
    _, t_step, t_eval = torch.linalg.solve(a, b).tolist()
    return max(t_step, 0.0), max(t_eval, 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default="full")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=300, help="S: the step difference measured")
    ap.add_argument("--tasks", default=None, help="comma-separated (default: the suite's)")
    ap.add_argument("--methods", default="wd", help="comma-separated methods to time; the others "
                                                    "are costed at the task's wd timings")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    registry = get_registry()
    suite = load_suite(args.suite)
    tasks = args.tasks.split(",") if args.tasks else suite["tasks"]
    methods = args.methods.split(",")
    spec = validate_spec(dict(suite, tasks=tasks, seeds=[0],
                              methods=[m for m in suite["methods"] if m in methods]), args.suite)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    print(f"suite {args.suite} on {args.device} ({name}), torch {torch.__version__}, "
          f"{args.threads} CPU thread(s), S = {args.steps} steps", flush=True)

    timings = {}
    for cfg in expand(registry, spec):
        cfg = dict(cfg, device=args.device, threads=args.threads)
        t0 = time.perf_counter()
        try:
            timings[cfg["task"], cfg["method"]] = timing(cfg, args.steps)
        except Exception as exc:  # a task whose data is not on this machine: say so, go on
            print(f"  {cfg['task']}/{cfg['method']}: not timed ({type(exc).__name__}: "
                  f"{str(exc).splitlines()[0][:120]})", flush=True)
            continue
        t_step, t_eval = timings[cfg["task"], cfg["method"]]
        print(f"  {cfg['task']}/{cfg['method']}: {t_step * 1e3:.2f} ms/step, "
              f"{t_eval * 1e3:.1f} ms/evaluation ({time.perf_counter() - t0:.0f} s to measure)",
              flush=True)

    path = suites_dir() / f"{args.suite}.results.jsonl"
    records = read_records(path) if path.exists() else []
    print(f"\nthe {len(records)} committed runs of {path.name}, costed at these timings "
          "(steps and evaluations each run really ran):")
    print("| task | runs | steps run | evaluations | recorded wall, h (where computed) | "
          f"on {args.device}, h | ratio |")
    print("|---|---|---|---|---|---|---|")
    totals = [0.0, 0.0]
    for task in tasks:
        mine = [r for r in records if r["task"] == task]
        if not mine or (task, "wd") not in timings:
            continue
        steps = sum(int(r["scores"]["steps_run"]) for r in mine)
        evals = sum(int(r["summary"]["evaluations"]) for r in mine)
        recorded = sum(float(r["scores"]["wall_time"]) for r in mine) / 3600
        here = sum(int(r["scores"]["steps_run"]) * t[0] + int(r["summary"]["evaluations"]) * t[1]
                   for r in mine
                   for t in [timings.get((task, r["method"]), timings[task, "wd"])]) / 3600
        totals[0] += recorded
        totals[1] += here
        print(f"| {task} | {len(mine)} | {steps} | {evals} | {recorded:.2f} | {here:.3f} | "
              f"{recorded / here:.1f}× |")
    if totals[1]:
        print(f"| **total** | | | | **{totals[0]:.1f}** | **{totals[1]:.2f}** | "
              f"{totals[0] / totals[1]:.1f}× |")
    if timings:
        med = statistics.median(t for t, _ in timings.values())
        print(f"\nmedian over kinds: {med * 1e3:.2f} ms/step")


if __name__ == "__main__":
    main()
