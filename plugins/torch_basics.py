"""The plain ingredients: softmax CE, MSE and BCE losses; AdamW, Adam and SGD; the ``baseline``
and ``float64`` methods."""
import torch
import torch.nn.functional as F

from grokbench import Option, hookimpl


DTYPES = ("float16", "bfloat16", "float32", "float64")


def _cast(output, config):
    dtype = config.get("loss_dtype")
    return output.to(getattr(torch, dtype)) if dtype else output


def cross_entropy(config):
    def loss(output, target):
        return F.cross_entropy(_cast(output, config), target, reduction="none")
    return loss


def mse(config):
    """Regression MSE, or MSE against one-hot targets for classification (Omnigrok MNIST)."""
    def loss(output, target):
        out = _cast(output, config)
        if target.dtype == torch.long:  # class labels: compare with their one-hot vectors
            target = F.one_hot(target, out.shape[-1]).to(out.dtype)
        return (out - target.to(out.dtype)).pow(2).reshape(len(out), -1).mean(-1)
    return loss


def binary_cross_entropy(config):
    def loss(output, target):
        out = _cast(output, config).reshape(-1)
        return F.binary_cross_entropy_with_logits(out, target.to(out.dtype).reshape(-1),
                                                  reduction="none")
    return loss


def softmax_probabilities(output, config):
    """What softmax CE trains, in the precision the loss is computed in, written out as the
    StableMax paper's collapse test reads it: e = exp(z − max z), p = e / Σ e. Then p_max is
    exactly 1 when Σ e == 1 (every other class was absorbed in rounding), the paper's test.
    (torch.softmax sums in another order, so it would move the margins a little.)"""
    z = _cast(output, config)
    e = (z - z.max(dim=-1, keepdim=True).values).exp()
    return e / e.sum(dim=-1, keepdim=True)


def sigmoid_probabilities(output, config):
    """BCE on one logit x is softmax CE on the two logits (0, x)."""
    x = _cast(output, config).reshape(-1, 1)
    return softmax_probabilities(torch.cat([torch.zeros_like(x), x], dim=-1), {})


@hookimpl
def register_losses(register):
    dtype_option = {"loss_dtype": Option(None, "dtype the loss is computed in (none: the training "
                                         "dtype)", str, choices=DTYPES)}
    register("ce", cross_entropy, "softmax cross-entropy", options=dtype_option,
             probabilities=softmax_probabilities, task_kinds=["classification"])
    register("mse", mse, "mean squared error (against one-hot vectors for class labels)",
             options=dtype_option)
    register("bce", binary_cross_entropy, "binary cross-entropy on one logit", options=dtype_option,
             probabilities=sigmoid_probabilities, task_kinds=["binary"])


@hookimpl
def register_optimizers(register):
    register("adamw", lambda params, c: torch.optim.AdamW(
        params, lr=c["lr"], betas=tuple(c["betas"]), eps=c["eps"], weight_decay=c["weight_decay"]),
        "AdamW (decoupled weight decay)")
    register("adam", lambda params, c: torch.optim.Adam(
        params, lr=c["lr"], betas=tuple(c["betas"]), eps=c["eps"], weight_decay=c["weight_decay"]),
        "Adam (weight decay as L2 in the gradient)")
    register("sgd", lambda params, c: torch.optim.SGD(
        params, lr=c["lr"], momentum=c["momentum"], weight_decay=c["weight_decay"]),
        "SGD with optional momentum")


@hookimpl
def register_methods(register):
    register("baseline", {}, "the task's defaults (modular tasks: softmax CE, AdamW, no weight decay)")
    # SC is then measured in float64 too, else float64 training could not show later collapse.
    register("float64", {"dtype": "float64", "softmax_precision": "float64"},
             "train (and measure Softmax Collapse) in float64")
