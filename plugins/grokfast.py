"""Grokfast-EMA (Lee et al. 2024, ref-GF): amplify the slow component of the gradient.
Between backward and step: μ₀ = g₀, μ_t = α μ_{t−1} + (1 − α) g_t, then g_t ← g_t + λ μ_t."""
import torch

from grokbench import OptimizerWrapper, hookimpl


class GrokfastEMA(OptimizerWrapper):
    def __init__(self, inner, alpha=0.98, lamb=2.0):
        super().__init__(inner)
        self.alpha, self.lamb = float(alpha), float(lamb)
        self.ema = {}

    @torch.no_grad()
    def step(self):
        for p in self.params():
            if p.grad is None:
                continue
            mu = self.ema.get(p)
            if mu is None:
                mu = self.ema[p] = p.grad.detach().clone()
            else:
                mu.mul_(self.alpha).add_(p.grad, alpha=1 - self.alpha)
            p.grad.add_(mu, alpha=self.lamb)
        self.inner.step()


@hookimpl
def register_optimizers(register):
    register("grokfast", lambda inner, model, c: GrokfastEMA(inner, c["grokfast_alpha"], c["grokfast_lamb"]),
             "Grokfast-EMA gradient filter (α = 0.98, λ = 2)", wrapper=True,
             options={"grokfast_alpha": 0.98, "grokfast_lamb": 2.0})


@hookimpl
def register_methods(register):
    register("grokfast", {"wrappers": ["grokfast"]}, "Grokfast-EMA gradient filter around the task's optimizer")
