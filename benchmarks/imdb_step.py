"""Milliseconds per IMDb LSTM training step and seconds per evaluation of a short engine run,
with the page faults of each; ``--compare`` puts the run beside one with glibc's default
memory handling (grokbench.engine.keep_freed_memory skipped), alternating fresh processes.

    OMP_NUM_THREADS=1 python benchmarks/imdb_step.py --set data_dir=PATH [--compare 2]

The run is the task's default recipe (batch 50, 100 tokens, hidden 128, wd 1, α = 6, clip 5)
cut to --steps steps with an evaluation every 10 (8 evaluations at 30 steps). The first
evaluation of a process pays for growing the heap either way: the median leaves it out. Run it
once without --compare first if the data are not cached yet (a few seconds of preprocessing).
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

import grokbench.engine as engine
from grokbench.config import parse_assignments, resolve
from grokbench.registry import get_registry


def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(args) -> dict:
    if args.glibc_defaults:
        engine.keep_freed_memory = lambda: None
    evals, eval_faults, evaluate = [], [], engine.evaluate

    def timed_evaluate(*a, **kw):
        f0, t0 = faults(), time.perf_counter()
        record = evaluate(*a, **kw)
        evals.append(time.perf_counter() - t0)
        eval_faults.append(faults() - f0)
        return record

    engine.evaluate = timed_evaluate
    reg = get_registry()
    overrides = dict(parse_assignments(args.set), steps=args.steps, eval_every=10,
                     threads=args.threads)
    config = resolve(reg, "imdb", "wd", overrides)
    f0 = faults()
    result = engine.run(config, registry=reg, progress=False)
    step_faults = faults() - f0 - sum(eval_faults)
    return {"ms_per_step": 1e3 * result["train_time"] / args.steps,
            "faults_per_step": step_faults / args.steps,
            "s_per_eval": statistics.median(evals), "faults_per_eval": statistics.median(eval_faults),
            "evals": len(evals), "eval_share": result["eval_time"] / result["wall_time"]}


def show(name, m):
    print(f"  {name:15} {m['ms_per_step']:6.1f} ms/step ({m['faults_per_step']:7.0f} page faults), "
          f"{m['s_per_eval']:5.2f} s/evaluation ({m['faults_per_eval']:7.0f} faults, median of "
          f"{m['evals']:.0f}), evaluation {m['eval_share']:.0%} of the run", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], help="key=value, e.g. data_dir=PATH")
    ap.add_argument("--compare", type=int, default=0, metavar="ROUNDS",
                    help="alternate fresh processes with and without keep_freed_memory")
    ap.add_argument("--glibc-defaults", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not args.compare:
        m = measure(args)
        if args.json:
            print(json.dumps(m))
        else:
            show("glibc defaults" if args.glibc_defaults else "grokbench", m)
        return
    base = [sys.executable, __file__, "--json", "--steps", str(args.steps),
            "--threads", str(args.threads)] + [a for kv in args.set for a in ("--set", kv)]
    rows = {"grokbench": [], "glibc defaults": []}
    for r in range(args.compare):
        order = list(rows) if r % 2 == 0 else list(reversed(rows))
        for name in order:
            extra = ["--glibc-defaults"] if name == "glibc defaults" else []
            out = subprocess.run(base + extra, check=True, capture_output=True, text=True).stdout
            rows[name].append(json.loads(out.strip().splitlines()[-1]))
            show(name, rows[name][-1])
    print(f"medians of {args.compare} rounds:")
    for name, ms in rows.items():
        show(name, {k: statistics.median(m[k] for m in ms) for k in ms[0]})


if __name__ == "__main__":
    main()
