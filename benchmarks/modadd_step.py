"""Steps/s of a modadd run through grokbench's engine against a plain hand-written PyTorch loop
of the same model and data, measured side by side (interleaved repeats) in one process, with the
FLOP/s each achieves against a large float32 matmul timed in the same run.

    OMP_NUM_THREADS=1 python benchmarks/modadd_step.py [--steps 300] [--repeats 5] [--warmup 1]
        [--threads 1] [--device cuda]

Both train the StableMax code's MLP (226-200-200-113 ReLU, no biases) full batch on the 5108 training pairs
of p = 113, reshuffled by a fresh ``randperm`` each step, with AdamW at the method's settings,
and evaluate at the same steps (the engine's schedule with eval_every 50 and one early point per
decade: 0, 1, 10, 50, 100, ...). The plain loop feeds the dense one-hot input to a Linear and
measures train/test accuracy only; the engine computes its first layer as a gather and records
every metric (loss, accuracies, SC, ∇L for NLM alignment, norms) at each evaluation.
Steps/s count the whole loop, evaluations included, by wall clock and by the process's CPU
time; on a shared machine the CPU-time numbers are the steadier ones (for the engine they also
count its setup, a few ms). On a GPU both loops wait for the device at their end, and the
matmul reference is a 8192² float32 product (2048² does not fill a GPU).
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from grokbench.config import resolve
from grokbench.engine import derive_seed, eval_schedule, run
from grokbench.registry import get_registry

EVAL_EVERY, PER_DECADE = 50, 1


def engine_rate(config):
    cpu = time.process_time()
    result = run(config, progress=False)
    cpu = time.process_time() - cpu
    return config["steps"] / result["wall_time"], config["steps"] / cpu


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_rate(config, data):
    p, steps, device = int(config["p"]), int(config["steps"]), torch.device(config["device"])
    xtr = F.one_hot(data.train_x, p).flatten(1).float().to(device)
    xte = F.one_hot(data.test_x, p).flatten(1).float().to(device)
    ytr, yte = data.train_y.to(device), data.test_y.to(device)
    torch.manual_seed(derive_seed(int(config["seed"]), "model"))
    model = nn.Sequential(nn.Linear(2 * p, 200, bias=False), nn.ReLU(),
                          nn.Linear(200, 200, bias=False), nn.ReLU(),
                          nn.Linear(200, p, bias=False)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=config["lr"], betas=tuple(config["betas"]),
                            eps=config["eps"], weight_decay=config["weight_decay"])
    gen = torch.Generator().manual_seed(0)
    schedule = set(eval_schedule(steps, EVAL_EVERY, PER_DECADE))
    t0, cpu = time.perf_counter(), time.process_time()
    for step in range(steps + 1):
        if step in schedule:
            with torch.no_grad():
                (model(xtr).argmax(-1) == ytr).float().mean().item()
                (model(xte).argmax(-1) == yte).float().mean().item()
        if step == steps:
            break
        perm = torch.randperm(len(ytr), generator=gen).to(device)
        loss = F.cross_entropy(model(xtr[perm]), ytr[perm])
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync(device)
    return steps / (time.perf_counter() - t0), steps / (time.process_time() - cpu)


def matmul_flops(device, reps=3):
    n = 8192 if device.type == "cuda" else 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    sync(device)
    t0, cpu = time.perf_counter(), time.process_time()
    for _ in range(reps):
        a @ b
    sync(device)
    flops = 2 * n ** 3 * reps
    return flops / (time.perf_counter() - t0), flops / (time.process_time() - cpu)


def step_flops(n, p, width=200):
    """Matmul FLOPs of one training step of the dense model: forward, weight gradients, and
    input gradients of the two upper layers (none is needed for the input)."""
    layers = [(2 * p, width), (width, width), (width, p)]
    fwd = sum(2 * n * a * b for a, b in layers)
    return 2 * fwd + sum(2 * n * a * b for a, b in layers[1:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs of each loop first")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--method", default="wd")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    reg = get_registry()
    config = resolve(reg, "modadd", args.method, {
        "steps": args.steps, "eval_every": EVAL_EVERY, "evals_per_decade": PER_DECADE,
        "threads": args.threads, "device": args.device})
    task = reg.get("tasks", "modadd").obj()
    torch.manual_seed(derive_seed(int(config["seed"]), "data"))
    data = task.load(config)

    # One untimed run of each first: the first run in a process pays one-off costs (lazy imports,
    # the allocator's first pages, ATen's first-call set-up) that neither loop pays again.
    for _ in range(args.warmup):
        engine_rate(config), plain_rate(config, data), matmul_flops(device)
    rates = {"grokbench": [], "plain": [], "matmul": []}  # each a list of (wall, cpu) pairs
    for r in range(args.repeats):  # interleaved, order alternating: the machine's load drifts
        order = ["grokbench", "plain"] if r % 2 == 0 else ["plain", "grokbench"]
        for name in order:
            rates[name].append(engine_rate(config) if name == "grokbench"
                               else plain_rate(config, data))
        rates["matmul"].append(matmul_flops(device))
        print(f"repeat {r} (wall / cpu): grokbench {rates['grokbench'][-1][0]:.1f} / "
              f"{rates['grokbench'][-1][1]:.1f} steps/s, plain {rates['plain'][-1][0]:.1f} / "
              f"{rates['plain'][-1][1]:.1f} steps/s, matmul {rates['matmul'][-1][0] / 1e9:.0f} / "
              f"{rates['matmul'][-1][1] / 1e9:.0f} GFLOP/s", flush=True)

    flops = step_flops(data.n_train, int(config["p"]))
    gather_saved = 2 * 2 * data.n_train * 2 * int(config["p"]) * 200  # layer-1 fwd + ∇W matmuls
    print(f"\nmodadd p={config['p']}, {data.n_train} samples full batch, method {args.method}, "
          f"{args.steps} steps per run, {args.threads} thread(s), on {device}"
          + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else "")
          + f", medians of {args.repeats} (after {args.warmup} untimed):")
    for i, clock in enumerate(("wall clock", "CPU time")):
        med = {k: statistics.median(x[i] for x in v) for k, v in rates.items()}
        ratios = [g[i] / p[i] for g, p in zip(rates["grokbench"], rates["plain"])]
        print(f" by {clock}:")
        print(f"  grokbench engine: {med['grokbench']:6.1f} steps/s ({1e3 / med['grokbench']:.1f} ms/step)")
        print(f"  plain PyTorch   : {med['plain']:6.1f} steps/s ({1e3 / med['plain']:.1f} ms/step)")
        print(f"  ratio grokbench / plain: {statistics.median(ratios):.2f}x "
              f"(per repeat: {', '.join(f'{x:.2f}' for x in ratios)})")
        print(f"  float32 matmul ({'8192' if device.type == 'cuda' else '2048'}²): "
              f"{med['matmul'] / 1e9:.0f} GFLOP/s")
        print(f"  model FLOP/s (dense one-hot model, {flops / 1e9:.2f} GFLOP per training step):")
        for name in ("grokbench", "plain"):
            achieved = flops * med[name]
            print(f"    {name:9}: {achieved / 1e9:5.1f} GFLOP/s = {achieved / med['matmul']:.0%} of matmul")
        executed = (flops - gather_saved) * med["grokbench"]
        print(f"  grokbench executes {(flops - gather_saved) / 1e9:.2f} GFLOP of matmul per step "
              f"(its first layer is a gather): {executed / 1e9:.1f} GFLOP/s = "
              f"{executed / med['matmul']:.0%} of matmul")


if __name__ == "__main__":
    main()
