"""grokbench: a benchmark suite for grokking, built on pluggy plugins."""
from .hookspecs import hookimpl
from .api import EvalContext, OptimizerWrapper, Task, TaskData, TaskInfo

__version__ = "0.1.0"
__all__ = ["hookimpl", "OptimizerWrapper", "Task", "TaskData", "TaskInfo", "EvalContext", "__version__"]
