"""The run engine end to end on small real runs: determinism, known paper numbers, NaN
handling, settings resolution and the command line as a user meets it."""
import json
import math
import subprocess
import sys

import pytest
import torch

from grokbench import hookimpl
from grokbench.config import resolve, run_id
from grokbench.engine import run
from grokbench.errors import UserError
from grokbench.registry import Registry
from grokbench_plugins.mlp import build_mlp

SMALL = {"p": 23, "steps": 40, "eval_every": 20}


def test_same_config_same_curve(registry):
    config = resolve(registry, "modadd", "perpgrad", SMALL)
    a, b = run(config, progress=False), run(config, progress=False)
    assert a["curve"] == b["curve"] and a["run_id"] == b["run_id"]
    other = run(resolve(registry, "modadd", "perpgrad", dict(SMALL, seed=1)), progress=False)
    assert other["curve"] != a["curve"]


def test_perpgrad_groks_modadd_fast_as_in_the_paper_and_early_stop_changes_no_score(registry):
    # Prieto et al.: ⊥AdamW, CE, fp32, p = 113: test ≈ 100 % by ~110–175 steps.
    config = resolve(registry, "modadd", "perpgrad", {"steps": 300, "eval_every": 25})
    result = run(config, progress=False)
    assert result["scores"]["steps_to_generalize"] <= 300
    assert result["scores"]["final_test_acc"] >= 0.95
    # The same run stopped at its decision point (fit, target reached and held for 3
    # evaluations) trains fewer steps and scores exactly the same.
    stopped = run(resolve(registry, "modadd", "perpgrad",
                          {"steps": 300, "eval_every": 25, "early_stop": True}), progress=False)
    assert stopped["status"] == "stopped_early"
    assert stopped["scores"]["steps_run"] == result["scores"]["decided_at"] < 300
    timing = {"wall_time", "cpu_time", "steps_per_s", "steps_run"}
    assert ({k: v for k, v in stopped["scores"].items() if k not in timing}
            == {k: v for k, v in result["scores"].items() if k not in timing})
    assert stopped["curve"] == result["curve"][:len(stopped["curve"])]


def test_a_censored_run_uses_its_whole_budget_with_early_stop(registry):
    result = run(resolve(registry, "modadd", "baseline", dict(SMALL, early_stop=True)),
                 progress=False)
    assert math.isinf(result["scores"]["steps_to_generalize"])
    assert result["status"] == "finished" and result["scores"]["steps_run"] == SMALL["steps"]


def test_nonfinite_run_is_recorded_not_raised(registry):
    config = resolve(registry, "modadd", "baseline",
                     dict(SMALL, optimizer="sgd", lr=1e30, momentum=0.0))
    result = run(config, progress=False)
    assert result["status"] == "nonfinite" and result["scores"]["nonfinite"]
    assert math.isinf(result["scores"]["steps_to_generalize"])
    assert result["scores"]["steps_run"] < 40


def test_init_scale_multiplies_every_parameter(registry):
    base = run(resolve(registry, "modadd", "baseline", dict(SMALL, steps=0)), progress=False)
    big = run(resolve(registry, "modadd", "baseline", dict(SMALL, steps=0, init_scale=3.0)),
              progress=False)
    assert big["curve"][0]["weight_norm"] == pytest.approx(3 * base["curve"][0]["weight_norm"])


def test_float64_method_trains_in_float64(registry):
    config = resolve(registry, "modadd", "float64+perpgrad", SMALL)
    assert config["dtype"] == "float64" and config["softmax_precision"] == "float64"
    assert run(config, progress=False)["status"] == "finished"


def test_transformer_and_other_tasks_run(registry):
    for task, method, extra in [("modadd", "wd", {"model": "transformer"}), ("moddiv", "baseline", {}),
                                ("parity", "stablemax", {"n_samples": 200}),
                                ("teacher-student", "baseline", {})]:
        over = dict(SMALL, **extra) if task.startswith("mod") else dict(steps=20, eval_every=10, **extra)
        result = run(resolve(registry, task, method, over), progress=False)
        assert result["status"] == "finished" and len(result["curve"]) > 3, task


