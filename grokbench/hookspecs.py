"""The hooks a grokbench plugin can implement.

Every hook is in the register-callback style (as in simonw/llm): the plugin is handed a
``register`` function and calls it once per thing it provides. The host validates each thing,
rejects a duplicate name with an error naming both plugins, and remembers who registered what.
"""
import pluggy

hookspec = pluggy.HookspecMarker("grokbench")
hookimpl = pluggy.HookimplMarker("grokbench")


@hookspec
def register_tasks(register):
    """Register tasks: ``register(TaskClass)``, a subclass of :class:`grokbench.api.Task`.

    A task owns its data, its kind (classification or regression), its default model and
    hyperparameters, and its generalization target (metric and threshold)."""


@hookspec
def register_models(register):
    """Register models: ``register(name, build, description, options={})``.

    ``build(info: TaskInfo, config: dict) -> torch.nn.Module``. ``options`` are the model's own
    settings with their defaults (they become overridable ``--set`` keys)."""


@hookspec
def register_losses(register):
    """Register losses: ``register(name, build, description, options={})``.

    ``build(config) -> fn(output, target) -> per-sample loss tensor`` (the engine takes the mean)."""


@hookspec
def register_optimizers(register):
    """Register optimizers: ``register(name, build, description, options={}, wrapper=False)``.

    A base optimizer: ``build(params: list, config) -> torch.optim.Optimizer``.
    A wrapper (``wrapper=True``, e.g. ⊥Grad, Grokfast, the norm constraint):
    ``build(inner_optimizer, model, config) -> object with step() and zero_grad()``; wrappers are
    listed in the ``wrappers`` setting and applied to the gradient in that order."""


@hookspec
def register_methods(register):
    """Register methods: ``register(name, settings: dict, description)``.

    A method is a named recipe of settings (``--method perpgrad+stablemax`` composes several);
    the ``wrappers`` lists are concatenated, any other setting given two different values is a
    conflict."""


@hookspec
def register_metrics(register):
    """Register metrics: ``register(name, compute, description)``.

    ``compute(ctx: EvalContext) -> dict[str, float]`` runs at every evaluation."""


@hookspec
def register_executors(register):
    """Register sweep executors: ``register(name, build, description)``.

    ``build(workers: int | None)`` (None: the executor's own default) returns an object with
    ``submit(fn, *args) -> concurrent.futures.Future`` and ``shutdown(wait, cancel_futures)``,
    as a ``concurrent.futures.Executor`` has, plus two attributes: ``workers`` (runs at once;
    the sweep keeps about twice that many submitted) and ``store_in_worker`` (True: the job
    writes its result to the SQLite file itself, so the workers must share the machine with
    it; False: the result comes back in the future and the sweep's process stores it).
    The sweep submits :func:`grokbench.sweep.run_job` with a picklable config dict and the
    store path (or None); it returns an outcome dict and never raises for a run's own error."""


@hookspec
def register_loggers(register):
    """Register loggers: ``register(name, build, description)``.

    ``build(run_id, config, log_dir) -> object with log(step, metrics: dict) and close()``.
    The SQLite store stays the source of truth; loggers mirror evaluations to other tools."""
