"""grokbench: a benchmark suite for grokking, built on pluggy plugins.

Everything a plugin needs is importable from here (docs/plugins.md); the submodules are the
implementation and may change.
"""
from .api import (CORE_METRICS, Download, EvalContext, Executor, Logger, OptimizerWrapper, Task,
                  TaskData, TaskInfo, derive_seed)
from .claims import Check, Claim, Difference, Median, Ratio, Runs, Slope
from .data import (atomic_write_bytes, balanced_indices, cache_dir, cache_key, cached, data_dir,
                   default_download_dir)
from .errors import NotApplicable, UserError
from .hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = [
    # hook marker
    "hookimpl",
    # what plugins subclass or receive
    "Task", "TaskData", "TaskInfo", "Download", "EvalContext", "OptimizerWrapper", "Executor",
    "Logger", "CORE_METRICS",
    # errors: the CLI prints these as one line, without a traceback
    "UserError", "NotApplicable",
    # seeds and data caches
    "derive_seed", "data_dir", "cache_dir", "cache_key", "cached", "atomic_write_bytes",
    "balanced_indices", "default_download_dir",
    # paper claims (register_claims)
    "Claim", "Runs", "Check", "Median", "Ratio", "Difference", "Slope",
    "__version__",
]
