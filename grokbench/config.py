"""Resolving a run's settings: one flat dict, built in layers, hashed to give the run its id.

The layers, lowest first (a later one wins), from the engine's own settings
(:data:`ENGINE_OPTIONS`) up to the command line, are listed once: :func:`settings_layers`.
Every key a user overrides must exist in some layer, so typos fail loudly; a value given for a
declared setting is read as its type and every layer's value is checked against its
declaration (grokbench/options.py).
"""
from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from .checkpoints import normalize
from .errors import NotApplicable, UserError
from .options import Option, check, coerce, declare_all, defaults, omitted_from_id, parse_value
from .registry import get_registry, singular

DTYPES = ("float16", "bfloat16", "float32", "float64")

#: The engine's own settings, declared as a component declares its options (docs/plugins.md,
#: "The config a builder receives"); a plain value here is a declaration too.
ENGINE_OPTIONS: dict[str, Any] = {
    "task": Option(None, "the task (chosen with --task)", str),
    "method": Option("baseline", "the methods, a+b+c (chosen with --method)", str),
    "preset": Option(None, "the task's preset (chosen with --preset)", str),
    "model": Option("mlp", "the model, by name (`grokbench list models`)", str),
    "loss": Option("ce", "the loss, by name (`grokbench list losses`)", str),
    "optimizer": Option("adamw", "the base optimizer, by name (`grokbench list optimizers`)", str),
    "wrappers": Option([], "optimizer wrappers (perpgrad, grokfast, norm), in gradient order",
                       list, items=str),
    "lr": Option(1e-3, "learning rate", float, minimum=0),
    "betas": Option([0.9, 0.999], "Adam's β1, β2", list, items=float, minimum=0, maximum=1,
                    exclusive_maximum=True),
    "eps": Option(1e-8, "Adam's ε, added to √v", float, minimum=0),
    "weight_decay": Option(0.0, "weight decay γ (AdamW: decoupled)", float, minimum=0),
    "momentum": Option(0.0, "SGD's momentum (SGD only)", float, minimum=0),
    "grad_clip": Option(None, "max global gradient norm (none: off)", float, minimum=0),
    # Added after the committed runs (whose computations they do not change at their defaults,
    # so those keep their run ids): the Grokfast code's warm-up and its keeping of the last
    # partial minibatch of an epoch.
    "warmup_steps": Option(0, "linear learning-rate warm-up: the lr of update u (from 0) is "
                           "lr·min(u / warmup_steps, 1), so the first update has lr 0, as the "
                           "Grokfast code's LambdaLR (0: off)", int, minimum=0,
                           omit_default_from_id=True),
    "last_batch": Option("drop", "minibatches: drop an epoch's last partial batch (drop) or "
                         "train on it as a step of its own (keep, as the Grokfast code)", str,
                         choices=("drop", "keep"), omit_default_from_id=True),
    "init_scale": Option(1.0, "Omnigrok's α: every parameter is multiplied by it after init",
                         float),
    "steps": Option(1000, "training steps (0: evaluate the initialization only)", int,
                    minimum=0),
    "batch_size": Option(None, "samples per step (none: the full training set, reshuffled "
                         "each step; docs/science.md)", int, minimum=1),
    "eval_every": Option(100, "evaluate every this many steps", int, minimum=1),
    "evals_per_decade": Option(10, "early evaluations: log-spaced points per decade below "
                               "eval_every", int, minimum=1),
    "eval_batch_size": Option(8192, "chunk size of evaluation passes (not part of the science)",
                              int, minimum=1),
    # the store keeps seeds as SQLite's int64
    "seed": Option(0, "the run's seed (data, init and batches get their own streams from it)",
                   int, minimum=-2**63, maximum=2**63 - 1),
    "dtype": Option("float32", "training precision", str, choices=DTYPES),
    "precision": Option("pure", "pure: everything in dtype; bf16-mixed / fp16-mixed: "
                        "torch.autocast forward passes in bfloat16 / float16 over float32 master "
                        "weights (fp16 with a gradient scaler), as mixed-precision training runs "
                        "(docs/science.md, \"Precision\")", str,
                        choices=("pure", "bf16-mixed", "fp16-mixed"), omit_default_from_id=True),
    "device": Option("cpu", "torch device (cpu, cuda, cuda:1, ...)", str),
    "fit_target": Option(0.99, "fitted = first evaluation with train_acc ≥ this", float),
    "sc_threshold": Option(0.1, "collapse onset = first evaluation with sc_fraction ≥ this "
                           "(the StableMax paper's figures drew 0.4/0.5)", float),
    "hold_evals": Option(3, "the target counts as held after this many evaluations in a row",
                         int, minimum=1),
    "early_stop": Option(False, "stop at the decision point (scores are read up to it anyway)",
                         bool),
    "softmax_precision": Option("float32", "precision of the softmax-view Softmax Collapse "
                                "diagnostic", str, choices=DTYPES),
    "acc_threshold": Option(1e-3, "regression: a sample is correct when its MSE is below this",
                            float),
    "threads": Option(None, "torch/OpenMP threads for this run (none: torch's default)", int,
                      minimum=1),
    "loggers": Option([], "extra loggers (e.g. tensorboard); the SQLite store is always written",
                      list, items=str),
    "log_dir": Option(None, "where loggers write", str),
    # Not part of a run's id (NOT_IDENTITY): saving weights changes nothing a run computes.
    "checkpoints": Option([], "save the weights at these steps, beside the store "
                          "(grokbench/checkpoints.py): steps, log:N (about N log-spaced "
                          "evaluations) and/or last, e.g. log:10,last", list),
}
ENGINE_DECLARED: dict[str, Option] = declare_all(ENGINE_OPTIONS, "grokbench")
ENGINE_DEFAULTS: dict[str, Any] = defaults(ENGINE_DECLARED)

