"""Checkpoints (``--set checkpoints=...``): weights saved with safetensors beside the store,
keyed by run id; a reloaded checkpoint reproduces its evaluation exactly; the setting leaves
every run id as it was."""
import json
import math
import os
import struct
import subprocess
import sys

import pytest
import torch

import grokbench
from grokbench.checkpoints import planned_steps, run_dir
from grokbench.config import resolve, run_id
from grokbench.engine import evaluate as engine_evaluate
from grokbench.errors import UserError

# modular addition mod 23: fits in ~20 steps, ~2 s to train here
SMALL = {"p": 23, "steps": 60, "eval_every": 20, "threads": 1}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    store = tmp_path_factory.mktemp("ckpt") / "runs.db"
    result = grokbench.run("modadd", "perpgrad", store=store, progress=False,
                           checkpoints="0,log:5,7,last", **SMALL)
    return store, result


def test_checkpoints_are_saved_beside_the_store_by_run_id(trained):
    store, result = trained
    folder = store.parent / "runs.db.checkpoints" / result.run_id
    assert folder == run_dir(store, result.run_id)
    # log:5 over 60 steps: 1, 2.8, 7.8, 21.6, 60 moved to the nearest evaluations (every step
    # to 10, then 13, 16, 20, ...): 1, 3, 8, 20, 60; plus 0 and 7 as written ("last" is 60)
    assert result.checkpoints == [0, 1, 3, 7, 8, 20, 60]
    assert sorted(os.listdir(folder)) == sorted(f"step-{s}.safetensors" for s in result.checkpoints)
    assert result.checkpoints == planned_steps(result.config)


