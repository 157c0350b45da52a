"""The Fourier fingerprint (docs/science.md, "Fourier fingerprint") on hand-built networks whose
frequencies are known, on random initializations, and in real runs."""
import math

import pytest
import torch

from grokbench.api import EvalContext
from grokbench.config import resolve
from grokbench.engine import run
from grokbench_plugins.fourier import fourier_fingerprint
from grokbench_plugins.mlp import MLP
from grokbench_plugins.transformer import Transformer

KEYS = {"fourier_top5_energy", "fourier_key_freqs", "fourier_top_freq"}


def ctx_for(model, config):
    """An evaluation of ``model``: the fingerprint reads only the config and the model."""
    return EvalContext(0, config, None, model, None, None, None, None, None, [], [])


def waves(p, k, amplitude=1.0, phase=0.0):
    """[2, p]: cos and sin of 2πka/p + phase over the tokens a = 0..p−1."""
    angle = 2 * math.pi * k * torch.arange(p, dtype=torch.float64) / p + phase
    return amplitude * torch.stack([angle.cos(), angle.sin()])


def mlp_with_frequencies(p, amplitudes, seq_len=2, vocab_size=None, operands=(0, 1), width=16):
    """A token MLP whose first layer reads each operand position through cos/sin units of the
    frequencies in ``amplitudes`` ({k: amplitude}); every other weight column is zero."""
    vocab = vocab_size or p
    model = MLP(vocab * seq_len, p, width, 1, "relu", False, vocab_size=vocab, seq_len=seq_len)
    weight = torch.zeros(width, vocab * seq_len, dtype=torch.float64)
    unit = 0
    for pos in operands:
        for i, (k, amp) in enumerate(amplitudes.items()):
            weight[unit:unit + 2, pos * vocab:pos * vocab + p] = waves(p, k, amp, phase=0.3 * i + pos)
            unit += 2
    with torch.no_grad():
        model.layers[0].weight.copy_(weight)
    return model


def test_a_network_built_on_two_frequencies_has_two_key_frequencies():
    p = 37
    out = fourier_fingerprint(ctx_for(mlp_with_frequencies(p, {3: 1.0, 17: 1.0}), {"p": p}))
    assert out.keys() == KEYS
    assert out["fourier_key_freqs"] == 2
    assert out["fourier_top5_energy"] == pytest.approx(1.0, abs=1e-9)
    assert out["fourier_top_freq"] in (3.0, 17.0)
    # with unequal amplitudes the strongest frequency is the louder one, whichever it is
    for amplitudes, loudest in (({3: 1.0, 17: 2.0}, 17.0), ({3: 1.5, 17: 1.0}, 3.0)):
        out = fourier_fingerprint(ctx_for(mlp_with_frequencies(p, amplitudes), {"p": p}))
        assert out["fourier_top_freq"] == loudest and out["fourier_key_freqs"] == 2


def test_key_frequencies_are_the_fewest_that_hold_90_percent():
    """Energies (amplitudes squared) 8.5 : 1 : 0.5: the loudest holds 85 %, two hold 95 %;
    7.5 : 1 : 1 : 0.5 needs three (75, 85, 95 %)."""
    p = 37
    model = mlp_with_frequencies(p, {5: math.sqrt(8.5), 9: 1.0, 11: math.sqrt(0.5)})
    out = fourier_fingerprint(ctx_for(model, {"p": p}))
    assert out["fourier_key_freqs"] == 2 and out["fourier_top_freq"] == 5.0
    assert out["fourier_top5_energy"] == pytest.approx(1.0, abs=1e-9)
    model = mlp_with_frequencies(p, {5: math.sqrt(7.5), 9: 1.0, 11: 1.0, 13: math.sqrt(0.5)})
    assert fourier_fingerprint(ctx_for(model, {"p": p}))["fourier_key_freqs"] == 3


def test_the_constant_component_is_not_counted():
    p = 37
    model = mlp_with_frequencies(p, {4: 1.0})
    with torch.no_grad():
        model.layers[0].weight[-1] = 100.0  # one unit: the same large value for every token
    out = fourier_fingerprint(ctx_for(model, {"p": p}))
    assert out["fourier_key_freqs"] == 1 and out["fourier_top_freq"] == 4.0
    assert out["fourier_top5_energy"] == pytest.approx(1.0, abs=1e-9)


