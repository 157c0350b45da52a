"""Steps/s of the modadd MLP training step (p = 113, full batch of 5107 pairs), and the gain of
computing the one-hot first layer as an embedding gather, measured side by side in one run.

    python benchmarks/modadd_step.py [--steps 200] [--threads 1]
"""
import argparse
import time

import torch
import torch.nn.functional as F

from grokbench.config import resolve
from grokbench.engine import build_optimizer, derive_seed
from grokbench.plugins import get_registry


def time_steps(model, forward, x, y, optimizer, steps):
    for _ in range(5):  # warm-up
        loss = F.cross_entropy(forward(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    t0 = time.perf_counter()
    for _ in range(steps):
        perm = torch.randperm(len(y))
        loss = F.cross_entropy(forward(x[perm]), y[perm])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    reg = get_registry()
    config = resolve(reg, "modadd", "perpgrad")
    task = reg.get("tasks", "modadd").obj()
    torch.manual_seed(derive_seed(0, "data"))
    data = task.load(config)
    x, y = data.train_x, data.train_y

    rates = {}
    for variant in ("gather", "dense one-hot"):
        torch.manual_seed(0)
        model = reg.get("models", "mlp").obj(data.info, config)
        opt = build_optimizer(reg, model, config)
        if variant == "gather":
            forward = model
        else:
            def forward(xb, model=model):
                h = model.layers[0](F.one_hot(xb, 113).flatten(1).float())
                for layer in model.layers[1:]:
                    h = layer(model.act(h))
                return h
        rates[variant] = time_steps(model, forward, x, y, opt, args.steps)
        print(f"{variant:>14}: {rates[variant]:7.1f} steps/s  (⊥AdamW, {len(y)} samples, "
              f"{args.threads} thread(s))")
    print(f"gather / dense: {rates['gather'] / rates['dense one-hot']:.2f}x")


if __name__ == "__main__":
    main()