def test_methods_compose_and_conflicts_are_explained(registry):
    # ⊥Grad's ε 1e-8 and StableMax's modadd recipe's ε 1e-25 are settled on the command line
    config = resolve(registry, "modadd", "perpgrad+stablemax+grokfast", {"eps": 1e-25})
    assert config["wrappers"] == ["perpgrad", "grokfast"] and config["loss"] == "stablemax"
    # named in the canonical order, however the combination was spelled
    with pytest.raises(UserError, match="'norm' and 'wd' conflict on weight_decay"):
        resolve(registry, "modadd", "wd+norm")
    # A method's recipe for the task applies (norm's for the modular tasks: α = 3), and the
    # command line still wins.
    assert resolve(registry, "modadd", "norm")["init_scale"] == 3.0
    assert resolve(registry, "modadd", "norm", {"init_scale": 1})["init_scale"] == 1.0
    # An explicit choice settles the conflict.
    assert resolve(registry, "modadd", "wd+norm", {"weight_decay": 0.1})["weight_decay"] == 0.1
    # A method's recipe for the task is that method's setting too: Grokfast's modadd recipe
    # (γ 0.005) against wd's γ 1 is a conflict, not whichever layer comes last...
    with pytest.raises(UserError, match=r"methods 'grokfast' \(its recipe for modadd\) and 'wd' "
                                        r"conflict on weight_decay \(0.005 vs 1.0\); drop one or "
                                        r"choose with --set weight_decay=VALUE"):
        resolve(registry, "modadd", "grokfast+wd")
    with pytest.raises(UserError, match=r"'perpgrad' and 'stablemax' \(its recipe for modadd\) "
                                        r"conflict on eps"):
        resolve(registry, "modadd", "perpgrad+stablemax")
    # ... where the recipes agree (teacher-student: both 0.05) there is none, and the value is
    # the one every layer gives; a recipe may change its own method's settings
    assert resolve(registry, "teacher-student", "grokfast+wd")["weight_decay"] == 0.05
    assert resolve(registry, "modadd", "grokfast+perpgrad")["weight_decay"] == 0.005
    assert resolve(registry, "modadd", "grokfast+wd", {"weight_decay": 1})["weight_decay"] == 1.0


def test_unknown_settings_are_errors_with_a_hint(registry):
    with pytest.raises(UserError, match="did you mean 'weight_decay'"):
        resolve(registry, "modadd", "baseline", {"weight_decy": 1.0})
    with pytest.raises(UserError, match="unknown task 'modad'"):
        resolve(registry, "modad")
    with pytest.raises(UserError, match="p must be a prime"):
        run(resolve(registry, "modadd", "baseline", dict(SMALL, p=24)), progress=False)


def test_run_id_ignores_threads_only(registry):
    a = resolve(registry, "modadd", "baseline", SMALL)
    assert run_id(a) == run_id(dict(a, threads=1)) != run_id(dict(a, seed=5))


def test_one_value_two_spellings_one_run(registry):
    a = resolve(registry, "modadd", "baseline", {"weight_decay": 0})
    assert run_id(a) == run_id(resolve(registry, "modadd", "baseline", {"weight_decay": 0.0}))
    assert resolve(registry, "modadd", "baseline", {"wrappers": "perpgrad,grokfast"})["wrappers"] == \
        ["perpgrad", "grokfast"]


