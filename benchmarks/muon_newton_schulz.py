"""What a Muon step costs on this CPU, and why: torch.optim.Muon orthogonalizes each update by
Newton–Schulz iterations in bfloat16 (as Jordan's reference does, for GPUs). A CPU without
bfloat16 matrix units (no AVX512_BF16 / AMX) multiplies bfloat16 far slower than float32, so on
such a CPU one Muon step on the modular MLP's single 200 × 200 hidden matrix can cost more than
the rest of the training step. Measured side by side in one run:

    OMP_NUM_THREADS=1 python benchmarks/muon_newton_schulz.py [--size 200] [--repeats 20]

prints ms per torch.optim.Muon step, per 200 × 200 matmul in bfloat16 and in float32, and
their ratios. (grokbench keeps torch's bfloat16 iteration: a float32 one would change what the
committed Muon runs computed.)
"""
import argparse
import statistics
import time

import torch


def ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    n = args.size
    p = torch.nn.Parameter(torch.randn(n, n))
    p.grad = torch.randn(n, n)
    muon = torch.optim.Muon([p], lr=0.01, adjust_lr_fn="match_rms_adamw")
    adamw = torch.optim.AdamW([torch.nn.Parameter(torch.randn(n, n))], lr=0.01)
    adamw.param_groups[0]["params"][0].grad = torch.randn(n, n)
    a32 = torch.randn(n, n)
    a16 = a32.bfloat16()
    t_muon = ms(muon.step, args.repeats)
    t_adamw = ms(adamw.step, args.repeats)
    t_bf16 = ms(lambda: a16 @ a16, args.repeats)
    t_f32 = ms(lambda: a32 @ a32, args.repeats)
    caps = torch.backends.cpu.get_cpu_capability()
    print(f"{n} x {n}, {args.threads} thread(s), ATen CPU capability {caps}, medians of {args.repeats}:")
    print(f"  torch.optim.Muon step: {t_muon:8.2f} ms   (AdamW step on the same matrix: {t_adamw:.3f} ms)")
    print(f"  matmul bfloat16      : {t_bf16:8.3f} ms")
    print(f"  matmul float32       : {t_f32:8.3f} ms   bfloat16 / float32 = {t_bf16 / t_f32:.1f}x")
    # 5 iterations of 3 matmuls each (X Xᵀ, A·A, B·X)
    print(f"  5 Newton–Schulz iterations = 15 such matmuls: ≈{15 * t_bf16:.0f} ms in bfloat16, "
          f"≈{15 * t_f32:.1f} ms in float32")


if __name__ == "__main__":
    main()
