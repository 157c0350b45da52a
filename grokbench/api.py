"""What a plugin author subclasses or receives: tasks and their data, the evaluation context,
optimizer wrappers, sweep executors and loggers (docs/plugins.md describes each)."""
from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypedDict

import torch

#: What every evaluation record holds whatever plugins are installed (besides ``step``); metric
#: plugins add their own keys. A task's ``target_metric`` is usually one of these.
CORE_METRICS = ("train_acc", "test_acc", "train_loss", "test_loss", "weight_norm")


def derive_seed(seed: int, stream: str) -> int:
    """Independent RNG streams per purpose, so e.g. the model init does not depend on how
    many random numbers the data split drew (and a teacher net seeded 0 differs from student 0)."""
    return int(hashlib.sha256(f"{seed}:{stream}".encode()).hexdigest()[:12], 16)


@dataclass
class TaskInfo:
    """What a model builder needs to know about a task's inputs and outputs."""

    kind: str                       # "classification", "binary" (one logit) or "regression"
    n_outputs: int                  # classes, 1 for binary, target dimension for regression
    input_kind: str                 # "tokens" (int ids), "features" (float vectors), "graphs"
    vocab_size: int | None = None   # tokens: ids are in [0, vocab_size)
    seq_len: int | None = None      # tokens: sequence length
    in_features: int | None = None  # features: vector length; graphs: node feature size
    extra: dict = field(default_factory=dict)


class _DownloadRequired(TypedDict):
    url: str
    filename: str


class Download(_DownloadRequired, total=False):
    """Where ``grokbench data fetch TASK`` gets a task's raw data: the official ``url``, the
    ``filename`` it is saved as (where the task looks), and its ``sha256`` when known."""

    sha256: str


@dataclass
class TaskData:
    """A task's data, already split. ``x`` may be anything the task's ``select`` can index."""

    info: TaskInfo
    train_x: Any
    train_y: torch.Tensor
    test_x: Any
    test_y: torch.Tensor

    @property
    def n_train(self) -> int:
        return len(self.train_y)

    @property
    def n_test(self) -> int:
        return len(self.test_y)


class Task:
    """A benchmark workload (after MLCommons AlgoPerf): data, default model and hyperparameters,
    and the target that counts as "generalized".

    Subclass it, set the class attributes, implement :meth:`load`, and register the class from
    a ``register_tasks`` hook implementation.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    kind: ClassVar[str] = "classification"
    #: task settings (become ``--set`` keys), e.g. {"p": Option(113, "the prime modulus", int)};
    #: a plain default ({"p": 113}) is a declaration too (grokbench.Option)
    options: ClassVar[dict[str, Any]] = {}
    #: defaults for engine, model, loss and optimizer settings, e.g. {"model": "mlp", "lr": 1e-2}
    defaults: ClassVar[dict] = {}
    #: extra defaults used only with a given model, e.g. {"transformer": {"lr": 1e-3}}
    model_defaults: ClassVar[dict] = {}
    #: named settings bundles, e.g. {"paper": {"steps": 100000}} (``--preset paper``)
    presets: ClassVar[dict] = {}
    #: the generalization target: metric name recorded at each evaluation, and its threshold
    target_metric: ClassVar[str] = "test_acc"
    target: ClassVar[float] = 0.95
    #: the raw data ``grokbench data fetch`` can download; None: bundled or generated data
    download: ClassVar[Download | None] = None
    #: the option that sets the training-set size (``grokbench landscape --n``), e.g. "n_train";
    #: None: the task has none
    size_option: ClassVar[str | None] = None

    def load(self, config: dict) -> TaskData:
        raise NotImplementedError

    def data_missing(self, config: dict) -> str | None:
        """Why this task's data is not on this machine, with the fix, or None when it is (or the
        task bundles or generates it). ``grokbench sweep --dry-run`` warns with it, so a suite is
        not projected as if its runs could train here. Cheap: it must not load the data."""
        return None

    # The engine calls these three; override them for data that is not a plain tensor (graphs).
    def select(self, x, index):
        """The samples of ``x`` at ``index`` (a LongTensor or a slice)."""
        return x[index]

    def to(self, x, device, dtype):
        """Move inputs to the device; floating inputs take the training dtype."""
        if isinstance(x, torch.Tensor):
            return x.to(device, dtype) if x.is_floating_point() else x.to(device)
        return x.to(device)

    def extra_metrics(self, ctx: EvalContext) -> dict:
        """Task-specific metrics recorded at each evaluation (e.g. QM9's test R²)."""
        return {}

    def correct(self, output: torch.Tensor, target: torch.Tensor, config: dict) -> torch.Tensor:
        """Per-sample correctness (bool) used for accuracy."""
        if self.kind == "classification":
            return output.argmax(-1) == target
        if self.kind == "binary":
            return (output.reshape(-1) > 0) == (target.reshape(-1) > 0.5)
        # regression: a sample counts as right when its squared error is below the threshold
        err = (output.double() - target.double()).pow(2).reshape(len(target), -1).mean(-1)
        return err < config["acc_threshold"]


@dataclass
class EvalContext:
    """Everything a metric may look at during one evaluation (computed once, shared)."""

    step: int
    config: dict
    task: Task
    model: torch.nn.Module
    train_output: torch.Tensor   # model outputs on the full training set (eval mode, no grad)
    train_y: torch.Tensor
    train_losses: torch.Tensor   # per-sample training losses under the active loss
    test_output: torch.Tensor
    test_y: torch.Tensor
    named_params: list           # [(name, tensor)]
    grads: list                  # ∇L on the full training set, loss without weight decay
    #: the trained loss's view of outputs as class probabilities, in the precision the loss is
    #: computed in (``probabilities(train_output)``); None for a loss without one (MSE)
    probabilities: Callable | None = None


class OptimizerWrapper:
    """Base for optimizer wrappers (⊥Grad, Grokfast, the norm constraint): holds the inner
    optimizer, built with all of its hyperparameters, and forwards to it. Override ``step``."""

    def __init__(self, inner):
        self.inner = inner

    @property
    def param_groups(self):
        return self.inner.param_groups

    def params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none=True):
        self.inner.zero_grad(set_to_none=set_to_none)

    def step(self):
        self.inner.step()


class Executor(ABC):
    """Base for sweep executors (``register_executors``): submits jobs like a
    :class:`concurrent.futures.Executor`.

    ``workers`` is how many runs go at once (the sweep keeps about twice that many submitted).
    ``store_in_worker`` says where results are saved: True, the job writes its result to the
    SQLite store itself, so the workers must run on this machine; False, the result comes back
    in the future and the sweep's process stores it (e.g. workers on a cluster)."""

    workers: int = 1
    store_in_worker: ClassVar[bool] = True

    @abstractmethod
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Start ``fn(*args, **kwargs)`` and return its future."""

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Release the workers; with ``cancel_futures``, drop jobs not yet started."""


class Logger(ABC):
    """Base for loggers (``register_loggers``): mirror each evaluation to another tool. The
    SQLite store stays the source of truth."""

    @abstractmethod
    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """One evaluation's record (``step`` and every metric) at training step ``step``."""

    def log_scores(self, scores: dict[str, Any]) -> None:
        """The run's scores (steps-to-generalize, ...; ∞ when not reached), once, after its
        last evaluation and before :meth:`close`; not called when the run raised."""

    def close(self) -> None:
        """Flush and release; called once when the run ends, also after an error."""
