"""The ``decoder`` model: the decoder-only transformer of Power et al. 2022 ("Grokking:
generalization beyond overfitting on small algorithmic datasets") as the Grokfast code builds it
(Lee et al. 2024; ironjr/grokfast, ``main.py``): 2 layers, width 128, 4 heads, an MLP of 4×
width with GELU, LayerNorm, learned token and position embeddings, a final LayerNorm and a
bias-free head over the whole vocabulary, reading the answer at the last input position.

Where it differs from ``transformer`` (Nanda et al.'s 1-layer model without LayerNorm, ReLU, a
scaled random position table and a head over the p answers), each difference is an option, so
a claim can name the one it depends on (docs/science.md, "Models"):

- ``layer_norm``: ``grokfast`` (default) is the Grokfast code's block, which normalises the
  residual stream itself before attention (``x = ln_1(x); x = x + attn(x)``: the residual is
  taken from the normalised stream), then a pre-norm MLP (``x = x + mlp(ln_2(x))``); ``pre`` is
  the usual pre-norm block (``x = x + attn(ln_1(x))``); ``none`` drops every LayerNorm.
- ``activation``: ``gelu`` (default) or ``relu``.
- ``position``: ``learned`` (an ``nn.Embedding``, N(0, 1) at init, as the code) or ``none``.
- ``head``: ``vocab`` (default: logits for every token, operator and ``=`` included, as the
  code's cross-entropy sees them) or ``answers`` (the task's p classes).

Inputs are token sequences. With the modular tasks' ``input_format=equation`` they are the
paper's ``[a, ∘, b, =]`` (``decoder`` selects it by default there); otherwise the model appends
an ``=`` token of its own, as ``transformer`` does. The position table has one row more than
the input (the code's 5 rows for ``a ∘ b = c``), which only the parameter count sees.
"""
import torch
from torch import nn

from grokbench import Option, UserError, hookimpl

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


class DecoderBlock(nn.Module):
    def __init__(self, d_model, n_heads, d_mlp, activation, layer_norm):
        super().__init__()
        # Created in the code's order (ln_1, ln_2, attention, MLP), so a seed draws the same
        # initial weights in the same places.
        norm = (lambda: nn.LayerNorm(d_model)) if layer_norm != "none" else nn.Identity
        self.ln_1, self.ln_2 = norm(), norm()
        self.attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_mlp), ACTIVATIONS[activation](),
                                 nn.Linear(d_mlp, d_model))
        self.normalise_stream = layer_norm == "grokfast"

    def forward(self, h, mask, last_only=False):
        """With ``last_only``, only the last position's output (all that the last block's
        output is read for): its query attends to every key, and only its MLP runs. The same
        function with about a third fewer operations in that block."""
        x = self.ln_1(h)
        if self.normalise_stream:
            h = x
        if last_only:
            h = h[:, -1:] + self.attn(x[:, -1:], x, x, need_weights=False)[0]
        else:
            h = h + self.attn(x, x, x, attn_mask=mask, need_weights=False)[0]
        return h + self.mlp(self.ln_2(h))


class Decoder(nn.Module):
    def __init__(self, vocab_size, seq_len, n_outputs, d_model, n_heads, d_mlp, n_layers,
                 activation, layer_norm, position, head, append_eq):
        super().__init__()
        if d_model % n_heads:
            raise UserError(f"d_model {d_model} is not divisible by n_heads {n_heads}; e.g. "
                            "--set n_heads=4")
        self.append_eq = append_eq
        self.eq_token = vocab_size  # used only when the inputs have no "=" of their own
        vocab = vocab_size + append_eq
        length = seq_len + append_eq
        self.token_embeddings = nn.Embedding(vocab, d_model)
        self.position_embeddings = nn.Embedding(length + 1, d_model) if position == "learned" else None
        self.layers = nn.ModuleList(DecoderBlock(d_model, n_heads, d_mlp, activation, layer_norm)
                                    for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model) if layer_norm != "none" else nn.Identity()
        self.head = nn.Linear(d_model, vocab if head == "vocab" else n_outputs, bias=False)
        # the code's causal mask: −inf above the diagonal, added to the attention scores
        mask = torch.triu(torch.full((length, length), float("-inf")), diagonal=1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):
        if self.append_eq:
            x = torch.cat([x, torch.full((len(x), 1), self.eq_token, dtype=x.dtype, device=x.device)], 1)
        h = self.token_embeddings(x)
        if self.position_embeddings is not None:
            h = h + self.position_embeddings.weight[:x.shape[1]]
        mask = self.mask.to(h.dtype)
        for i, layer in enumerate(self.layers):
            h = layer(h, mask, last_only=i == len(self.layers) - 1)
        return self.head(self.ln_f(h[:, -1]))

    def input_embedding(self, position: int) -> torch.Tensor:
        """[vocab, d_model]: each token's embedding (shared by the positions)."""
        return self.token_embeddings.weight


def build_decoder(info, config):
    if info.input_kind != "tokens":
        raise UserError("the decoder model takes token inputs; use --set model=mlp for this task")
    return Decoder(info.vocab_size, info.seq_len, info.n_outputs, int(config["d_model"]),
                   int(config["n_heads"]), int(config["d_mlp"]), int(config["n_layers"]),
                   config["activation"], config["layer_norm"], config["position"],
                   config["head"], append_eq=not info.extra.get("ends_with_equals", False))


@hookimpl
def register_models(register):
    register("decoder", build_decoder,
             "Power et al./Grokfast decoder: 2 layers, d 128, 4 heads, GELU, LayerNorm, "
             "learned positions, head over the vocabulary",
             options={
                 "d_model": Option(128, "width of the residual stream (Power et al.: 128)", int,
                                   minimum=1),
                 "n_heads": Option(4, "attention heads; they divide d_model (Power et al.: 4)",
                                   int, minimum=1),
                 "d_mlp": Option(512, "hidden units of each block's MLP (the code: 4 × 128)", int,
                                 minimum=1),
                 "n_layers": Option(2, "decoder blocks (Power et al.: 2)", int, minimum=1),
                 "activation": Option("gelu", "the MLP's nonlinearity (the code: GELU)", str,
                                      choices=tuple(ACTIVATIONS)),
                 "layer_norm": Option("grokfast", "LayerNorm placement: grokfast (the code's: "
                                      "the residual from the normalised stream), pre (usual "
                                      "pre-norm) or none", str,
                                      choices=("grokfast", "pre", "none")),
                 "position": Option("learned", "position embedding: learned (N(0, 1) init, as "
                                    "the code) or none", str, choices=("learned", "none")),
                 "head": Option("vocab", "output logits: vocab (every token, as the code) or "
                                "answers (the task's classes)", str, choices=("vocab", "answers")),
             })
