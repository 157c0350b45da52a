"""Mirror every evaluation to TensorBoard: ``--set loggers=tensorboard --set log_dir=runs/``.

One event-file folder per run, ``<log_dir>/<task>-<method>-seed<seed>-<run id>``, holding each
metric of each evaluation as a scalar at its training step (``train_acc``, ``test_acc``,
``sc_fraction``, ``nlm_cosine/<tensor>`` …) and the run's settings as text. The SQLite store
stays the source of truth; this is a view for a tool people already use.

tensorboard is an optional dependency (``pip install tensorboard``, or the ``tensorboard``
extra); it is imported only when a run asks for this logger.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from grokbench import Logger, UserError, hookimpl

DEFAULT_LOG_DIR = "runs"  # TensorBoard's own convention


class TensorBoardLogger(Logger):
    def __init__(self, run_id, config, log_dir):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError("the tensorboard logger needs the tensorboard package: "
                            "pip install tensorboard (or pip install 'grokbench[tensorboard]'), "
                            "or drop loggers=tensorboard") from None
        name = f"{config['task']}-{config['method']}-seed{config['seed']}-{run_id}"
        self.path = Path(log_dir or DEFAULT_LOG_DIR) / re.sub(r"[^\w.+-]", "_", name)
        try:
            self.writer = SummaryWriter(log_dir=str(self.path))
        except OSError as exc:
            raise UserError(f"cannot write TensorBoard logs to {self.path} ({exc.strerror}); "
                            "choose another folder with --set log_dir=DIR") from None
        settings = json.dumps(config, indent=1, sort_keys=True)
        # Markdown code block, so TensorBoard's text tab keeps the layout.
        self.writer.add_text("config", "    " + settings.replace("\n", "\n    "), 0)

    def log(self, step, record):
        for key, value in record.items():
            # Only numbers; a NaN/inf value is written as is (TensorBoard shows it), bools skipped.
            if key == "step" or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            self.writer.add_scalar(key, float(value), int(step))
        if not all(math.isfinite(v) for v in record.values()
                   if isinstance(v, float)):
            self.writer.flush()  # the run is about to stop: make sure this point is on disk

    def close(self):
        self.writer.close()


@hookimpl
def register_loggers(register):
    register("tensorboard", TensorBoardLogger,
             "TensorBoard event files, one folder per run under log_dir (pip install tensorboard)")
