"""The Fourier fingerprint of the modular arithmetic tasks (docs/science.md, "Fourier
fingerprint"): how many frequencies carry the operands' input embedding.

Nanda et al. 2023 (*Progress measures for grokking via mechanistic interpretability*, ICLR 2023)
found that a network that has generalized on a ∘ b mod p represents each operand a by a few
Fourier components cos(2πka/p), sin(2πka/p): the embedding, read as a function of the token
a = 0..p−1, is carried by a handful of frequencies k. A random initialization spreads its
energy evenly over all of them. A leaderboard that reports only steps cannot tell "faster to the
same solution" from "a different solution"; this metric shows which one a method found.

Definition. The metric applies when the run's config has an int ``p`` (modadd, modsub, modmul,
moddiv, modpoly) and the model has ``input_embedding(position) -> Tensor[vocab, d]``; at every
other evaluation it returns ``{}`` at once. The operand positions are (0, 1) for
``input_format`` "pair" (the default: tokens [a, b]) and (0, 2) for "equation" (tokens
[a, op, b, =]). For each operand position, E = ``input_embedding(position)[:p]`` (the rows of
tokens 0..p−1), detached, in float64; an embedding shared by both positions (the transformer's)
is counted once. One real DFT along the token axis gives F_k for k = 0..(p−1)/2 (p is an odd
prime), and the energy of frequency k is e_k = Σ |F_k|², summed over the embedding dimensions and
the operand positions. k = 0 is left out: F_0 is the mean embedding, the same vector added
whatever the operand's value, so it carries no information about the operand (it acts as a
bias). Fractions are of the non-constant energy Σ_{k≥1} e_k; when that is 0 (up to the DFT's
float64 rounding of a constant embedding) or not finite, the metric returns ``{}``.

- ``fourier_top5_energy``: the fraction of that energy in the 5 frequencies with the most of it.
- ``fourier_key_freqs``: the number of key frequencies, the fewest frequencies, taken from the
  largest energy down, whose energies together reach 90 % of it. A random initialization needs
  about 90 % of the (p−1)/2 frequencies (50 of 56 at p = 113, measured in tests/test_fourier.py);
  grokked networks need few (modadd at p = 113: 6 after ⊥AdamW, 14 after AdamW with weight
  decay). 90 %, not 99 %: a grokked embedding's key frequencies hold 93–95 % of the energy, and
  the rest is spread thinly over all the others, which a 99 % threshold would count (25 and 35).
- ``fourier_top_freq``: the frequency k with the most energy (the lowest such k on a tie), as a
  float.
"""
import math

import torch

from grokbench import UserError, hookimpl

#: operand token positions of each input format of the modular tasks
OPERAND_POSITIONS = {"pair": (0, 1), "equation": (0, 2)}
KEY_FRACTION = 0.9  # key frequencies: the fewest, largest first, holding 90 % of the energy
TOP = 5
#: non-constant energy at most this fraction of the whole counts as none: a constant embedding's
#: DFT leaks ~1e-31 of its energy to k ≥ 1 in float64; any real variation, even of one float16
#: ulp (1e-3), is > 1e-7
ROUNDING = 1e-20


def fourier_fingerprint(ctx) -> dict[str, float]:
    p = ctx.config.get("p")
    embedding = getattr(ctx.model, "input_embedding", None)
    if not isinstance(p, int) or isinstance(p, bool) or p < 2 or not callable(embedding):
        return {}
    fmt = ctx.config.get("input_format", "pair")
    if fmt not in OPERAND_POSITIONS:
        raise UserError(f"the Fourier fingerprint does not know input_format {fmt!r}; add its operand "
                        f"positions to OPERAND_POSITIONS in grokbench_plugins.fourier (known: "
                        f"{', '.join(OPERAND_POSITIONS)})")
    blocks, seen = [], set()
    with torch.no_grad():
        for pos in OPERAND_POSITIONS[fmt]:
            try:
                table = embedding(pos)
            except UserError:  # e.g. an MLP on feature inputs: no token embedding to read
                return {}
            key = (table.data_ptr(), tuple(table.shape), table.stride())
            if key in seen:  # one embedding shared by the positions (the transformer's): once
                continue
            seen.add(key)
            if table.ndim != 2 or table.shape[0] < p:
                return {}
            blocks.append(table[:p].detach().to(torch.float64))
        # [p, d·positions] → one real DFT along the token axis; bin 0 (the constant) is left out
        spectrum = torch.fft.rfft(torch.cat(blocks, dim=1), dim=0)
        power = spectrum.abs().square().sum(dim=1)
        energy = power[1:]  # e_k for k = 1..p // 2
        total = energy.sum().item()
        # no variation over the tokens: 0, or only the DFT's float64 rounding of a constant
        if not (total > ROUNDING * power.sum().item() and math.isfinite(total)):
            return {}
        ordered = energy.sort(descending=True).values
        cumulative = ordered.cumsum(0)
        key_freqs = int((cumulative < KEY_FRACTION * total).sum().item()) + 1
        return {
            "fourier_top5_energy": cumulative[min(TOP, len(ordered)) - 1].item() / total,
            "fourier_key_freqs": float(min(key_freqs, len(ordered))),
            "fourier_top_freq": float(int(energy.argmax().item()) + 1),
        }


@hookimpl
def register_metrics(register):
    register("fourier", fourier_fingerprint,
             "modular tasks: the operand embedding's energy share in its top 5 Fourier frequencies, "
             "its key frequencies (those holding 90 %) and its strongest one (Nanda et al. 2023)")