def test_the_files_are_safetensors_not_pickle(trained):
    store, result = trained
    raw = (run_dir(store, result.run_id) / "step-20.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])  # safetensors: an 8-byte header length, a JSON header
    header = json.loads(raw[8:8 + n])
    assert header["__metadata__"] == {"run_id": result.run_id, "step": "20",
                                      "grokbench": grokbench.__version__, "format": "state_dict"}
    # modadd's MLP 46-200-200-23 (no biases, as the StableMax code's) in float32: every byte
    # past the header is a weight
    numel = sum(math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__")
    assert numel == 46 * 200 + 200 * 200 + 200 * 23
    assert len(raw) == 8 + n + 4 * numel
    assert b"\x80\x04" not in raw[:2]  # no pickle protocol header


def test_a_reloaded_checkpoint_reproduces_its_evaluation_bit_for_bit(trained):
    store, result = trained
    by_step = {r["step"]: r for r in result.records}
    for step in (0, 3, 20, 60):
        assert result.evaluate(step) == by_step[step]  # every metric, exactly
    assert result.evaluate(8, device="cpu") == by_step[8]
    # by hand, the way the engine evaluates: the rebuilt model on the task's data
    model = grokbench.load_model(result.run_id, 20, store=store)
    config = result.config
    from grokbench.registry import get_registry
    registry = get_registry()
    task = registry.get("tasks", "modadd").obj()
    torch.manual_seed(grokbench.derive_seed(config["seed"], "data"))
    data = task.load(config)
    loss = registry.get("losses", config["loss"])
    record = engine_evaluate(task, model, loss.obj(config),
                             [registry.get("metrics", m) for m in registry.names("metrics")],
                             config, 20, data.train_x, data.train_y, data.test_x, data.test_y,
                             lambda out: loss.probabilities(out, config))
    assert record == by_step[20]
    assert not model.training and next(model.parameters()).dtype == torch.float32


def test_model_and_load_model_agree_and_differ_between_steps(trained):
    store, result = trained
    a, b = result.model(60), grokbench.load_model(result.run_id[:8], 60, store=store, device="cpu")
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    init = result.model(0)
    assert not torch.equal(next(init.parameters()), next(a.parameters()))
    with pytest.raises(UserError, match=r"no checkpoint at step 5; it has checkpoints at steps "
                                        r"0, 1, 3, 7, 8, 20, 60"):
        result.model(5)


def test_checkpoints_change_no_run_id(registry):
    plain = resolve(registry, "modadd", "perpgrad", {"p": 23})
    for spec in ("log:10", "0,100,last", [5, "last"], 3000):
        config = resolve(registry, "modadd", "perpgrad", {"p": 23, "checkpoints": spec})
        assert config["checkpoints"] and run_id(config) == run_id(plain)


@pytest.mark.parametrize("spec, message", [
    ("log:x", "checkpoints takes steps, log:N or last, got 'log:x'"),
    ("5000", "checkpoint step 5000 is outside the run's 0..3000 steps"),
    (True, "checkpoints takes steps, log:N or last, got True"),
])
def test_a_bad_spec_is_one_line_before_training(registry, spec, message):
    with pytest.raises(UserError, match=message):
        resolve(registry, "modadd", "perpgrad", {"checkpoints": spec})


def _cli(*args, store):
    return subprocess.run([sys.executable, "-m", "grokbench", "run", "--task", "modadd",
                           "--method", "perpgrad", "--set", "p=23", "--steps", "30", "--threads",
                           "1", "-q", "--store", str(store), *args],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_a_run_stored_without_checkpoints_says_so_and_force_saves_them(tmp_path):
    store = tmp_path / "runs.db"
    first = _cli(store=store)
    assert first.returncode == 0, first.stderr
    asked = _cli("--set", "checkpoints=10,last", store=store)
    assert asked.returncode == 0
    notes = [line for line in asked.stderr.splitlines() if "checkpoints" in line]
    assert len(notes) == 1 and "stored without checkpoints at step(s) 10, 30" in notes[0]
    assert "--force" in notes[0]
    assert not (tmp_path / "runs.db.checkpoints").exists()
    forced = _cli("--set", "checkpoints=10,last", "--force", store=store)
    assert forced.returncode == 0, forced.stderr
    (rid,) = os.listdir(tmp_path / "runs.db.checkpoints")
    assert sorted(os.listdir(tmp_path / "runs.db.checkpoints" / rid)) == [
        "step-10.safetensors", "step-30.safetensors"]
    assert rid in first.stdout  # the same run id with and without checkpoints
    again = _cli("--set", "checkpoints=10", store=store)  # now it has them: no note
    assert "checkpoints" not in again.stderr
    bad = _cli("--set", "checkpoints=log:0", store=store)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "log:N takes N ≥ 1" in bad.stderr
    nostore = subprocess.run([sys.executable, "-m", "grokbench", "run", "--task", "modadd",
                              "--set", "p=23", "--steps", "5", "--no-store", "-q", "--set",
                              "checkpoints=last"], capture_output=True, text=True)
    assert nostore.returncode == 2 and "checkpoints are saved beside the results store" in nostore.stderr


def test_early_stop_saves_last_at_the_decision_point(tmp_path):
    # ⊥AdamW on modadd (p = 113) generalizes at ~150 steps and holds it by ~250
    result = grokbench.run("modadd", "perpgrad", store=tmp_path / "r.db", progress=False,
                           early_stop=True, checkpoints="last", steps=1000, threads=1)
    last = result.records[-1]["step"]
    assert result.status == "stopped_early" and last < 1000 and result.checkpoints == [last]
    assert result.evaluate(last) == result.records[-1]


def test_leaderboards_do_not_show_checkpoints(registry):
    """Weights kept or not, the runs are the same: a table's settings do not list checkpoints,
    so runs stored with and without them (and raw results from before the setting) make one
    table."""
    from grokbench.leaderboard import task_meta
    with_them = resolve(registry, "modadd", "wd", {"p": 23, "checkpoints": "log:10"})
    old = {k: v for k, v in resolve(registry, "modadd", "perpgrad", {"p": 23}).items()
           if k != "checkpoints"}  # a run stored before the setting existed
    meta = task_meta({"wd": [{"config": with_them}], "perpgrad": [{"config": old}]})
    assert "checkpoints" not in meta["settings"]
    assert all("checkpoints" not in row for row in meta["row_settings"].values())