# The fix an error about these settings suggests: their command-line flags (any other setting:
# --set name=DEFAULT).
FIXES = {"seed": "--seed 0", "steps": "--steps 1000", "eval_every": "--eval-every 100",
         "batch_size": "--batch-size 32", "threads": "--threads 1"}

# Settings that do not change what a run computes, so they are not part of its identity.
NOT_IDENTITY = {"threads", "loggers", "log_dir", "checkpoints"}


def parse_assignments(pairs) -> dict:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"--set takes key=value, got {pair!r} (e.g. --set p=97)")
        key, value = pair.split("=", 1)
        out[key.strip().replace("-", "_")] = parse_value(value)
    return out


def method_names(registry, method_expr: str) -> list[str]:
    """The methods of ``a+b+c`` in canonical order, so that spellings of one computation
    (``wd+perpgrad`` and ``perpgrad+wd``, ``wd+wd``, ``"wd+"``) give one method name and one run id.

    Names are deduplicated and sorted, except that methods adding optimizer wrappers keep the
    order they were written in among themselves (their sorted places are filled in that order):
    the first wrapper listed sees the gradient first, so ``perpgrad+grokfast`` and
    ``grokfast+perpgrad`` are different computations. Everything else a method sets must agree
    with the others (see merge_methods), so its place does not matter."""
    names = list(dict.fromkeys(m.strip() for m in method_expr.split("+") if m.strip()))
    if not names:
        raise UserError("--method is empty; e.g. --method perpgrad or --method perpgrad+stablemax")
    stacking = [n for n in names if registry.get("methods", n).obj.get("wrappers")]
    in_order = iter(stacking)
    return [next(in_order) if n in stacking else n for n in sorted(names)]


def canonical_method(registry, method_expr: str) -> str:
    return "+".join(method_names(registry, method_expr))


