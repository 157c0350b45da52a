"""⊥Grad, the norm constraint and Grokfast against their definitions (docs/science.md,
"Optimizers and training methods")."""
import torch

from grokbench.config import resolve
from grokbench.engine import build_optimizer
from grokbench_plugins.grokfast import GrokfastEMA
from grokbench_plugins.norm_constraint import NormConstraint, global_norm
from grokbench_plugins.perpgrad import PerpGrad, project_out_parallel


def test_projection_is_orthogonal_and_norm_preserving():
    gen = torch.Generator().manual_seed(0)
    w, g = torch.randn(50, 20, generator=gen), torch.randn(50, 20, generator=gen)
    gp = project_out_parallel(w, g)
    assert abs((gp.flatten() @ w.flatten()).item()) < 1e-4 * gp.norm() * w.norm()
    assert torch.allclose(gp.norm(), g.norm(), rtol=1e-6)


def test_projection_edge_cases():
    w = torch.tensor([1.0, 2.0])
    assert torch.equal(project_out_parallel(w, -3 * w), torch.zeros(2))  # pure NLM direction
    g = torch.tensor([0.3, -0.7])
    assert torch.equal(project_out_parallel(torch.zeros(2), g), g)  # nothing to project on


def test_perpgrad_passes_every_base_hyperparameter(registry):
    # The StableMax code's ⊥AdamW dropped betas and eps (docs/science.md). Here the wrapper steps an optimizer
    # built from the full config, so an unusual β and ε change the result exactly as AdamW would.
    config = resolve(registry, "modadd", "perpgrad",
                     {"betas": [0.5, 0.6], "eps": 0.3, "lr": 0.1, "weight_decay": 0.0})
    w0 = torch.randn(7, 3, generator=torch.Generator().manual_seed(1))
    g = torch.randn(7, 3, generator=torch.Generator().manual_seed(2))

    model = torch.nn.Linear(3, 7, bias=False)
    with torch.no_grad():
        model.weight.copy_(w0)
    opt = build_optimizer(registry, model, config)
    assert isinstance(opt, PerpGrad)
    group = opt.param_groups[0]
    assert group["betas"] == (0.5, 0.6) and group["eps"] == 0.3
    model.weight.grad = g.clone()
    opt.step()

    # The same step by hand: project, then AdamW's first step with these β and ε.
    gp = project_out_parallel(w0, g)
    m, v = (1 - 0.5) * gp / (1 - 0.5), (1 - 0.6) * gp ** 2 / (1 - 0.6)
    expected = w0 - 0.1 * m / (v.sqrt() + 0.3)
    assert torch.allclose(model.weight.detach(), expected, atol=1e-6)


def test_norm_constraint_keeps_global_norm():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 30), torch.nn.ReLU(), torch.nn.Linear(30, 5))
    norm0 = global_norm(model.parameters()).item()
    opt = NormConstraint(torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.5))
    x, y = torch.randn(64, 10), torch.randn(64, 5)
    for _ in range(50):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        assert abs(global_norm(model.parameters()).item() - norm0) <= 1e-6 * norm0


def test_grokfast_ema_by_hand():
    p = torch.nn.Parameter(torch.zeros(2))
    opt = GrokfastEMA(torch.optim.SGD([p], lr=1.0), alpha=0.5, lamb=2.0)
    grads = [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])]
    # step 1: μ = g = [1, 0], g' = g + 2μ = [3, 0];  step 2: μ = [.5, .5], g' = [1, 2]
    expected = [torch.tensor([-3.0, 0.0]), torch.tensor([-4.0, -2.0])]
    for g, want in zip(grads, expected):
        p.grad = g.clone()
        opt.step()
        assert torch.allclose(p.detach(), want)
