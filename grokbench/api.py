"""What a plugin author subclasses or receives: tasks and their data, the evaluation context,
optimizer wrappers, sweep executors and loggers (docs/plugins.md describes each)."""
from __future__ import annotations

import difflib
import hashlib
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypedDict, get_args

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


#: What a task's outputs and targets are (:attr:`Task.kind`).
TaskKind = Literal["classification", "binary", "regression"]
TASK_KINDS: tuple[str, ...] = get_args(TaskKind)


class Task(ABC):
    """A benchmark workload (after MLCommons AlgoPerf's ``Workload``): its data, its default
    model and hyperparameters, and the target that counts as "generalized".

    Subclass it: set :attr:`name` and :attr:`description`, implement :meth:`load`, and register
    the class from a ``register_tasks`` hook implementation. Every other attribute and method
    has a default that a plain task keeps. The class is checked when it is registered
    (:meth:`declaration_problems`), so a missing method or a malformed attribute is a one-line
    error naming the fix when grokbench loads the plugin, not a traceback in training.
    """

    name: ClassVar[str]
    """Required: what ``--task`` chooses, e.g. ``"modadd"``."""
    description: ClassVar[str]
    """Required: one line for ``grokbench list tasks``, e.g. ``"(a + b) mod p"``."""
    kind: ClassVar[TaskKind] = "classification"
    """``"classification"`` (class ids, one logit per class), ``"binary"`` (one logit, targets
    0/1) or ``"regression"`` (real targets): what :meth:`correct` counts as right and which
    losses apply."""
    options: ClassVar[Mapping[str, Any]] = {}
    """The task's own settings, each a ``--set`` key: ``{name: Option(default, help, type,
    ...)}`` (:class:`grokbench.Option`); a plain ``{name: default}`` declares one too."""
    defaults: ClassVar[Mapping[str, Any]] = {}
    """The task's values for the engine's and the components' settings, e.g. ``{"model": "mlp",
    "lr": 1e-2, "steps": 3000}``."""
    model_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    """Values used only with one model, ``{model: {setting: value}}``, e.g. ``{"transformer":
    {"lr": 1e-3}}``. (A setting for one method on this task is that method's recipe:
    ``register_methods``' ``per_task``.)"""
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    """Named bundles of settings, ``{name: {setting: value}}``, chosen with ``--preset name``."""
    target_metric: ClassVar[str] = "test_acc"
    """The metric (recorded at every evaluation; usually one of :data:`CORE_METRICS`) whose
    reaching :attr:`target` counts as generalized."""
    target: ClassVar[float] = 0.95
    """Generalized = the first evaluation with ``target_metric ≥ target``."""
    download: ClassVar[Download | None] = None
    """The raw data ``grokbench data fetch TASK`` downloads; None: the data is bundled or
    generated."""
    size_option: ClassVar[str | None] = None
    """The option that sets the training-set size, e.g. ``"n_train"`` (the N axis of ``grokbench
    landscape --n``); None: the task has none."""

    @abstractmethod
    def load(self, config: dict[str, Any]) -> TaskData:
        """Build the task's data, split into training and test sets, from the run's config (its
        :attr:`options` among the keys). torch's global RNG is already seeded from the run's
        seed, so plain ``torch.randint`` is reproducible."""

    def data_missing(self, config: dict[str, Any]) -> str | None:
        """Why this task's data is not on this machine, with the fix, or None when it is (or the
        task bundles or generates it). ``grokbench sweep --dry-run`` warns with it, so a suite is
        not projected as if its runs could train here. Cheap: it must not load the data."""
        return None

    # The engine calls these three; override them for data that is not a plain tensor (graphs).
    def select(self, x: Any, index: torch.Tensor | slice) -> Any:
        """The samples of ``x`` at ``index`` (a LongTensor or a slice)."""
        return x[index]

    def to(self, x: Any, device: torch.device | str, dtype: torch.dtype) -> Any:
        """Move inputs to the device; floating inputs take the training dtype."""
        if isinstance(x, torch.Tensor):
            return x.to(device, dtype) if x.is_floating_point() else x.to(device)
        return x.to(device)

    def extra_metrics(self, ctx: EvalContext) -> dict[str, float]:
        """Task-specific metrics recorded at each evaluation (e.g. QM9's test R²)."""
        return {}

    def correct(self, output: torch.Tensor, target: torch.Tensor,
                config: dict[str, Any]) -> torch.Tensor:
        """Per-sample correctness (bool) used for accuracy."""
        if self.kind == "classification":
            return output.argmax(-1) == target
        if self.kind == "binary":
            return (output.reshape(-1) > 0) == (target.reshape(-1) > 0.5)
        # regression: a sample counts as right when its squared error is below the threshold
        err = (output.double() - target.double()).pow(2).reshape(len(target), -1).mean(-1)
        return err < config["acc_threshold"]

    @classmethod
    def declaration_problems(cls) -> list[str]:
        """What the class must fix before it can be registered, each with the fix ([] when
        nothing): the required attributes and methods, and the attributes' shapes. Registration
        refuses a class with any, naming them in one line."""
        problems = []
        for attr, example in (("name", "what --task chooses, e.g. 'majority'"),
                              ("description", "one line, e.g. 'majority vote of 7 bits'")):
            if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr).strip():
                problems.append(f"has no {attr}: set the class attribute {attr} ({example})")
        for method in sorted(getattr(cls, "__abstractmethods__", ())):
            params = ", ".join(inspect.signature(getattr(Task, method)).parameters)
            problems.append(f"does not implement {method}({params}), which every task must: "
                            f"define it in the class (grokbench.Task.{method} says what it returns)")
        if cls.kind not in TASK_KINDS:
            problems.append(f"has kind {cls.kind!r}: set kind to one of {', '.join(TASK_KINDS)}")
        for attr in ("options", "defaults"):
            if not isinstance(getattr(cls, attr), Mapping):
                problems.append(f"has {attr} {getattr(cls, attr)!r}: make it a dict, "
                                f"{{setting: value}}")
        for attr in ("model_defaults", "presets"):
            value = getattr(cls, attr)
            if not (isinstance(value, Mapping) and all(isinstance(v, Mapping) for v in value.values())):
                problems.append(f"has {attr} {value!r}: make it a dict of dicts, "
                                f"{{name: {{setting: value}}}}")
        if not isinstance(cls.target_metric, str) or not cls.target_metric:
            problems.append(f"has target_metric {cls.target_metric!r}: name a recorded metric, "
                            "e.g. 'test_acc'")
        if isinstance(cls.target, bool) or not isinstance(cls.target, (int, float)) \
                or not math.isfinite(cls.target):
            problems.append(f"has target {cls.target!r}: make it a finite number, e.g. 0.95")
        if cls.download is not None and not (
                isinstance(cls.download, Mapping)
                and all(isinstance(cls.download.get(k), str) for k in ("url", "filename"))):
            problems.append(f"has download {cls.download!r}: make it None or "
                            "{'url': ..., 'filename': ..., 'sha256': ...}")
        if cls.size_option is not None and (not isinstance(cls.options, Mapping)
                                            or cls.size_option not in cls.options):
            problems.append(f"names size_option {cls.size_option!r}, which is not one of its "
                            "options: name one, or None")
        known = {name for name in dir(Task) if not name.startswith("_")}
        for klass in cls.__mro__:
            if klass is Task or not issubclass(klass, Task):
                continue
            for attr in vars(klass):
                # A plugin may keep helpers of its own; a near-miss of one of Task's names
                # (``preset`` for ``presets``, ``model_default``) is a typo, and the setting it
                # meant would silently be missing from every run.
                close = difflib.get_close_matches(attr, known, n=1, cutoff=0.8)
                retired = attr == "method_defaults"  # its own message, below
                if attr not in known and not attr.startswith("_") and close and not retired:
                    problems.append(f"sets {attr}, which grokbench does not read: did you mean "
                                    f"{close[0]}? (rename it, or start a helper's name with _)")
        if hasattr(cls, "method_defaults"):
            # Once a layer of their own; a method's settings for a task are now only its recipe,
            # so a task still setting them would silently train without them.
            problems.append("sets method_defaults, which grokbench no longer reads; give them as "
                            "the method's recipe for the task (register_methods' per_task) or "
                            "as a preset")
        return problems


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
