"""The bundled W&B and MLflow loggers: a real run logs to W&B offline and to a local MLflow
SQLite store, and the logged data, read back from the W&B run file and with MLflow's own client,
holds the run's config, every evaluation's metrics under the TensorBoard logger's names, and the
final scores. Skipped when the extra is not installed; nothing goes over the network."""
import glob
import json
import math
import struct
import sys
import time

import pytest

from grokbench.config import resolve, run_id
from grokbench.errors import UserError

SETTINGS = {"p": 7, "steps": 12, "eval_every": 5, "threads": 1}
METRICS = ("train_acc", "test_acc", "train_loss", "test_loss", "sc_fraction", "weight_norm",
           "nlm_cosine")


def _run_with(registry, logger, log_dir):
    from grokbench.engine import run
    cfg = resolve(registry, "modadd", "baseline",
                  {**SETTINGS, "loggers": logger, "log_dir": str(log_dir)})
    result = run(cfg, progress=False)
    # logging does not change the run's identity
    assert result["run_id"] == run_id(resolve(registry, "modadd", "baseline", SETTINGS))
    return result


def wandb_records(path):
    """The records of a W&B run file (``run-<id>.wandb``): a 7-byte header, then LevelDB's log
    format (32 KiB blocks of chunks with a 7-byte header: CRC, length, kind full/first/middle/last),
    each record a protobuf ``Record`` of the wandb SDK. The SDK ships no reader for the file
    (``wandb sync`` replays it in its Go core), so this is the format, read with its messages."""
    from wandb.proto import wandb_internal_pb2
    data = open(path, "rb").read()
    assert data[:4] == b":W&B", "not a W&B run file"
    pos, block, pieces = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # too little room for a chunk header: the block is padded
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0:  # zero padding to the end of the block
            pos += left
            continue
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        pieces = chunk if kind in (1, 2) else pieces + chunk
        if kind in (1, 4):  # full, or last of several
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pieces)
            yield record


def finished_wandb_records(path, timeout=60.0):
    """The records of a W&B run file once its last record, ``exit``, is written: W&B's service
    process writes the file and finishes it a moment after ``run.finish()`` returns (seen: the
    bare 7-byte header right after it, on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            records = list(wandb_records(path))
        except Exception:  # a record being written: its bytes are not all there yet
            records = []
        if records and records[-1].WhichOneof("record_type") == "exit":
            return records
        assert time.monotonic() < deadline, f"{path} not finished after {timeout} s"
        time.sleep(0.1)


def test_wandb_offline_run_holds_config_metrics_and_scores(registry, tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="wandb not installed (pip install 'grokbench[wandb]')")
    for var in ("WANDB_MODE", "WANDB_PROJECT", "WANDB_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    for var in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):  # not the home folder
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    monkeypatch.setenv("WANDB_SILENT", "true")
    result = _run_with(registry, "wandb", tmp_path / "runs")

    files = glob.glob(str(tmp_path / "runs" / "wandb" / "offline-run-*" / "run-*.wandb"))
    assert len(files) == 1, "one offline run, under log_dir/wandb"
    history, summary, config, run_records = {}, {}, {}, []
    for record in finished_wandb_records(files[0]):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run_records.append(record.run)
            config.update({i.key: json.loads(i.value_json) for i in record.run.config.update})
        elif kind == "config":
            config.update({i.key: json.loads(i.value_json) for i in record.config.update})
        elif kind == "history":
            row = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
            history[row["_step"]] = row
        elif kind == "summary":
            summary.update({i.key or "/".join(i.nested_key): json.loads(i.value_json)
                            for i in record.summary.update})
    assert run_records[0].display_name == f"modadd-baseline-seed0-{result['run_id']}"
    assert run_records[0].project == "grokbench"
    assert config["run_id"] == result["run_id"]
    for key in ("task", "method", "lr", "steps", "seed", "p", "betas"):
        assert config[key] == result["config"][key], key

    evals = [r for r in result["curve"] if "train_acc" in r]
    assert sorted(history) == [r["step"] for r in evals]
    for r in evals:
        for key in METRICS:
            assert history[r["step"]][key] == pytest.approx(r[key], rel=1e-12), (r["step"], key)
    assert any(k.startswith("nlm_cosine/") for k in history[evals[-1]["step"]])  # per tensor too

    scores = result["scores"]
    assert math.isinf(scores["steps_to_generalize"])  # 12 steps: not reached, logged as ∞
    assert summary["score/steps_to_generalize"] == math.inf
    for key in ("final_test_acc", "final_train_acc", "best_test_acc", "steps_run", "max_sc"):
        assert summary[f"score/{key}"] == pytest.approx(scores[key]), key


def test_mlflow_sqlite_store_holds_config_metrics_and_scores(registry, tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="mlflow not installed (pip install 'grokbench[mlflow]')")
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(var, raising=False)
    from mlflow.tracking import MlflowClient
    result = _run_with(registry, "mlflow", tmp_path / "runs")

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("grokbench")
    (found,) = client.search_runs([experiment.experiment_id],
                                  f"tags.`grokbench.run_id` = '{result['run_id']}'")
    assert found.info.run_name == f"modadd-baseline-seed0-{result['run_id']}"
    assert found.info.status == "FINISHED"
    params = found.data.params
    for key in ("task", "method", "lr", "steps", "seed", "p", "betas"):
        value = result["config"][key]
        assert params[key] == (value if isinstance(value, str) else json.dumps(value)), key

    evals = [r for r in result["curve"] if "train_acc" in r]
    for key in METRICS:
        history = sorted(client.get_metric_history(found.info.run_id, key), key=lambda m: m.step)
        assert [m.step for m in history] == [r["step"] for r in evals], key
        assert [m.value for m in history] == pytest.approx([r[key] for r in evals], rel=1e-12), key
    assert any(k.startswith("nlm_cosine/") for k in found.data.metrics)  # per tensor too

    scores, metrics = result["scores"], found.data.metrics
    for key in ("final_test_acc", "final_train_acc", "best_test_acc", "steps_run"):
        assert metrics[f"score/{key}"] == pytest.approx(scores[key]), key
    assert metrics["score/steps_to_generalize"] == sys.float_info.max  # MLflow's way to store ∞
    exact = json.loads(found.data.tags["grokbench.scores"])
    assert exact["steps_to_generalize"] == "inf"
    assert exact["final_test_acc"] == pytest.approx(scores["final_test_acc"])

    # A run that raised gets no scores and is marked failed (same store: MLflow creating its
    # tables is most of this test's time).
    logger = registry.get("loggers", "mlflow").obj(
        "abc", {"task": "modadd", "method": "baseline", "seed": 0}, str(tmp_path / "runs"))
    logger.log(0, {"step": 0, "train_acc": 0.5})
    logger.close()
    failed = client.get_run(logger.run_id)
    assert failed.info.status == "FAILED" and failed.data.metrics == {"train_acc": 0.5}


@pytest.mark.parametrize("logger, modules, fix", [
    ("wandb", ["wandb"], "pip install wandb"),
    ("mlflow", ["mlflow", "mlflow.entities", "mlflow.exceptions", "mlflow.tracking"],
     "pip install mlflow"),
])
def test_missing_package_is_a_user_error(registry, tmp_path, monkeypatch, logger, modules, fix):
    for name in modules:  # what an environment without the package looks like to an import
        monkeypatch.setitem(sys.modules, name, None)
    build = registry.get("loggers", logger).obj
    with pytest.raises(UserError, match=fix):
        build("abc", {"task": "modadd", "method": "baseline", "seed": 0}, str(tmp_path))
