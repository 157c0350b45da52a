"""StableMax cross-entropy (Prieto et al. 2025) and the ``stablemax`` method.

s(x) = x + 1 for x ≥ 0 and 1 / (1 − x) for x < 0; StableMax(x)_i = s(x_i) / Σ_j s(x_j).
Unlike exp, s grows linearly, so the probabilities cannot round to exactly 0/1 (no Softmax
Collapse) until the logits are astronomically large.
"""
import torch

from grokbench import Option, UserError, hookimpl


def s(x):
    # torch.where evaluates both branches, and the StableMax code's 1/(1−x) is ∞ at x = 1 with a NaN
    # gradient in the unused branch (it added ε = 1e-30, which only works in float64).
    # Each branch sees only its own half of the axis instead, so both are finite everywhere.
    return torch.where(x >= 0, x.clamp(min=0) + 1, 1 / (1 - x.clamp(max=0)))


def stablemax(x, dim=-1):
    sx = s(x)
    return sx / sx.sum(dim, keepdim=True)


def stablemax_cross_entropy(logits, target):
    """Per-sample −log StableMax(logits)_target = log Σ_j s(x_j) − log s(x_target)."""
    sx = s(logits)
    return sx.sum(-1).log() - sx.gather(-1, target[:, None]).squeeze(-1).log()


def build_loss(config):
    dtype = getattr(torch, config["loss_dtype"]) if config["loss_dtype"] else None

    def loss(output, target):
        if target.dtype != torch.long or output.ndim != 2 or output.shape[-1] < 2:
            raise UserError("the stablemax loss needs class labels and one logit per class; "
                            "this task is binary or regression: use --loss bce/mse or another method")
        return stablemax_cross_entropy(output.to(dtype) if dtype else output, target)
    return loss


def probabilities(output, config):
    """What the loss trains, in its precision: Softmax Collapse is measured on these."""
    dtype = getattr(torch, config["loss_dtype"]) if config["loss_dtype"] else None
    return stablemax(output.to(dtype) if dtype else output)


@hookimpl
def register_losses(register):
    # The StableMax code computes the loss in float64 (the paper's runs did), so that is the default.
    register("stablemax", build_loss, "StableMax cross-entropy (computed in loss_dtype, default float64)",
             options={"loss_dtype": Option("float64", "dtype the loss is computed in (none: the "
                                           "training dtype; the StableMax code: float64)", str,
                                           choices=("float16", "bfloat16", "float32", "float64"),
                                           optional=True)},
             probabilities=probabilities,
             task_kinds=["classification"])


# The StableMax paper's runs (its repository's run script and argument defaults): AdamW with
# β = (0.9, 0.999), no weight decay, the loss in float64, and Adam's ε = 1e-25 on modular
# arithmetic and 1e-18 on sparse parity (a larger ε would damp the tiny late gradients).
RECIPES = {**{task: {"eps": 1e-25} for task in ("modadd", "modsub", "modmul", "moddiv", "modpoly")},
           "parity": {"eps": 1e-18}}


@hookimpl
def register_methods(register):
    register("stablemax", {"loss": "stablemax", "betas": [0.9, 0.999]},
             "StableMax cross-entropy in float64 instead of softmax CE (no Softmax Collapse)",
             per_task=RECIPES)
