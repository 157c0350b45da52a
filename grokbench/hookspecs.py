"""The hooks a grokbench plugin can implement.

Every hook is in the register-callback style (as in simonw/llm): the plugin is handed a
``register`` function and calls it once per thing it provides. The host validates each thing,
rejects a duplicate name with an error naming both plugins, and remembers who registered what.
The ``Register*`` protocols below are the signatures of those ``register`` functions, for plugin
authors who type-check their code; docs/plugins.md has a working example of each hook.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import torch

    from .api import EvalContext, Executor, Logger, OptimizerWrapper, Task, TaskInfo
    from .options import Option
    from .claims import Claim

hookspec = pluggy.HookspecMarker("grokbench")
hookimpl = pluggy.HookimplMarker("grokbench")

#: a run's resolved settings: one flat dict (``grokbench run --show-config`` prints it)
Config = dict[str, Any]
#: a component's options: {name: Option(default, help, type, ...)}; a plain default value
#: ({name: default}) is a declaration too, its type read from the value and without help
Options = Mapping[str, "Option | object"]
#: per-sample losses from (model output, target)
LossFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]


class RegisterTask(Protocol):
    def __call__(self, task_cls: type[Task], /) -> None: ...


class RegisterModel(Protocol):
    def __call__(self, name: str, build: Callable[[TaskInfo, Config], torch.nn.Module],
                 description: str, /, *, options: Options = ...) -> None: ...


class RegisterLoss(Protocol):
    def __call__(self, name: str, build: Callable[[Config], LossFn], description: str, /, *,
                 options: Options = ...,
                 probabilities: Callable[[torch.Tensor, Config], torch.Tensor] | None = None,
                 task_kinds: Iterable[str] | None = None) -> None: ...


class RegisterOptimizer(Protocol):
    # wrapper=False: build(params, config) -> torch.optim.Optimizer
    # wrapper=True:  build(inner optimizer, model, config) -> OptimizerWrapper
    def __call__(self, name: str,
                 build: (Callable[[list[torch.nn.Parameter], Config], torch.optim.Optimizer]
                         | Callable[[Any, torch.nn.Module, Config], OptimizerWrapper]),
                 description: str, /, *, options: Options = ...,
                 wrapper: bool = False) -> None: ...


class RegisterMethod(Protocol):
    def __call__(self, name: str, settings: Mapping[str, Any], description: str, /, *,
                 per_task: Mapping[str, Mapping[str, Any]] | None = None,
                 search_space: Mapping[str, Mapping[str, Any]] | None = None) -> None: ...


class RegisterMetric(Protocol):
    def __call__(self, name: str, compute: Callable[[EvalContext], dict[str, float]],
                 description: str, /) -> None: ...


class RegisterExecutor(Protocol):
    def __call__(self, name: str, build: Callable[[int | None], Executor],
                 description: str, /) -> None: ...


class RegisterLogger(Protocol):
    def __call__(self, name: str, build: Callable[[str, Config, str | None], Logger],
                 description: str, /) -> None: ...


class RegisterClaim(Protocol):
    def __call__(self, claim: Claim, /) -> None: ...


class RegisterCommand(Protocol):
    def __call__(self, command: Any, /) -> None: ...


@hookspec
def register_tasks(register: RegisterTask) -> None:
    """Register tasks: ``register(TaskClass)``, a subclass of :class:`grokbench.Task`.

    A task owns its data, its kind (classification or regression), its default model and
    hyperparameters, and its generalization target (metric and threshold)."""


@hookspec
def register_models(register: RegisterModel) -> None:
    """Register models: ``register(name, build, description, options={})``.

    ``build(info: TaskInfo, config: dict) -> torch.nn.Module``. ``options`` are the model's own
    settings, ``{name: grokbench.Option(default, help, type, ...)}`` (they become ``--set``
    keys, checked against the declaration, and ``grokbench list models`` shows them)."""


@hookspec
def register_losses(register: RegisterLoss) -> None:
    """Register losses: ``register(name, build, description, options={}, probabilities=None,
    task_kinds=None)``.

    ``build(config) -> fn(output, target) -> per-sample loss tensor`` (the engine takes the mean).
    ``probabilities(output, config)``: the class probabilities the loss trains, in the precision
    it computes them (Softmax Collapse is measured on them); ``task_kinds``: the task kinds the
    loss applies to (with any other, the pair is "not applicable")."""


@hookspec
def register_optimizers(register: RegisterOptimizer) -> None:
    """Register optimizers: ``register(name, build, description, options={}, wrapper=False)``.

    A base optimizer: ``build(params: list, config) -> torch.optim.Optimizer``.
    A wrapper (``wrapper=True``, e.g. ⊥Grad, Grokfast, the norm constraint):
    ``build(inner_optimizer, model, config) -> grokbench.OptimizerWrapper``; wrappers are
    listed in the ``wrappers`` setting and applied to the gradient in that order."""


@hookspec
def register_methods(register: RegisterMethod) -> None:
    """Register methods: ``register(name, settings: dict, description, per_task={},
    search_space=None)``.

    A method is a named recipe of settings (``--method perpgrad+stablemax`` composes several);
    the ``wrappers`` lists are concatenated, any other setting given two different values is a
    conflict. ``per_task`` maps a task name to the method's published recipe for that task.
    ``search_space`` is what ``grokbench sweep --tuning N`` may tune, setting -> distribution:
    ``{"log_uniform": [lo, hi]}``, ``{"uniform": [lo, hi]}``, ``{"int_uniform": [lo, hi]}`` or
    ``{"choice": [v1, v2, ...]}`` (grokbench/tuning.py; docs/science.md, "Tuning")."""


@hookspec
def register_metrics(register: RegisterMetric) -> None:
    """Register metrics: ``register(name, compute, description)``.

    ``compute(ctx: EvalContext) -> dict[str, float]`` runs at every evaluation."""


@hookspec
def register_executors(register: RegisterExecutor) -> None:
    """Register sweep executors: ``register(name, build, description)``.

    ``build(workers: int | None)`` (None: the executor's own default) returns a
    :class:`grokbench.Executor`: ``submit(fn, *args) -> concurrent.futures.Future`` and
    ``shutdown(wait, cancel_futures)``, as a ``concurrent.futures.Executor`` has, plus two
    attributes: ``workers`` (runs at once; the sweep keeps about twice that many submitted) and
    ``store_in_worker`` (True: the job writes its result to the SQLite file itself, so the
    workers must share the machine with it; False: the result comes back in the future and the
    sweep's process stores it).
    The sweep submits :func:`grokbench.sweep.run_job` with a picklable config dict and the
    store path (or None); it returns an outcome dict and never raises for a run's own error."""


@hookspec
def register_loggers(register: RegisterLogger) -> None:
    """Register loggers: ``register(name, build, description)``.

    ``build(run_id, config, log_dir) -> grokbench.Logger`` (``log(step, metrics: dict)`` and
    ``close()``).
    The SQLite store stays the source of truth; loggers mirror evaluations to other tools."""


@hookspec
def register_claims(register: RegisterClaim) -> None:
    """Register paper claims: ``register(claim)``, a :class:`grokbench.Claim`.

    A claim names its paper and figure or section, the runs it needs (:class:`grokbench.Runs`:
    task × method × seeds × settings, with the budget), its checks (a statistic of the stored
    scores, :class:`grokbench.Median`, ``Ratio``, ``Difference`` or ``Slope``, against a bound),
    the paper's value, and whether it is ``slow``. ``grokbench claims`` runs and reports them."""


@hookspec
def register_commands(register: RegisterCommand) -> None:
    """Register subcommands of the ``grokbench`` command line: ``register(command)``, a
    ``click.Command`` (decorate a function with ``@click.command()``); its name is the
    subcommand's (as simonw/llm's ``register_commands``). A name the core already uses (run,
    sweep, ...) is refused. Plugins are loaded for them only when a command that is not a
    core one is asked for, or the command list is shown (``grokbench --help``)."""