def test_random_init_spreads_energy_over_most_frequencies(registry):
    """p = 113 has 56 frequencies. The StableMax-code MLP (width 200, built by the registered
    builder) at its init: 50 key frequencies and a top-5 share of 0.097 for seeds 0–4 (5 of 56
    equal frequencies would hold 0.089)."""
    p = 113
    config = resolve(registry, "modadd", "baseline", {"p": p})
    task = registry.get("tasks", "modadd").obj()
    info = task.load(config).info
    for seed in range(3):
        torch.manual_seed(seed)
        model = registry.get("models", "mlp").obj(info, config)
        out = fourier_fingerprint(ctx_for(model, config))
        assert out["fourier_key_freqs"] >= 40, out
        assert out["fourier_top5_energy"] < 0.2, out


def test_the_transformer_embedding_is_read_once_and_the_equals_token_ignored():
    p, k = 31, 7
    torch.manual_seed(0)
    model = Transformer(p, 2, p, 16, 2, 32, 1)
    with torch.no_grad():
        model.embed.weight.zero_()
        model.embed.weight[:p, :2] = waves(p, k).t()
        model.embed.weight[:p, 5:7] = waves(p, k, 0.5, phase=1.0).t()
        model.embed.weight[p] = torch.randn(16) * 10  # the "=" token: not an operand
    out = fourier_fingerprint(ctx_for(model, {"p": p}))
    assert out["fourier_top_freq"] == float(k) and out["fourier_key_freqs"] == 1
    assert out["fourier_top5_energy"] == pytest.approx(1.0, abs=1e-9)
    torch.manual_seed(0)
    random_init = fourier_fingerprint(ctx_for(Transformer(p, 2, p, 128, 4, 512, 1), {"p": p}))
    assert random_init["fourier_key_freqs"] >= 0.75 * (p - 1) // 2


def test_equation_format_reads_operand_positions_0_and_2():
    """Tokens [a, op, b, =] with 2 extra token ids: the op and = positions carry noise that must
    not be read, and token ids p, p + 1 are not operands."""
    p = 29
    model = mlp_with_frequencies(p, {6: 1.0}, seq_len=4, vocab_size=p + 2, operands=(0, 2))
    with torch.no_grad():
        weight = model.layers[0].weight
        noise = torch.randn(weight.shape[0], p + 2, generator=torch.Generator().manual_seed(0))
        for pos in (1, 3):
            weight[:, pos * (p + 2):(pos + 1) * (p + 2)] = noise
        weight[:, p:p + 2] = noise[:, :2]  # the op/= ids' columns at operand position 0
    out = fourier_fingerprint(ctx_for(model, {"p": p, "input_format": "equation"}))
    assert out["fourier_top_freq"] == 6.0 and out["fourier_key_freqs"] == 1
    noisy = fourier_fingerprint(ctx_for(model, {"p": p, "input_format": "pair"}))
    assert noisy["fourier_key_freqs"] > 1  # position 1 is the noisy op token


def test_it_does_not_apply_without_p_or_a_token_embedding():
    p = 23
    model = mlp_with_frequencies(p, {2: 1.0})
    assert fourier_fingerprint(ctx_for(model, {"task": "parity", "k": 3, "n": 40})) == {}
    assert fourier_fingerprint(ctx_for(model, {"p": 0.5})) == {}          # not an int
    assert fourier_fingerprint(ctx_for(torch.nn.Linear(4, 4), {"p": p})) == {}  # no embedding
    features = MLP(10, 3, 8, 1, "relu", False)  # feature inputs: input_embedding refuses
    assert fourier_fingerprint(ctx_for(features, {"p": p})) == {}
    for value in (0.0, 0.25):  # no energy, or only the constant component (up to rounding)
        with torch.no_grad():
            model.layers[0].weight.fill_(value)
        assert fourier_fingerprint(ctx_for(model, {"p": p})) == {}


def test_real_runs_record_it_on_modular_tasks_only(registry):
    parity = run(resolve(registry, "parity", "baseline", {"steps": 2, "n_samples": 200}),
                 progress=False)
    assert parity["status"] == "finished"
    assert all(not KEYS & record.keys() for record in parity["curve"])
    modadd = run(resolve(registry, "modadd", "wd", {"steps": 3, "p": 23}), progress=False)
    assert modadd["status"] == "finished" and len(modadd["curve"]) == 4
    for record in modadd["curve"]:
        assert KEYS <= record.keys()
        assert 0 < record["fourier_top5_energy"] <= 1
        assert 1 <= record["fourier_key_freqs"] <= 11 and 1 <= record["fourier_top_freq"] <= 11
