"""Mirror every run to Weights & Biases: ``--set loggers=wandb --set log_dir=runs/``.

One W&B run per grokbench run, named ``<task>-<method>-seed<seed>-<run id>`` (as the
TensorBoard logger names its folders), in project ``$WANDB_PROJECT`` (default ``grokbench``),
grouped by task. It holds the run's settings as the W&B config (with ``run_id``), each
evaluation's metrics at its training step under the TensorBoard logger's names (``train_acc``,
``test_acc``, ``sc_fraction``, ``nlm_cosine/<tensor>`` ...), and the final scores in the run
summary as ``score/<name>`` (``score/steps_to_generalize`` is ∞ when not reached).

W&B runs **offline** unless ``$WANDB_MODE`` says otherwise: nothing leaves the machine, and the
run is written under ``<log_dir>/wandb/offline-run-*``; ``wandb sync <that folder>`` uploads it
later, and ``WANDB_MODE=online`` streams it live instead. The SQLite store stays the source of
truth.

wandb is an optional dependency (``pip install wandb``, or the ``wandb`` extra); it is imported
only when a run asks for this logger.
"""
from __future__ import annotations

import math
import os
import re
from typing import Any, cast
from pathlib import Path

from grokbench import Logger, UserError, hookimpl

DEFAULT_LOG_DIR = "runs"  # beside the TensorBoard logger's folders


class WandbLogger(Logger):
    def __init__(self, run_id, config, log_dir):
        try:
            import wandb
        except ImportError:
            raise UserError("the wandb logger needs the wandb package: pip install wandb "
                            "(or pip install 'grokbench[wandb]'), or drop loggers=wandb") from None
        name = re.sub(r"[^\w.+-]", "_", f"{config['task']}-{config['method']}-seed{config['seed']}-{run_id}")
        self.path = Path(log_dir or DEFAULT_LOG_DIR)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot write W&B logs to {self.path} ({exc.strerror}); "
                            "choose another folder with --set log_dir=DIR") from None
        # Offline unless the user chose a mode: the default machine here has no network, and a
        # benchmark run must not wait on (or fail with) a server.
        mode = os.environ.get("WANDB_MODE") or "offline"
        if mode not in ("online", "offline", "disabled", "shared"):
            raise UserError(f"WANDB_MODE={mode!r} is not a W&B mode; set it to online, offline or "
                            "disabled")
        self.run = wandb.init(
            mode=cast(Any, mode),  # checked against W&B's modes just above
            dir=str(self.path), project=os.environ.get("WANDB_PROJECT") or "grokbench",
            name=name, group=config["task"], job_type=config["method"],
            config={"run_id": run_id, **config}, reinit="create_new")
        self.scored = False

    def log(self, step, record):
        # Numbers only (bools skipped), NaN/inf as they are: W&B keeps them.
        values = {key: float(value) for key, value in record.items()
                  if key != "step" and not isinstance(value, bool) and isinstance(value, (int, float))}
        self.run.log(values, step=int(step))

    def log_scores(self, scores):
        self.scored = True
        self.run.summary.update({f"score/{key}": value for key, value in scores.items()
                                 if isinstance(value, (int, float)) and not isinstance(value, bool)
                                 and not (isinstance(value, float) and math.isnan(value))})

    def close(self):
        self.run.finish(exit_code=0 if self.scored else 1)  # a run that raised shows as failed


@hookimpl
def register_loggers(register):
    register("wandb", WandbLogger,
             "Weights & Biases, offline under log_dir unless $WANDB_MODE says otherwise (pip install wandb)")