def test_spellings_of_one_method_combination_are_one_run(registry):
    ids = {m: run_id(resolve(registry, "modadd", m, SMALL))
           for m in ("wd+perpgrad", "perpgrad+wd", " perpgrad + wd ", "wd+wd+perpgrad", "perpgrad+wd+")}
    assert len(set(ids.values())) == 1, ids
    assert resolve(registry, "modadd", "wd+perpgrad")["method"] == "perpgrad+wd"
    assert resolve(registry, "modadd", "wd+")["method"] == "wd"
    assert run_id(resolve(registry, "modadd", "wd+")) == run_id(resolve(registry, "modadd", "wd"))
    # Wrappers stack in the order written (the first sees the gradient first): another run.
    a = resolve(registry, "modadd", "perpgrad+grokfast+wd", {"weight_decay": 1})
    b = resolve(registry, "modadd", "wd+grokfast+perpgrad", {"weight_decay": 1})
    assert a["wrappers"] == ["perpgrad", "grokfast"] and b["wrappers"] == ["grokfast", "perpgrad"]
    assert (a["method"], b["method"]) == ("perpgrad+grokfast+wd", "grokfast+perpgrad+wd")
    assert run_id(a) != run_id(b)
    assert resolve(registry, "modadd", "grokfast+wd+perpgrad", {"weight_decay": 1})["method"] == b["method"]


def test_settings_take_the_type_of_their_default(registry):
    def rid(**overrides):
        return run_id(resolve(registry, "modadd", "baseline", overrides))
    assert rid(weight_decay=0) == rid(weight_decay=0.0) == rid(weight_decay="0")
    assert rid(bias=True) == rid(bias=1) == rid(bias="true") != rid(bias=0) == rid(bias=False)
    assert rid(p=23) == rid(p=23.0) == rid(p="23")
    assert rid(betas=[0, 0.9]) == rid(betas=[0.0, 0.9]) and rid(batch_size=32) == rid(batch_size=32.0)
    for bad, match in [({"lr": "abc"}, "lr must be a number ≥ 0 (grokbench setting: learning rate); got 'abc'"),
                       ({"weight_decay": True}, "weight_decay must be a number ≥ 0"),
                       ({"p": 23.5}, "p must be an int ≥ 2 (task modadd option: "),
                       ({"bias": 2}, "bias must be true or false (model mlp option: "),
                       ({"betas": "x,y"}, "betas must be a list of numbers in [0, 1) (grokbench setting"),
                       ({"seed": 2**63}, "seed must be an int in [-9223372036854775808, 9223372036854775807]"),
                       ({"steps": -5}, "steps must be an int ≥ 0 (grokbench setting")]:
        with pytest.raises(UserError) as exc:
            resolve(registry, "modadd", "baseline", bad)
        assert match in str(exc.value)


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "grokbench", *args], capture_output=True,
                          text=True, env=env)


def test_cli_run_json_store_and_show(tmp_path):
    store = tmp_path / "r.db"
    out = cli("run", "--task", "modadd", "--method", "perpgrad", "--steps", "30", "--set", "p=23",
              "--threads", "1", "--store", str(store), "--json", "--quiet")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["config"]["p"] == 23 and result["scores"]["steps_run"] == 30
    assert result["scores"]["steps_to_generalize"] in ("inf",) or result["scores"]["steps_to_generalize"] <= 30
    assert result["curve"][0]["step"] == 0 and "sc_fraction" in result["curve"][0]
    shown = cli("show", result["run_id"][:8], "--store", str(store))
    assert shown.returncode == 0 and result["run_id"] in shown.stdout
    # the same run again is read from the store, not retrained
    again = cli("run", "--task", "modadd", "--method", "perpgrad", "--steps", "30", "--set", "p=23",
                "--store", str(store), "--json", "--quiet")
    assert "stored result" in again.stderr and json.loads(again.stdout)["curve"] == result["curve"]
    curve_file = tmp_path / "curve.json"
    sep = cli("run", "--task", "modadd", "--steps", "10", "--set", "p=23", "--no-store", "--json",
              "--quiet", "--curve-file", str(curve_file))
    assert "curve" not in json.loads(sep.stdout) and json.loads(curve_file.read_text())[0]["step"] == 0


