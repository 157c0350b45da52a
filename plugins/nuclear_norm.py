"""Nuclear-norm regularization (Tikeng Notsawo, Dumas & Rabusseau, "Grokking Beyond the
Euclidean Norm of Model Parameters", ICML 2025, arXiv 2506.05718): add β Σ_W ‖W‖_* (the sum of
W's singular values) over the weight matrices to the training loss. Their result (§3–4): when a
low-rank model fits the data, gradient descent with a small nuclear-norm penalty groks, as small
weight decay does for a small-ℓ2 solution; weight decay is then not needed, and the ℓ2 norm of the
parameters need not fall when the model generalizes.

What is penalized follows the authors' code (their algorithmic-data MLP notebook): every
parameter whose name contains ``weight``, here those that are matrices (2-D: the nuclear norm is
a matrix norm; their models have no other weights). The penalty enters through its gradient, as
decoupled weight decay does: between backward and step, each such W's gradient gets
β ∂‖W‖_*/∂W = β U Vᵀ (W = U Σ Vᵀ, the thin SVD; the gradient autograd gives for
``torch.linalg.matrix_norm(W, "nuc")``, a test checks). The recorded training loss is the data
loss alone, as it is for weight decay.

**Settings.** β = 1e-5 (``nuclear_beta``), with Adam-style training and no weight decay, as in
the authors' algorithmic-data MLP (Adam, lr 5e-3, weight decay 0, modular addition p = 97,
40 % train). Their notebook sweeps β_* over {5e-8, 1e-7, 1e-6, 1e-5, 5e-5, 1e-4}; the paper has
no single recipe, so we pin 1e-5, the middle of that range, and the tuned protocol searches it
(log-uniform over the whole swept range). The task's own learning rate is kept. Cost: one thin
SVD per matrix per step (on the MLPs here, a few milliseconds a step).
"""
from __future__ import annotations

import torch

from grokbench import Option, OptimizerWrapper, hookimpl


def nuclear_grad(w: torch.Tensor) -> torch.Tensor:
    """∂‖W‖_*/∂W = U Vᵀ from the thin SVD (in float64 for the SVD, returned in W's dtype)."""
    u, _, vh = torch.linalg.svd(w.detach().double(), full_matrices=False)
    return (u @ vh).to(w.dtype)


class NuclearNorm(OptimizerWrapper):
    def __init__(self, inner, model, beta):
        super().__init__(inner)
        self.beta = float(beta)
        self.matrices = [p for name, p in model.named_parameters()
                         if "weight" in name and p.ndim == 2 and p.requires_grad]

    @torch.no_grad()
    def step(self):
        if self.beta:
            for w in self.matrices:
                if w.grad is not None:
                    w.grad.add_(nuclear_grad(w), alpha=self.beta)
        self.inner.step()


@hookimpl
def register_optimizers(register):
    register("nuclear", lambda inner, model, c: NuclearNorm(inner, model, c["nuclear_beta"]),
             "nuclear-norm penalty β Σ‖W‖_* on the weight matrices, through its gradient β U Vᵀ",
             wrapper=True, options={"nuclear_beta": Option(
                 1e-5, "penalty strength β (Tikeng Notsawo et al. 2025 sweep 5e-8 to 1e-4)",
                 float, minimum=0)})


SEARCH_SPACE = {"lr": {"log_uniform": [1e-4, 3e-2]},
                "nuclear_beta": {"log_uniform": [5e-8, 1e-4]}}


@hookimpl
def register_methods(register):
    register("nuclear", {"wrappers": ["nuclear"], "weight_decay": 0.0},
             "nuclear-norm penalty β = 1e-5 on the weight matrices, no weight decay "
             "(Tikeng Notsawo et al. 2025)", search_space=SEARCH_SPACE)
