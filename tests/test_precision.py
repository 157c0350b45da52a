"""Mixed precision as users run it (torch.autocast over float32 master weights), a setting of
every run, whose default leaves the committed runs and their ids as they were."""
import pytest
import torch

from grokbench.config import resolve, run_id
from grokbench.engine import run
from grokbench.errors import NotApplicable

TINY = {"p": 11, "steps": 3, "eval_every": 1, "threads": 1}


def test_the_first_evaluation_is_the_initial_model_under_autocast(registry):
    """Step 0 evaluates the initial weights: under bf16-mixed its training loss is the loss of
    the same weights with the forward pass autocast to bfloat16 (computed here by hand), which
    differs from the float32 loss of the pure run, while the initial weights are the same."""
    pure = run(resolve(registry, "modadd", "baseline", TINY), progress=False)["curve"]
    mixed_cfg = resolve(registry, "modadd", "baseline", {**TINY, "precision": "bf16-mixed"})
    mixed = run(mixed_cfg, progress=False)["curve"]
    assert mixed[0]["weight_norm"] == pure[0]["weight_norm"]
    assert mixed[0]["train_loss"] != pure[0]["train_loss"]

    from grokbench.api import derive_seed
    task = registry.get("tasks", "modadd").obj()
    torch.manual_seed(derive_seed(0, "data"))
    data = task.load(mixed_cfg)
    torch.manual_seed(derive_seed(0, "model"))
    model = registry.get("models", "mlp").obj(data.info, mixed_cfg)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(data.train_x)
        by_hand = torch.nn.functional.cross_entropy(out, data.train_y, reduction="none")
    assert out.dtype == torch.bfloat16 and by_hand.dtype == torch.float32
    assert mixed[0]["train_loss"] == pytest.approx(by_hand.double().mean().item(), rel=1e-6)


@pytest.mark.parametrize("precision", ["bf16-mixed", "fp16-mixed"])
@pytest.mark.parametrize("method", ["baseline", "perpgrad", "stablemax", "grokfast", "muon", "norm"])
def test_every_bundled_modular_method_trains_in_mixed_precision(registry, precision, method):
    result = run(resolve(registry, "modadd", method, {**TINY, "precision": precision}), progress=False)
    assert result["status"] == "finished"
    assert all(0 <= e["train_acc"] <= 1 for e in result["curve"])


def test_mixed_precision_needs_float32_master_weights(registry):
    with pytest.raises(NotApplicable, match="keeps float32 master weights"):
        resolve(registry, "modadd", "float64", {"precision": "bf16-mixed"})
    with pytest.raises(NotApplicable, match="dtype=bfloat16"):
        resolve(registry, "modadd", "baseline", {"precision": "fp16-mixed", "dtype": "bfloat16"})


def test_pure_precision_keeps_the_run_id(registry):
    config = resolve(registry, "modadd", "wd", {"p": 97})
    assert config["precision"] == "pure"
    assert run_id(config) == run_id({k: v for k, v in config.items() if k != "precision"})
    assert run_id({**config, "precision": "bf16-mixed"}) != run_id(config)