def stored_method_name(registry, method_expr: str) -> str:
    """The name a method's runs are stored under: its canonical name (wd+perpgrad as
    perpgrad+wd), or the name as written when no installed plugin knows it (its runs may still
    be stored)."""
    try:
        return canonical_method(registry, method_expr)
    except UserError:
        return method_expr


def merge_methods(registry, method_expr: str) -> dict:
    """Merge the settings of ``a+b+c``: lists concatenate, other keys must agree."""
    merged: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for name in method_names(registry, method_expr):
        settings = registry.get("methods", name).obj
        for key, value in settings.items():
            if key == "wrappers":  # optimizer wrappers stack; any other list (betas) is one value
                merged[key] = merged.get(key, []) + [v for v in value if v not in merged.get(key, [])]
            elif key in merged and _canon(merged[key]) != _canon(value):
                merged.setdefault("__conflicts__", {})[key] = (owner[key], merged[key], name, value)
            else:
                merged[key], owner[key] = value, name
    return merged


def recipe_conflicts(registry, task: str, method: str, found: dict) -> dict:
    """Settings on which two of the methods disagree once each method's published recipe for
    this task is counted as that method's settings (Grokfast's modadd recipe sets weight decay
    0.005, wd sets 1: ``grokfast+wd`` is a conflict, not whichever layer comes last). A method's
    recipe may change its own settings. {key: (m1, v1, m2, v2)}, the methods named with the
    layer that set the value; keys already in ``found`` are left."""
    names = method_names(registry, method)
    if len(names) < 2:
        return {}
    own: dict[str, dict[str, tuple[Any, str]]] = {}
    for name in names:
        entry = registry.get("methods", name)
        settings = {k: (v, name) for k, v in entry.obj.items() if k != "wrappers"}
        settings.update({k: (v, f"{name} (its recipe for {task})")
                         for k, v in entry.per_task.get(task, {}).items()})
        own[name] = settings
    out: dict = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for key in own[a].keys() & own[b].keys():
                (va, wa), (vb, wb) = own[a][key], own[b][key]
                if key not in found and key not in out and _canon(va) != _canon(vb):
                    out[key] = (wa, va, wb, vb)
    return out


@dataclass(frozen=True)
class Layer:
    """One layer of a run's settings (:func:`settings_layers`)."""

    #: what ``--show-config --explain`` calls it, e.g. "task modadd's defaults"
    name: str
    #: the values it gives
    settings: Mapping[str, Any]
    #: a declaring layer's declarations: what a value given for each setting must be; {} above
    declared: Mapping[str, Option] = field(default_factory=dict)
    #: who declares them, as an error about a value names it, e.g. "task modadd option"
    declarer: str = ""


def _declaring(who: str, options: Mapping[str, Option]) -> Layer:
    return Layer(f"{who}'s option default", defaults(options), options, f"{who} option")


def chosen_components(model: str, loss: str, optimizer: str,
                      wrappers: list[str]) -> list[tuple[str, str]]:
    """(registry kind, name) of the components a run uses, in the order their options layer."""
    return [("models", model), ("losses", loss), ("optimizers", optimizer),
            *(("optimizers", w) for w in wrappers)]


