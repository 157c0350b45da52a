"""Mirror every run to MLflow: ``--set loggers=mlflow --set log_dir=runs/``.

One MLflow run per grokbench run, named ``<task>-<method>-seed<seed>-<run id>`` (as the
TensorBoard logger names its folders) and tagged ``grokbench.run_id``, in experiment
``$MLFLOW_EXPERIMENT_NAME`` (default ``grokbench``). It holds the run's settings as parameters
(values as JSON text), each evaluation's metrics at its training step under the TensorBoard
logger's names (``train_acc``, ``test_acc``, ``sc_fraction``, ``nlm_cosine/<tensor>`` ...), and
the final scores as metrics ``score/<name>`` at the last step. MLflow stores ∞ as the largest
float (1.8e308): a score not reached reads as that, and the tag ``grokbench.scores`` holds the
scores exactly, as JSON with ∞ written ``"inf"`` (as in the store).

The tracking store is ``$MLFLOW_TRACKING_URI`` when set (a server, or any store MLflow knows),
else the SQLite file ``<log_dir>/mlflow.db`` (``mlflow ui --backend-store-uri
sqlite:///runs/mlflow.db`` shows it; MLflow 3 refuses new plain-file stores). SQLite takes one
writer at a time, so give a sweep with many workers a tracking server. The SQLite results store
stays the source of truth.

mlflow is an optional dependency (``pip install mlflow``, or the ``mlflow`` extra); it is
imported only when a run asks for this logger.
"""
from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path

from grokbench import Logger, UserError, hookimpl

DEFAULT_LOG_DIR = "runs"  # beside the TensorBoard logger's folders
FLUSH_SECONDS = 5.0       # metrics are sent in batches, at least this often
MAX_BATCH = 1000          # MLflow's limit on metrics per batch


class MlflowLogger(Logger):
    def __init__(self, run_id, config, log_dir):
        try:
            from mlflow.entities import Param
            from mlflow.exceptions import MlflowException
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise UserError("the mlflow logger needs the mlflow package: pip install mlflow "
                            "(or pip install 'grokbench[mlflow]'), or drop loggers=mlflow") from None
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        artifacts = None
        if not uri:
            folder = Path(log_dir or DEFAULT_LOG_DIR).resolve()
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot write MLflow logs to {folder} ({exc.strerror}); "
                                "choose another folder with --set log_dir=DIR") from None
            uri, artifacts = f"sqlite:///{folder / 'mlflow.db'}", (folder / "mlartifacts").as_uri()
        self.client = MlflowClient(tracking_uri=uri)
        experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME") or "grokbench"
        found = self.client.get_experiment_by_name(experiment)
        if found is not None:
            experiment_id = found.experiment_id
        else:
            try:
                experiment_id = self.client.create_experiment(experiment, artifact_location=artifacts)
            except MlflowException:  # another worker of a sweep created it a moment ago
                again = self.client.get_experiment_by_name(experiment)
                if again is None:
                    raise
                experiment_id = again.experiment_id
        name = f"{config['task']}-{config['method']}-seed{config['seed']}-{run_id}"
        self.run_id = self.client.create_run(
            experiment_id, run_name=name,
            tags={"grokbench.run_id": run_id, "grokbench.task": config["task"],
                  "grokbench.method": config["method"], "grokbench.seed": str(config["seed"])},
        ).info.run_id
        params = [Param(_key(key), value if isinstance(value, str) else json.dumps(value))
                  for key, value in sorted(config.items())]
        for lo in range(0, len(params), 100):  # MLflow takes at most 100 parameters a batch
            self.client.log_batch(self.run_id, params=params[lo:lo + 100])
        self.pending: list = []
        self.last_flush = time.monotonic()
        self.last_step = 0
        self.scored = False

    def log(self, step, record):
        from mlflow.entities import Metric
        now = int(time.time() * 1000)
        self.last_step = int(step)
        # Numbers only (bools skipped), NaN/inf as they are.
        new = [Metric(_key(key), float(value), now, int(step)) for key, value in record.items()
               if key != "step" and not isinstance(value, bool) and isinstance(value, (int, float))]
        self.pending += new
        if (time.monotonic() - self.last_flush > FLUSH_SECONDS
                or not all(math.isfinite(m.value) for m in new)):
            self.flush()  # now and then, and at once when the run is about to stop on NaN/inf

    def log_scores(self, scores):
        from mlflow.entities import Metric
        self.scored = True
        now = int(time.time() * 1000)
        self.pending += [Metric(f"score/{_key(key)}", float(value), now, self.last_step)
                         for key, value in scores.items()
                         if isinstance(value, (int, float)) and not isinstance(value, bool)]
        exact = {key: ("inf" if value > 0 else "-inf") if isinstance(value, float) and math.isinf(value)
                 else None if isinstance(value, float) and math.isnan(value) else value
                 for key, value in scores.items()}
        self.client.set_tag(self.run_id, "grokbench.scores", json.dumps(exact, sort_keys=True))

    def flush(self):
        while self.pending:
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            self.client.log_batch(self.run_id, metrics=batch)
        self.last_flush = time.monotonic()

    def close(self):
        try:
            self.flush()
        finally:  # a run that raised shows as failed
            self.client.set_terminated(self.run_id, status="FINISHED" if self.scored else "FAILED")


def _key(name: str) -> str:
    """The name with any character MLflow refuses in a key replaced by ``_`` (MLflow takes
    letters, digits and ``_ - . / :`` and spaces, so the TensorBoard names pass unchanged)."""
    return re.sub(r"[^\w\-./: ]", "_", name)


@hookimpl
def register_loggers(register):
    register("mlflow", MlflowLogger,
             "MLflow, in <log_dir>/mlflow.db unless $MLFLOW_TRACKING_URI is set (pip install mlflow)")
