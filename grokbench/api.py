"""What a plugin author subclasses or receives: tasks, their data, and the evaluation context."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import torch


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
    #: task settings (become ``--set`` keys), e.g. {"p": 113, "train_frac": 0.4}
    options: ClassVar[dict] = {}
    #: defaults for engine, model, loss and optimizer settings, e.g. {"model": "mlp", "lr": 1e-2}
    defaults: ClassVar[dict] = {}
    #: extra defaults used only with a given model, e.g. {"transformer": {"lr": 1e-3}}
    model_defaults: ClassVar[dict] = {}
    #: extra defaults used only with a given method, e.g. {"norm": {"init_scale": 3.0}}
    method_defaults: ClassVar[dict] = {}
    #: named settings bundles, e.g. {"paper": {"steps": 100000}} (``--preset paper``)
    presets: ClassVar[dict] = {}
    #: the generalization target: metric name recorded at each evaluation, and its threshold
    target_metric: ClassVar[str] = "test_acc"
    target: ClassVar[float] = 0.95

    def load(self, config: dict) -> TaskData:
        raise NotImplementedError

    # The engine calls these three; override them for data that is not a plain tensor (graphs).
    def select(self, x, index):
        """The samples of ``x`` at ``index`` (a LongTensor or a slice)."""
        return x[index]

    def to(self, x, device, dtype):
        """Move inputs to the device; floating inputs take the training dtype."""
        if isinstance(x, torch.Tensor):
            return x.to(device, dtype) if x.is_floating_point() else x.to(device)
        return x.to(device)

    def extra_metrics(self, ctx: "EvalContext") -> dict:
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
