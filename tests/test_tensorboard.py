"""The bundled TensorBoard logger: a real run writes event files, read back with TensorBoard's
own EventAccumulator, holding the same numbers as the run's curve."""
import sys

import pytest

from grokbench.config import resolve
from grokbench.errors import UserError


def test_set_loggers_parses_to_a_list(registry):
    from grokbench.config import parse_assignments
    cfg = resolve(registry, "modadd", "baseline",
                  parse_assignments(["loggers=tensorboard", "log_dir=runs/"]))
    assert cfg["loggers"] == ["tensorboard"] and cfg["log_dir"] == "runs/"
    # a list of words, and list settings given by a method keep working
    assert resolve(registry, "modadd", "baseline", parse_assignments(["loggers=a,b"]))["loggers"] == ["a", "b"]
    assert resolve(registry, "modadd", "perpgrad")["wrappers"] == ["perpgrad"]


def test_run_writes_scalars_read_back_by_tensorboard(registry, tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard not installed (pip install tensorboard)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from grokbench.config import run_id
    from grokbench.engine import run
    cfg = resolve(registry, "modadd", "baseline",
                  {"p": 7, "steps": 12, "eval_every": 5, "threads": 1, "loggers": "tensorboard",
                   "log_dir": str(tmp_path / "runs")})
    result = run(cfg, progress=False)
    folders = list((tmp_path / "runs").iterdir())
    assert [f.name for f in folders] == [f"modadd-baseline-seed0-{run_id(cfg)}"]
    acc = EventAccumulator(str(folders[0]), size_guidance={"scalars": 0}).Reload()
    tags = acc.Tags()["scalars"]
    for key in ("train_acc", "test_acc", "train_loss", "test_loss", "sc_fraction", "weight_norm",
                "nlm_cosine"):
        assert key in tags, key
    evals = [r for r in result["curve"] if "train_acc" in r]
    for key in ("test_acc", "train_loss", "sc_fraction"):
        events = acc.Scalars(key)
        assert [e.step for e in events] == [r["step"] for r in evals]
        # event files store float32
        assert [e.value for e in events] == pytest.approx([r[key] for r in evals], rel=1e-6)
    assert any(t.startswith("nlm_cosine/") for t in tags)  # per-tensor alignment too
    # logging does not change the run's identity: the same run with no logger has the same id
    assert result["run_id"] == run_id(resolve(registry, "modadd", "baseline",
                                              {"p": 7, "steps": 12, "eval_every": 5}))


def test_missing_tensorboard_is_a_user_error(registry, tmp_path, monkeypatch):
    # What an environment without the package looks like to an import statement.
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    build = registry.get("loggers", "tensorboard").obj
    with pytest.raises(UserError, match="pip install tensorboard"):
        build("abc", {"task": "modadd", "method": "baseline", "seed": 0}, str(tmp_path))