@pytest.mark.parametrize("args,fix", [
    (["run", "--task", "nope"], "grokbench list tasks"),
    (["run", "--task", "modadd", "--set", "weight_decy=1"], "did you mean"),
    (["run", "--task", "modadd", "--method", "wd+norm"], "--set weight_decay=VALUE"),
    (["run", "--task", "modadd", "--set", "p"], "key=value"),
    (["show", "deadbeef"], "there is no results store"),  # a read command creates none
    (["run", "--task", "modadd", "--set", "lr=abc"], "--set lr="),
    (["run", "--task", "modadd", "--set", "betas=x,y"], "--set betas=0.9,"),
    # refused before training: a seed the store cannot keep, a negative budget
    (["run", "--task", "modadd", "--seed", str(2**63)], "--seed 0"),
    (["run", "--task", "modadd", "--steps", "-5"], "--steps 1000"),
    (["sweep", "--task", "modadd", "--seeds", f"0,{2**64}"], "--seed 0"),
    # out of range or not there: refused before any data is loaded or any step trained
    (["run", "--task", "modadd", "--eval-every", "-10"], "--eval-every 100"),
    (["run", "--task", "modadd", "--device", "nonsense"], "--device cpu"),
    (["run", "--task", "modadd", "--device", "mps"], "--device cpu"),
    (["run", "--task", "modadd", "--set", "p=23", "--set", "train_frac=0.9999"], "train_frac further from 0 and 1"),
    (["run", "--task", "modadd", "--dtype", "float16"], "--set eps=1e-4"),
    (["sweep", "--task", "modadd", "--set", "batch_size=0"], "--batch-size 32"),
])
def test_bad_input_is_one_line_without_traceback(args, fix, tmp_path):
    store = tmp_path / "r.db"
    out = cli(*args, "--store", str(store)) if args[0] != "run" else cli(*args, "--no-store")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert fix in out.stderr
    if args[0] == "sweep":
        assert not store.exists()  # refused before the store, let alone a run, was touched


def test_mlp_token_gather_equals_one_hot_linear(registry):
    from grokbench.api import TaskInfo
    info = TaskInfo("classification", 7, "tokens", vocab_size=7, seq_len=2)
    config = resolve(registry, "modadd", "baseline", {"p": 7, "bias": True})
    model = registry.get("models", "mlp").obj(info, config)
    x = torch.tensor([[0, 6], [3, 3], [5, 1]])
    one_hot = torch.nn.functional.one_hot(x, 7).flatten(1).float()
    h = model.layers[0](one_hot)
    for layer in model.layers[1:]:
        h = layer(model.act(h))
    assert torch.allclose(model(x), h, atol=1e-6)


class CheatingMetric:
    @hookimpl
    def register_metrics(self, register):
        register("acme_acc", lambda ctx: {"acme_acc": 0.5, "test_acc": 1.0}, "overwrites test_acc")


class FailingMetric:
    @hookimpl
    def register_metrics(self, register):
        register("acme_fail", lambda ctx: {"x": 1 / 0}, "raises")


class OwnNamesMetric:
    @hookimpl
    def register_metrics(self, register):
        register("acme_ok", lambda ctx: {"acme_ok/norm": 1.0}, "names of its own")


@pytest.mark.parametrize("plugin, message", [
    (CheatingMetric(), "metric 'acme_acc' (plugin 'acme') returns test_acc, already recorded"),
    (FailingMetric(), "metric 'acme_fail' (plugin 'acme') failed at step 0: ZeroDivisionError"),
])
def test_a_metric_cannot_overwrite_core_keys_and_its_failure_is_one_line(plugin, message):
    from grokbench.registry import Registry
    reg = Registry().load_entry_points()
    reg.add_plugin(plugin, "acme", "acme-metrics", "1.0")
    config = resolve(reg, "modadd", "baseline", {"p": 23, "steps": 5})
    with pytest.raises(UserError) as exc:
        run(config, registry=reg, progress=False)
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)
    assert "GROKBENCH_DISABLE_PLUGINS=acme" in str(exc.value)


def test_a_metric_with_names_of_its_own_is_recorded():
    from grokbench.registry import Registry
    reg = Registry().load_entry_points()
    reg.add_plugin(OwnNamesMetric(), "acme", "acme-metrics", "1.0")
    result = run(resolve(reg, "modadd", "baseline", {"p": 23, "steps": 5}), registry=reg,
                 progress=False)
    assert all(r["acme_ok/norm"] == 1.0 for r in result["curve"])


