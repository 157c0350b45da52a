"""The ``mlp`` model: a plain multilayer perceptron for token, feature or one-hot inputs."""
from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from grokbench import Option, UserError, hookimpl


class InPlaceReLU(torch.autograd.Function):
    """ReLU in place, forward (as ``nn.ReLU(inplace=True)``) and backward: the same numbers as
    ``F.relu`` (a test checks the MLP bit for bit), with one [batch, width] tensor less written
    per hidden layer in the backward pass.

    Its backward masks the incoming gradient where it lies instead of writing a new tensor.
    That is safe only because the MLP feeds each activation to exactly one Linear, whose
    backward hands over a gradient tensor nobody else holds; do not reuse it where an
    activation has several consumers. Measured in a hand-written copy of a modadd step (p = 113,
    one thread): 1.2 of 30 ms, memory traffic (the 4 MB tensors miss the cache); in whole engine
    runs the gain (32.3 → 31.9 ms) is within the machine's noise."""

    @staticmethod
    def forward(ctx, x):
        ctx.mark_dirty(x)
        x.relu_()
        ctx.save_for_backward(x)
        return x

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return torch.ops.aten.threshold_backward.grad_input(grad, out, 0, grad_input=grad)


class ReLU(nn.Module):
    def forward(self, x):
        return InPlaceReLU.apply(x)


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU}


class OneHotLinear(torch.autograd.Function):
    """``one_hot(tokens).flatten(1) @ weight.T`` without the zeros: the sum over positions of
    the gathered weight columns, ``tokens`` already offset into the concatenated one-hot.

    The same numbers as ``F.embedding(tokens, weight.t()).sum(1)`` (each output added up
    position after position; each weight column's gradient summed sample after sample), which
    a test checks bit for bit, at about a third of its cost: gathering rows from the transposed
    view, the 2-row sum reduction and the copy of the expanded gradient that embedding's
    backward made took 13 of the 31 ms of a modadd training step (torch.profiler, p = 113,
    one thread); this takes ~2.5."""

    @staticmethod
    def forward(ctx, weight, tokens):
        table = weight.t().contiguous()  # [in_features, out]: one row per one-hot input
        if tokens.shape[1] == 2:  # a + b, what sum(1) gives for two rows, in one pass
            out = F.embedding_bag(tokens, table, mode="sum")
        else:  # longer sums keep sum's own (vectorized, not sequential) order
            out = F.embedding(tokens, table).sum(1)
        ctx.save_for_backward(tokens)
        ctx.in_features = table.shape[0]
        return out

    @staticmethod
    def backward(ctx, grad):
        (tokens,) = ctx.saved_tensors
        grad = grad.contiguous()
        grad_table = grad.new_zeros(ctx.in_features, grad.shape[1])
        for j in range(tokens.shape[1]):  # positions own disjoint rows: order within a row kept
            grad_table.index_add_(0, tokens[:, j], grad)
        return grad_table.t(), None


class MLP(nn.Module):
    """Hidden layers of ``width`` units. Token inputs are one-hot encoded and concatenated
    (modular tasks: 2 × 113 = 226 inputs, as the StableMax code); the first layer is then computed as an
    embedding gather of its weight columns, which is the same function without the zeros."""

    def __init__(self, in_features, n_outputs, width, depth, activation, bias, vocab_size=None,
                 seq_len=None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise UserError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        widths = [in_features] + [width] * depth + [n_outputs]
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(widths, widths[1:]))
        self.act = ACTIVATIONS[activation]()
        self.vocab_size = vocab_size
        if vocab_size is not None:
            self.register_buffer("offsets", torch.arange(seq_len) * vocab_size, persistent=False)

    def forward(self, x):
        first = cast(nn.Linear, self.layers[0])
        if self.vocab_size is not None:  # one-hot(x) @ W.T == sum of the gathered columns of W
            h = OneHotLinear.apply(first.weight, x + cast(torch.Tensor, self.offsets))
            if first.bias is not None:
                h = h + first.bias
        else:
            h = first(x.flatten(1))
        for layer in self.layers[1:]:
            h = layer(self.act(h))
        return h

    def input_embedding(self, position: int) -> torch.Tensor:
        """[vocab, width]: what each token adds to the first hidden layer at input ``position``
        (its one-hot's weight columns). Metrics that read a token's representation (the Fourier
        fingerprint) call this on any token model."""
        if self.vocab_size is None:
            raise UserError("input_embedding needs token inputs; this MLP takes features")
        first = cast(nn.Linear, self.layers[0])
        lo = position * self.vocab_size
        return first.weight[:, lo:lo + self.vocab_size].t()


def build_mlp(info, config):
    if info.input_kind == "tokens":
        in_features = info.vocab_size * info.seq_len
        extra = {"vocab_size": info.vocab_size, "seq_len": info.seq_len}
    elif info.input_kind == "features":
        in_features, extra = info.in_features, {}
    else:
        raise UserError(f"the mlp model takes token or feature inputs, not {info.input_kind}; "
                        "pick another --set model=...")
    return MLP(in_features, info.n_outputs, int(config["width"]), int(config["depth"]),
               config["activation"], bool(config["bias"]), **extra)


@hookimpl
def register_models(register):
    register("mlp", build_mlp, "MLP: `depth` hidden layers of `width` units (one-hot token inputs)",
             options={
                 "width": Option(200, "units per hidden layer (the StableMax code: 200)", int,
                                 minimum=1),
                 "depth": Option(2, "hidden layers (0: a linear model)", int, minimum=0),
                 "activation": Option("relu", "nonlinearity after each hidden layer", str,
                                      choices=tuple(ACTIVATIONS)),
                 "bias": Option(True, "biases in every layer (the StableMax code's modular MLP "
                                "has none)", bool),
             })
