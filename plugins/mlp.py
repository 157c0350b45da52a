"""The ``mlp`` model: a plain multilayer perceptron for token, feature or one-hot inputs."""
import torch
import torch.nn.functional as F
from torch import nn

from grokbench import hookimpl
from grokbench.errors import UserError

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU}


class MLP(nn.Module):
    """Hidden layers of ``width`` units. Token inputs are one-hot encoded and concatenated
    (modular tasks: 2 × 113 = 226 inputs, as ref-SM); the first layer is then computed as an
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
        first = self.layers[0]
        if self.vocab_size is not None:  # one-hot(x) @ W.T == sum of the gathered columns of W
            h = F.embedding(x + self.offsets, first.weight.t()).sum(1)
            if first.bias is not None:
                h = h + first.bias
        else:
            h = first(x.flatten(1))
        for layer in self.layers[1:]:
            h = layer(self.act(h))
        return h


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
             options={"width": 200, "depth": 2, "activation": "relu", "bias": True})
