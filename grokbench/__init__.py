"""grokbench: a benchmark suite for grokking, built on pluggy plugins.

Everything a plugin needs is importable from here (docs/plugins.md), and so is the Python API
for notebooks (``grokbench.run``, ``grokbench.runs``); the submodules are the implementation and
may change.
"""
from .api import (CORE_METRICS, Download, EvalContext, Executor, Logger, OptimizerWrapper, Task,
                  TaskData, TaskInfo, derive_seed)
from .claims import AtDecision, AtEnd, Check, Claim, Difference, Median, Ratio, Runs, Slope
from .landscape import LUShape, landscape_runs
from .data import (atomic_write_bytes, balanced_indices, cache_dir, cache_key, cached, data_dir,
                   default_download_dir)
from .errors import NotApplicable, Stopped, UserError
from .hookspecs import hookimpl
from .options import Option
from .notebook import RunResult, load_model, run, runs
from .version import __version__

__all__ = [
    # hook marker
    "hookimpl",
    # what plugins subclass or receive
    "Task", "TaskData", "TaskInfo", "Download", "EvalContext", "OptimizerWrapper", "Executor",
    "Logger", "CORE_METRICS",
    # a component's option: type, default, one line of help (docs/plugins.md, Options)
    "Option",
    # errors: the CLI prints these as one line, without a traceback; Stopped: a run stopped by
    # SIGTERM, its state saved (an executor's worker lets it through, then takes no more runs)
    "UserError", "NotApplicable", "Stopped",
    # seeds and data caches
    "derive_seed", "data_dir", "cache_dir", "cache_key", "cached", "atomic_write_bytes",
    "balanced_indices", "default_download_dir",
    # paper claims (register_claims)
    "Claim", "Runs", "Check", "Median", "Ratio", "Difference", "Slope", "AtDecision", "AtEnd", "LUShape",
    "landscape_runs",
    "__version__",
    # the Python API for notebooks and scripts (README, "Notebooks and Python")
    "run", "runs", "RunResult", "load_model",
]
