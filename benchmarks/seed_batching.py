"""What training several seeds as one batched model would give: the modular MLP's training step
(226-200-200-113 ReLU, no biases, full batch of the 5108 training pairs of p = 113, AdamW), for
k seeds one after another against the k seeds stacked into one model whose weights carry a
leading seed dimension (one batched matmul per layer, one AdamW step over the stacked
weights: AdamW is elementwise, so each seed's update is its own). Measured side by side in one
run, on any device.

    python benchmarks/seed_batching.py --device cuda [--k 1,3,9,27,81] [--steps 200]

grokbench trains one run per process today (an executor's worker); this measures what a
seed-batched engine could gain, not something grokbench does. On a GPU a step of one small
model is bound by kernel launches, not arithmetic, so k seeds in one launch cost little more
than one; on a CPU the matmuls are already the work, so batching gains little.
"""
import argparse
import time

import torch
import torch.nn.functional as F

P, WIDTH, N_TRAIN = 113, 200, 5108


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def make(k, device, gen):
    """k seeds' weights, stacked: [k, fan_in, fan_out] per layer, PyTorch's default scale."""
    shapes = [(2 * P, WIDTH), (WIDTH, WIDTH), (WIDTH, P)]
    return [((torch.rand(k, a, b, generator=gen) * 2 - 1) / a ** 0.5).to(device).requires_grad_()
            for a, b in shapes]


def step_time(k, x, y, device, steps):
    """Seconds per training step of k seeds stacked in one model."""
    weights = make(k, device, torch.Generator().manual_seed(k))
    opt = torch.optim.AdamW(weights, lr=1e-3, weight_decay=1.0)
    target = y.repeat(k)

    def step():
        h = x
        for i, w in enumerate(weights):
            h = torch.matmul(h, w)          # [n, in] @ [k, in, out] -> [k, n, out]
            if i < len(weights) - 1:
                h = F.relu(h)
        # the sum over seeds of each seed's mean loss: each seed's gradient is its own
        loss = F.cross_entropy(h.reshape(-1, P), target, reduction="sum") / len(y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - t0) / steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--k", default="1,3,9,27,81")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    pairs = torch.randint(0, P, (N_TRAIN, 2), generator=gen)
    x = F.one_hot(pairs, P).flatten(1).float().to(device)
    y = pairs.sum(1).remainder(P).to(device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"{args.threads} thread(s)"
    print(f"modular MLP, full batch {N_TRAIN}, AdamW, on {device} ({name}), torch {torch.__version__}")
    one = step_time(1, x, y, device, args.steps)
    print(f"one seed: {one * 1e3:.2f} ms/step")
    print("| seeds k | batched ms/step | k seeds one after another, ms | gain | seed-steps/s |")
    print("|---|---|---|---|---|")
    for k in (int(v) for v in args.k.split(",")):
        batched = step_time(k, x, y, device, args.steps)
        print(f"| {k} | {batched * 1e3:.2f} | {k * one * 1e3:.2f} | {k * one / batched:.1f}× | "
              f"{k / batched:.0f} |", flush=True)


if __name__ == "__main__":
    main()