@pytest.mark.parametrize("override, message", [
    ({"batch_size": 0}, "batch_size must be an int ≥ 1 (or none) (grokbench setting: "),
    ({"batch_size": -3}, "batch_size must be an int ≥ 1"),
    ({"eval_every": 0}, "eval_every must be an int ≥ 1 (grokbench setting: evaluate every this many steps); got 0"),
    ({"eval_every": -10}, "eval_every must be an int ≥ 1"),
    ({"evals_per_decade": 0}, "evals_per_decade must be"),
    ({"eval_batch_size": 0}, "eval_batch_size must be"),
    ({"threads": -1}, "threads must be an int ≥ 1 (or none)"),
    ({"threads": 0}, "threads must be"),
    ({"threads": "two"}, "threads must be an int ≥ 1 (or none) (grokbench setting: "),
    ({"device": "nonsense"}, "device 'nonsense' is not a torch device"),
    ({"dtype": "float16"}, "float16 training with adamw needs eps of at least 6.1e-5"),
    ({"dtype": "float16", "optimizer": "adam", "eps": 1e-6}, "eps=1e-06 is 0 or subnormal"),
])
def test_settings_out_of_range_are_refused_when_resolved(registry, override, message):
    with pytest.raises(UserError) as exc:
        resolve(registry, "modadd", "baseline", override)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_float16_trains_with_a_representable_eps(registry):
    """The refused combination's fix works: with eps = 1e-4 float16 AdamW stays finite, and
    float16 with SGD (no ε) or bfloat16 (float32's range) is not refused."""
    config = resolve(registry, "modadd", "baseline", {"p": 23, "steps": 30, "dtype": "float16",
                                                      "eps": 1e-4})
    assert run(config, progress=False)["status"] == "finished"
    resolve(registry, "modadd", "baseline", {"dtype": "float16", "optimizer": "sgd"})
    resolve(registry, "modadd", "baseline", {"dtype": "bfloat16"})


@pytest.mark.parametrize("frac, sizes", [(0.9999, "529 training and 0 test"),
                                         (0.0001, "0 training and 529 test")])
def test_an_empty_split_is_refused_before_training(registry, frac, sizes):
    config = resolve(registry, "modadd", "baseline", {"p": 23, "train_frac": frac})
    with pytest.raises(UserError, match=sizes):
        run(config, progress=False)


def test_a_missing_device_is_refused_before_loading_data(registry):
    for device, message in (("mps", "no MPS"), ("meta", "holds no data")):
        with pytest.raises(UserError, match=message):
            run(resolve(registry, "modadd", "baseline", {"device": device}), progress=False)


def _flushing():
    """Whether this process now flushes subnormal floats to zero (torch has no getter)."""
    return (torch.tensor([1e-39]) * 0.5).item() == 0.0


def test_a_run_neither_inherits_nor_leaves_flush_to_zero():
    """The IMDb LSTM turns flush-to-zero on for its own speed; the setting is process-wide, and a
    modular run after it in the same sweep worker computed other numbers (its post-collapse
    probabilities are subnormal). Each run now starts and ends with subnormals kept."""
    seen = []

    class FlushingModel:  # a model plugin that does what the LSTM's builder does
        @hookimpl
        def register_models(self, register):
            def build(info, config):
                seen.append(_flushing())
                torch.set_flush_denormal(True)
                return build_mlp(info, config)
            register("flushing-mlp", build, "the MLP, built with flush-to-zero turned on")

    registry = Registry().load_entry_points()
    registry.add_plugin(FlushingModel(), "flushing-test")
    small = {"p": 11, "steps": 5, "eval_every": 5, "threads": 1}
    try:
        torch.set_flush_denormal(True)  # e.g. left on by an earlier run or by the user
        run(resolve(registry, "modadd", "wd", {**small, "model": "flushing-mlp"}),
            registry=registry, progress=False)
        assert seen == [False]  # the run started with subnormals kept
        assert not _flushing()  # and left them so
    finally:
        torch.set_flush_denormal(False)
