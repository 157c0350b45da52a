"""The ``transformer`` model: Nanda et al.'s one-layer transformer for modular arithmetic
(d_model 128, 4 heads, d_mlp 512, ReLU, no LayerNorm), as Omnigrok used it."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from grokbench import Option, UserError, hookimpl


class Block(nn.Module):
    def __init__(self, d_model, n_heads, d_mlp):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)
        self.mlp_in = nn.Linear(d_model, d_mlp)
        self.mlp_out = nn.Linear(d_mlp, d_model)

    def forward(self, h):
        b, t, d = h.shape
        q, k, v = self.qkv(h).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.out(att.transpose(1, 2).reshape(b, t, d))
        return h + self.mlp_out(F.relu(self.mlp_in(h)))


class Transformer(nn.Module):
    """Inputs are the operand tokens; the model appends the "=" token (id ``vocab_size``) and
    reads the answer from the last position."""

    def __init__(self, vocab_size, seq_len, n_outputs, d_model, n_heads, d_mlp, n_layers,
                 append_eq=True):
        super().__init__()
        if d_model % n_heads:
            raise UserError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.eq_token = vocab_size
        self.append_eq = append_eq  # inputs that end with an "=" of their own get none added
        self.embed = nn.Embedding(vocab_size + append_eq, d_model)
        self.pos = nn.Parameter(torch.randn(seq_len + append_eq, d_model) / math.sqrt(d_model))
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_mlp) for _ in range(n_layers))
        self.unembed = nn.Linear(d_model, n_outputs, bias=False)

    def forward(self, x):
        if self.append_eq:
            x = torch.cat([x, torch.full((len(x), 1), self.eq_token, dtype=x.dtype, device=x.device)], 1)
        h = self.embed(x) + self.pos
        for block in self.blocks:
            h = block(h)
        return self.unembed(h[:, -1])

    def input_embedding(self, position: int) -> torch.Tensor:
        """[vocab, d_model]: each token's embedding (the same at every position; the position
        embedding is added on top). See the MLP's ``input_embedding``."""
        return self.embed.weight


def build_transformer(info, config):
    if info.input_kind != "tokens":
        raise UserError("the transformer model takes token inputs; use --set model=mlp for this task")
    return Transformer(info.vocab_size, info.seq_len, info.n_outputs, int(config["d_model"]),
                       int(config["n_heads"]), int(config["d_mlp"]), int(config["n_layers"]),
                       append_eq=not info.extra.get("ends_with_equals", False))


@hookimpl
def register_models(register):
    register("transformer", build_transformer,
             "1-layer transformer, d_model 128, 4 heads, d_mlp 512, no LayerNorm (Nanda/Omnigrok)",
             options={
                 "d_model": Option(128, "width of the residual stream (Nanda et al.: 128)", int,
                                   minimum=1),
                 "n_heads": Option(4, "attention heads; they divide d_model (Nanda et al.: 4)", int,
                                   minimum=1),
                 "d_mlp": Option(512, "hidden units of each block's MLP (Nanda et al.: 512)", int,
                                 minimum=1),
                 "n_layers": Option(1, "transformer blocks (Nanda et al.: 1)", int, minimum=1),
             })
