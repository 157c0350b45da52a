"""Softmax Collapse, NLM alignment and zero-loss fractions against known numbers (SPEC §3)."""
import math

import pytest
import torch

from grokbench.api import EvalContext
from grokbench_plugins.grokking_metrics import nlm_alignment, softmax_collapse, zero_loss
from grokbench_plugins.modular import TASKS


def ctx_for_logits(logits, precision):
    task = TASKS[0]()
    n = len(logits)
    return EvalContext(0, {"softmax_precision": precision}, task, None, logits,
                       torch.zeros(n, dtype=torch.long), torch.zeros(n), None, None, [], [])


def one_logit_above(d, n_classes=113):
    z = torch.zeros(1, n_classes, dtype=torch.float64)
    z[0, 0] = d
    return z


# Measured margins where SC first fires: one logit d above 112 equal ones (SPEC §3).
@pytest.mark.parametrize("precision,margin", [("float16", 12.4), ("float32", 19.3), ("float64", 40.1)])
def test_softmax_collapse_fires_at_the_precision_margin(precision, margin):
    below = ctx_for_logits(one_logit_above(margin - 0.15), precision)
    above = ctx_for_logits(one_logit_above(margin + 0.15), precision)
    assert softmax_collapse(below)["sc_fraction"] == 0.0
    assert softmax_collapse(above)["sc_fraction"] == 1.0


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
