"""Softmax Collapse, NLM alignment and zero-loss fractions against known numbers."""
import math

import pytest
import torch

from grokbench.api import EvalContext
from grokbench_plugins.grokking_metrics import nlm_alignment, softmax_collapse, zero_loss
from grokbench_plugins.modular import TASKS
from grokbench_plugins.stablemax import probabilities as stablemax_probabilities
from grokbench_plugins.torch_basics import sigmoid_probabilities, softmax_probabilities


def ctx_for_logits(logits, precision, probabilities=softmax_probabilities):
    """An evaluation of these training logits, trained with a loss computed in ``precision``."""
    task = TASKS[0]()
    n = len(logits)
    config = {"softmax_precision": precision, "loss_dtype": precision}
    return EvalContext(0, config, task, None, logits, torch.zeros(n, dtype=torch.long),
                       torch.zeros(n), None, None, [], [],
                       lambda out: probabilities(out, config))


def one_logit_above(d, n_classes=113):
    z = torch.zeros(1, n_classes, dtype=torch.float64)
    z[0, 0] = d
    return z


# Margins where SC first fires: one logit d above 112 equal ones. exp(-d) must fall below half
# an ulp of 1 divided by 112: d > ln(112 · 2^11) = 12.35 (float16), ln(112 · 2^24) = 19.35
# (float32), ln(112 · 2^53) = 41.5 minus rounding slack (float64; 40.1 measured).
@pytest.mark.parametrize("precision,margin", [("float16", 12.4), ("float32", 19.3), ("float64", 40.1)])
def test_softmax_collapse_fires_at_the_precision_margin(precision, margin):
    below = softmax_collapse(ctx_for_logits(one_logit_above(margin - 0.15), precision))
    above = softmax_collapse(ctx_for_logits(one_logit_above(margin + 0.15), precision))
    # softmax CE: the loss's own view and the softmax view are the same test
    assert below["sc_fraction"] == below["sc_fraction_softmax"] == 0.0
    assert above["sc_fraction"] == above["sc_fraction_softmax"] == 1.0


def test_stablemax_runs_do_not_collapse_where_softmax_would():
    """StableMax's s(x) grows linearly: one logit 1e6 above 112 zeros gives the other classes
    s(0) / Σ s = 1 / (1e6 + 113) each, far from underflow in float64."""
    logits = torch.cat([one_logit_above(50.0), one_logit_above(1e6)])
    out = softmax_collapse(ctx_for_logits(logits, "float64", stablemax_probabilities))
    assert out["sc_fraction"] == 0.0
    assert out["sc_fraction_softmax"] == 1.0  # the softmax view of the same logits has collapsed


def test_bce_collapse_is_the_two_logit_softmax():
    """BCE's gradient σ(x) − y vanishes in float32 once σ(x) rounds to 1: x > ln(2^24) ≈ 16.6."""
    x = torch.tensor([[16.0], [17.5]], dtype=torch.float32)
    probs = sigmoid_probabilities(x, {"loss_dtype": None})
    assert probs.max(-1).values.tolist() == [pytest.approx(1 - math.exp(-16.0), rel=1e-6), 1.0]


def test_softmax_collapse_is_a_fraction_of_samples():
    logits = torch.cat([one_logit_above(5.0)] * 3 + [one_logit_above(30.0)])
    assert softmax_collapse(ctx_for_logits(logits, "float32"))["sc_fraction"] == 0.25


def test_nlm_cosine_is_one_for_gradient_along_minus_theta():
    w1, w2 = torch.randn(4, 3), torch.randn(5)
    ctx = EvalContext(0, {}, None, None, None, None, None, None, None,
                      [("a", w1), ("b", w2)], [-0.3 * w1, -0.3 * w2])
    out = nlm_alignment(ctx)
    assert out["nlm_cosine"] == pytest.approx(1.0)
    assert out["nlm_cosine/a"] == pytest.approx(1.0) and out["nlm_cosine/b"] == pytest.approx(1.0)
    assert out["weight_norm"] == pytest.approx(math.sqrt(w1.pow(2).sum() + w2.pow(2).sum()))


def test_nlm_cosine_zero_for_orthogonal_gradient_and_minus_one_for_plus_theta():
    w = torch.tensor([1.0, 0.0])
    for grad, want in ((torch.tensor([0.0, 2.0]), 0.0), (w * 5, -1.0)):
        ctx = EvalContext(0, {}, None, None, None, None, None, None, None, [("w", w)], [grad])
        assert nlm_alignment(ctx)["nlm_cosine"] == pytest.approx(want)


def test_zero_loss_fraction():
    ctx = EvalContext(0, {}, None, None, None, None, torch.tensor([0.0, 1e-30, 0.0, 2.0]),
                      None, None, [], [])
    assert zero_loss(ctx)["zero_loss_fraction"] == 0.5