def settings_layers(registry, task: str, method: str, methods: dict, preset: str | None,
                    overrides: dict, model: str,
                    components: list[tuple[str, str]] | None = None) -> list[Layer]:
    """The layers a run's settings are resolved from, lowest first: a later layer wins. This
    list is the one place their order is written: :func:`resolve` chooses the components from it
    and builds the config from it, and :func:`explain` (``--show-config --explain``) names the
    highest layer that sets each value.

    ``method`` is canonical, ``methods`` its settings merged (:func:`merge_methods`), ``model``
    the chosen model (whose task defaults apply), ``components`` the chosen components
    (:func:`chosen_components`); resolve asks for the layers without them to choose them."""
    task_entry = registry.get("tasks", task)
    task_cls = task_entry.obj
    return [
        # The declaring layers: every setting a run has and what a value for it must be.
        Layer("grokbench default", ENGINE_DEFAULTS, ENGINE_DECLARED, "grokbench setting"),
        *(_declaring(f"{singular(kind)} {name}", registry.get(kind, name).options)
          for kind, name in components or ()),
        _declaring(f"task {task}", task_entry.options),
        Layer(f"task {task}", {"target_metric": task_cls.target_metric, "target": task_cls.target}),
        # What the task, the user's preset, the methods and the user set.
        Layer(f"task {task}'s defaults", task_cls.defaults),
        Layer(f"task {task}'s defaults for model {model}", task_cls.model_defaults.get(model, {})),
        Layer(f"preset {preset}", task_cls.presets.get(preset, {}) if preset else {}),
        Layer("methods", methods),
        # Task × method settings have this one layer: each method's published recipe for the
        # task (register_methods' per_task). It belongs to the method, so that a method's name
        # means the settings its plugin lists (`grokbench list methods`); a task that needs
        # another setting with a method it does not own asks for it in that method's recipe,
        # or offers it as a preset (docs/plugins.md, "The config a builder receives").
        *(Layer(f"method {name}'s recipe for {task}",
                registry.get("methods", name).per_task.get(task, {}))
          for name in method_names(registry, method)),
        Layer("command line", overrides),
    ]


def resolve(registry, task: str, method: str = "baseline", overrides: dict | None = None,
            preset: str | None = None) -> dict:
    # An override that is None was given as none (--set batch_size=none: full batch), so it is
    # kept and checked like any value; flags not given never reach here (collect_overrides).
    overrides = dict(overrides or {})
    # A list setting given as words (--set loggers=tensorboard, or "a,b": strings literal_eval
    # cannot parse) is a list of those words, not a string to iterate letter by letter.
    for key, value in overrides.items():
        if isinstance(ENGINE_DEFAULTS.get(key), list) and isinstance(value, str):
            overrides[key] = [v.strip() for v in value.split(",") if v.strip()]
        elif key == "checkpoints" and not isinstance(value, list):  # one step: --set checkpoints=300
            overrides[key] = [] if value is None else [value]
    task_cls = registry.get("tasks", task).obj
    method = canonical_method(registry, method)  # every later step reads the canonical order
    methods = merge_methods(registry, method)
    conflicts = methods.pop("__conflicts__", {})
    conflicts.update(recipe_conflicts(registry, task, method, conflicts))
    for key, (m1, v1, m2, v2) in conflicts.items():
        if key not in overrides:
            raise UserError(f"methods {_quoted(m1)} and {_quoted(m2)} conflict on {key} ({v1!r} "
                            f"vs {v2!r}); drop one or choose with --set {key}=VALUE")
    if preset is not None and preset not in task_cls.presets:
        raise UserError(f"task {task!r} has no preset {preset!r}; presets: "
                        f"{', '.join(sorted(task_cls.presets)) or 'none'}")

    def layers(model, components=None):
        return settings_layers(registry, task, method, methods, preset, overrides, model,
                               components)

    # The chosen components decide which option defaults join the declaring layers, so they are
    # looked up in the layers first. The model comes first: which model_defaults apply depends
    # on it (it is looked up with the task's default model's).
    model = lookup(layers(task_cls.defaults.get("model", ENGINE_DEFAULTS["model"])), "model")
    above = layers(model)
    wrappers = lookup(above, "wrappers")
    if isinstance(wrappers, list) and len(set(map(str, wrappers))) != len(wrappers):
        # a wrapper listed twice would run twice, under a method name that does not say so
        twice = sorted({str(w) for w in wrappers if wrappers.count(w) > 1})
        raise UserError(f"wrappers lists {', '.join(twice)} more than once; each wrapper runs "
                        f"once: e.g. --set wrappers={','.join(dict.fromkeys(map(str, wrappers)))}")
    components = chosen_components(model, lookup(above, "loss"), lookup(above, "optimizer"),
                                   wrappers)
    for kind, name in components:
        entry = registry.get(kind, name)
        if kind == "optimizers" and (name in wrappers) != entry.wrapper:
            raise UserError(f"{name!r} is {'a wrapper' if entry.wrapper else 'a base optimizer'}: "
                            f"use --set {'wrappers=' + name if entry.wrapper else 'optimizer=' + name}")
        if kind == "losses" and entry.task_kinds is not None and task_cls.kind not in entry.task_kinds:
            raise NotApplicable(f"loss {name!r} applies to {'/'.join(entry.task_kinds)} tasks; "
                                f"{task!r} is a {task_cls.kind} task")
    *below_command_line, command_line = layers(model, components)
    # Each setting as the declaring layers declare it (later wins), with who declares it: what a
    # value given for it must be.
    declared: dict[str, tuple[Option, str]] = {}
    config: dict[str, Any] = {}
    for layer in below_command_line:
        declared.update({key: (option, layer.declarer) for key, option in layer.declared.items()})
        config.update(layer.settings)
    unknown = [k for k in overrides if k not in config and k not in NOT_IDENTITY]
    if unknown:
        key = unknown[0]
        hint = difflib.get_close_matches(key, list(config), n=1)
        raise UserError(f"unknown setting {key!r} for task {task!r}"
                        + (f"; did you mean {hint[0]!r}?" if hint else "")
                        + " (`grokbench run --task TASK --show-config` lists them)")
    for key, value in command_line.settings.items():
        # a setting only a layer gives (no one declares it) takes the type of that value
        option, where = declared.get(key, (Option(None), f"setting of task {task}"))
        config[key] = coerce(key, option, value, where, current=config.get(key), fix=FIXES.get(key))
    config["task"], config["method"], config["preset"] = task, method, preset
    config["model"] = model
    for key, (option, where) in declared.items():  # values from every layer, not only --set
        check(key, option, config[key], where, FIXES.get(key))
    check_device(config["device"])
    check_dtype_and_eps(config)
    check_precision(config)
    config["checkpoints"] = normalize(config.get("checkpoints"), int(config["steps"]))
    config["plugin_versions"] = plugin_versions(registry, config)
    return canonical(config)


