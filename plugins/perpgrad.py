"""⊥Grad (Prieto et al. 2025): remove from each parameter's gradient its component along the
parameter (the naive-loss-minimization direction that only scales the weights), keep the norm.

For each tensor, flattened: g⊥ = g − (w·g / w·w) w, then g⊥ ← g⊥ · ‖g‖/‖g⊥‖ (the StableMax code rescales).
The wrapper takes an already built optimizer, so every base hyperparameter (β, ε, …) is used
as given. The StableMax code built its base with only lr and weight_decay (its issue #11), so the paper's
"⊥AdamW" really ran with β = (0.9, 0.999), ε = 1e-8: the ``perpgrad`` method uses those β.
"""
import torch

from grokbench import OptimizerWrapper, hookimpl


def project_out_parallel(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """g⊥ rescaled to ‖g‖; g is returned unchanged where w = 0, and 0 where g ∥ w exactly."""
    w64, g64 = w.detach().flatten().double(), g.flatten().double()
    ww = w64 @ w64
    if ww == 0:
        return g
    perp = g64 - (w64 @ g64) / ww * w64
    pn = perp.norm()
    scale = g64.norm() / pn if pn > 0 else torch.zeros((), dtype=torch.float64)
    return (perp * scale).to(g.dtype).view_as(g)


class PerpGrad(OptimizerWrapper):
    @torch.no_grad()
    def step(self):
        for p in self.params():
            if p.grad is not None:
                p.grad.copy_(project_out_parallel(p, p.grad))
        self.inner.step()


@hookimpl
def register_optimizers(register):
    register("perpgrad", lambda inner, model, config: PerpGrad(inner),
             "⊥Grad: project the gradient orthogonal to the weights, keep its norm", wrapper=True)


# Tuning (grokbench sweep --tuning N): the learning rate only; ⊥AdamW's paper runs it without
# weight decay (the projection is its regularizer).
SEARCH_SPACE = {"lr": {"log_uniform": [1e-4, 3e-2]}}


@hookimpl
def register_methods(register):
    register("perpgrad", {"wrappers": ["perpgrad"], "betas": [0.9, 0.999], "eps": 1e-8},
             "⊥AdamW: ⊥Grad around AdamW with β=(0.9, 0.999), ε=1e-8 (what the paper really ran)",
             search_space=SEARCH_SPACE)
