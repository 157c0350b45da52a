"""The metrics beyond accuracy and loss (docs/science.md, "Metrics"): Softmax Collapse fraction
under the trained loss and in the softmax view, zero-loss fraction, NLM alignment (global and
per tensor), weight norm and logit norm."""
import math

import torch

from grokbench import hookimpl


def softmax_collapse(ctx):
    """Softmax Collapse under the loss that was trained (``sc_fraction``, the scored one): a
    sample has collapsed when the loss's own probabilities, in the precision the loss is
    computed in, put exactly 1 on one class, so its gradient has vanished in that precision.
    For softmax CE this is the StableMax paper's test, Σ_j exp(z_j − max z) == 1 (then
    p_max = 1 / Σ == 1). StableMax's probabilities, in float64, practically never get there.

    ``sc_fraction_softmax`` is the softmax view of the same logits at ``softmax_precision``,
    whatever the loss: a diagnostic, e.g. how close StableMax-trained logits come to collapsing
    a softmax, or MNIST's MSE-trained logits."""
    out, record = ctx.train_output, {}
    if ctx.probabilities is not None:
        probs = ctx.probabilities(out)
        record["sc_fraction"] = (probs.max(dim=-1).values == 1).double().mean().item()
    if ctx.task.kind == "classification" and out.ndim == 2 and out.shape[-1] >= 2:
        z = out.to(getattr(torch, ctx.config["softmax_precision"]))
        off = z - z.max(dim=-1, keepdim=True).values
        record["sc_fraction_softmax"] = (off.exp().sum(-1) == 1).double().mean().item()
    return record


def zero_loss(ctx):
    return {"zero_loss_fraction": (ctx.train_losses == 0).double().mean().item()}


def nlm_alignment(ctx):
    """cos(θ, −∇L), with ∇L of the training loss alone (no weight decay, no optimizer transform).
    Naive loss minimization makes it approach 1: the gradient then only scales the weights."""
    out, dot, tt, gg = {}, 0.0, 0.0, 0.0
    for (name, p), g in zip(ctx.named_params, ctx.grads):
        p64, g64 = p.detach().double().flatten(), g.double().flatten()
        d, t2, g2 = -(p64 @ g64).item(), (p64 @ p64).item(), (g64 @ g64).item()
        dot, tt, gg = dot + d, tt + t2, gg + g2
        out[f"nlm_cosine/{name}"] = d / math.sqrt(t2 * g2) if t2 > 0 and g2 > 0 else 0.0
    out["nlm_cosine"] = dot / math.sqrt(tt * gg) if tt > 0 and gg > 0 else 0.0
    out["weight_norm"] = math.sqrt(tt)
    return out


def logit_norm(ctx):
    out = ctx.train_output
    return {"logit_norm": out.double().reshape(len(out), -1).norm(dim=-1).mean().item()}


@hookimpl
def register_metrics(register):
    register("softmax_collapse", softmax_collapse,
             "fraction of training samples whose probabilities under the trained loss are exactly one-hot "
             "(sc_fraction), and the same for the softmax of the logits (sc_fraction_softmax)")
    register("zero_loss", zero_loss, "fraction of training samples with a loss of exactly 0")
    register("nlm_alignment", nlm_alignment, "cosine between θ and −∇L, global and per tensor; global weight norm")
    register("logit_norm", logit_norm, "mean L2 norm of the training logits")