def explain(registry, config: dict, overrides: dict | None = None) -> dict[str, str]:
    """Which layer set each value of a resolved ``config`` (``--show-config --explain``): the
    highest of :func:`settings_layers` that sets it."""
    task, method = config["task"], config["method"]
    methods = merge_methods(registry, method)
    methods.pop("__conflicts__", None)
    components = chosen_components(config["model"], config["loss"], config["optimizer"],
                                   config["wrappers"])
    out = {}
    for layer in settings_layers(registry, task, method, methods, config["preset"],
                                 overrides or {}, config["model"], components):
        for key in layer.settings:
            if layer.settings is methods:  # which of them
                owners = [m for m in method_names(registry, method)
                          if key in registry.get("methods", m).obj]
                out[key] = "method " + "+".join(owners) if owners else layer.name
            else:
                out[key] = layer.name
    out.update({"task": "--task", "method": "--method", "preset": "--preset",
                "plugin_versions": "the installed plugins"})
    return {key: out.get(key, "?") for key in config}


def lookup(layers: list[Layer], key: str):
    """A setting's value from the highest layer that sets it, else the engine's default."""
    for layer in reversed(layers):
        if key in layer.settings:
            return layer.settings[key]
    return ENGINE_DEFAULTS[key]


def check_device(device: str):
    try:
        torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise UserError(f"device {device!r} is not a torch device; e.g. --device cpu, cuda or "
                        "cuda:1") from None


