"""StableMax and the plain losses against hand-computed values."""
import math

import pytest
import torch

from grokbench_plugins.stablemax import s, stablemax, stablemax_cross_entropy


def test_s_is_piecewise_linear_and_reciprocal():
    x = torch.tensor([2.0, 0.0, -1.0, -3.0], dtype=torch.float64)
    assert s(x).tolist() == [3.0, 1.0, 0.5, 0.25]


def test_stablemax_by_hand():
    # s = [3, 1, 0.5] -> sum 4.5 -> probabilities [2/3, 2/9, 1/9]
    x = torch.tensor([[2.0, 0.0, -1.0]], dtype=torch.float64)
    assert torch.allclose(stablemax(x), torch.tensor([[2 / 3, 2 / 9, 1 / 9]], dtype=torch.float64))
    loss = stablemax_cross_entropy(x, torch.tensor([0]))
    assert loss.item() == pytest.approx(math.log(4.5 / 3))
    loss = stablemax_cross_entropy(x, torch.tensor([2]))
    assert loss.item() == pytest.approx(math.log(9.0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("value", [1.0, -1.0, 1e6, -1e6])
def test_stablemax_gradient_is_finite(dtype, value):
    # The StableMax code's torch.where(x >= 0, x + 1, 1 / (1 - x)) has a NaN gradient at x = 1 in float32.
    x = torch.tensor([[value, 0.5, -2.0]], dtype=dtype, requires_grad=True)
    stablemax_cross_entropy(x, torch.tensor([1])).backward()
    assert torch.isfinite(x.grad).all()


def test_stablemax_gradient_by_hand():
    # L = log(Σ s) − log s_y; for x = [1, 0], y = 0: s = [2, 1], ∂L/∂x0 = 1/3 − 1/2, ∂L/∂x1 = 1/3
    x = torch.tensor([[1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    stablemax_cross_entropy(x, torch.tensor([0])).backward()
    assert torch.allclose(x.grad, torch.tensor([[1 / 3 - 1 / 2, 1 / 3]], dtype=torch.float64))


def test_stablemax_loss_registered_in_float64(registry):
    entry = registry.get("losses", "stablemax")
    fn = entry.obj({"loss_dtype": entry.options["loss_dtype"].default})
    out = fn(torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0]))
    assert out.dtype == torch.float64 and out.item() == pytest.approx(math.log(1.5))


def test_mse_against_one_hot(registry):
    fn = registry.get("losses", "mse").obj({"loss_dtype": None})
    out = fn(torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), torch.tensor([0, 2]))
    assert out.tolist() == pytest.approx([0.0, 1 / 3])


def test_ce_in_selected_dtype(registry):
    fn = registry.get("losses", "ce").obj({"loss_dtype": "float64"})
    out = fn(torch.zeros(1, 4), torch.tensor([1]))
    assert out.dtype == torch.float64 and out.item() == pytest.approx(math.log(4))


def test_stablemax_on_a_regression_task_is_a_user_error(registry):
    from grokbench.errors import UserError
    fn = registry.get("losses", "stablemax").obj({"loss_dtype": "float64"})
    with pytest.raises(UserError, match="needs class labels"):
        fn(torch.zeros(4, 5), torch.zeros(4, 5))