def check_dtype_and_eps(config: dict):
    """Adam's ε is added to √v in the training dtype: 1e-8 is 0 in float16 (its smallest
    subnormal is 6e-8), so the first step divides 0 by 0 and every run turns NaN at step 1, which
    would read as a finding about the method. Refused, with what to do, rather than trained."""
    if config["dtype"] != "float16" or config.get("optimizer") not in ("adam", "adamw"):
        return
    eps = config.get("eps")
    if isinstance(eps, (int, float)) and eps >= 2 ** -14:  # float16's smallest normal number
        return
    raise UserError(f"float16 training with {config['optimizer']} needs eps of at least 6.1e-5 "
                    f"(float16's smallest normal number): eps={eps!r} is 0 or subnormal there and "
                    "runs turn NaN at step 1; use --dtype bfloat16, or --set eps=1e-4")


def check_precision(config: dict):
    """Mixed precision keeps float32 master weights: a run whose method or settings train in
    another dtype (the `float64` method, --dtype bfloat16) is not a mixed-precision run, so the
    pair is not applicable (a sweep lists it so) rather than silently trained as something else."""
    if config.get("precision", "pure") != "pure" and config["dtype"] != "float32":
        raise NotApplicable(f"precision={config['precision']} keeps float32 master weights; "
                            f"dtype={config['dtype']} is pure {config['dtype']} training (use "
                            "--set precision=pure, or --dtype float32)")


def plugin_versions(registry, config: dict) -> dict:
    """{distribution: version} of the plugins that provide what this run uses: its task, model,
    loss, optimizer and wrappers, and every metric (all registered metrics run). Part of the
    config and so of the run id: a new version of a plugin may compute something else, so its
    runs must not be mistaken for the old ones. A plugin registered without a distribution
    (in-process) is keyed by its plugin name."""
    used = [("tasks", config["task"]), ("models", config["model"]), ("losses", config["loss"]),
            ("optimizers", config["optimizer"])]
    used += [("optimizers", name) for name in config["wrappers"]]
    used += [("metrics", name) for name in registry.names("metrics")]
    out = {}
    for kind, name in used:
        info = registry.plugins[registry.get(kind, name).plugin]
        out[info.distribution or f"plugin:{info.name}"] = info.version
    return out


def canonical(config: dict) -> dict:
    """JSON round trip: tuples become lists, so a config and its stored copy compare equal."""
    return json.loads(json.dumps(config, sort_keys=True))


def _quoted(who: str) -> str:
    """'wd', or 'grokfast' (its recipe for modadd): the method quoted, the layer after it."""
    name, _, layer = who.partition(" ")
    return repr(name) + (f" {layer}" if layer else "")


def _canon(value):
    return json.dumps(value, sort_keys=True)


def run_id(config: dict) -> str:
    """A run is a pure function of its config: the id is a hash of the identity settings.

    A setting added after runs were committed is left out while it has the default that
    reproduces them (``Option.omit_default_from_id``), so they keep their ids. The plugins'
    declarations say which settings those are, so they are loaded first."""
    get_registry()
    ident = {k: v for k, v in config.items()
             if k not in NOT_IDENTITY and not omitted_from_id(k, v)}
    return hashlib.sha256(_canon(ident).encode()).hexdigest()[:16]


def seeds_key(config: dict) -> str:
    """What a run shares with its other seeds: its run id with the seed set aside (a
    leaderboard row; the timings that project a run's cost)."""
    return run_id(dict(config, seed=0))


def with_omitted_defaults(configs: list[dict]) -> list[dict]:
    """These runs' configs, each with the later-added settings that some of them record at the
    default reproducing the runs recorded before the setting existed (``omitted_from_id``)
    filled in where it lacks them: they computed what that default computes. Unchanged where
    none lacks one."""
    get_registry()  # the plugins' declarations say which settings those are
    fill = {k: v for c in configs for k, v in c.items() if omitted_from_id(k, v)}
    return [{**fill, **c} if fill.keys() - c.keys() else c for c in configs]
