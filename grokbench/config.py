"""Resolving a run's settings: one flat dict, built in layers, hashed to give the run its id.

Layers, later wins: engine defaults < options of the chosen model/loss/optimizers < task
options and defaults < the task's defaults for the chosen model < preset < methods < each
method's recipe for this task < the task's defaults for those methods < command line. Every key a user overrides must exist in some layer, so typos fail loudly.
"""
from __future__ import annotations

import ast
import difflib
import hashlib
import json

from .errors import NotApplicable, UserError

ENGINE_DEFAULTS = {
    "task": None,
    "method": "baseline",
    "preset": None,
    "model": "mlp",
    "loss": "ce",
    "optimizer": "adamw",
    "wrappers": [],          # optimizer wrappers (perpgrad, grokfast, norm), gradient order
    "lr": 1e-3,
    "betas": [0.9, 0.999],
    "eps": 1e-8,
    "weight_decay": 0.0,
    "momentum": 0.0,         # SGD only
    "grad_clip": None,       # max global gradient norm, None = off
    "init_scale": 1.0,       # Omnigrok's α: every parameter is multiplied by it after init
    "steps": 1000,
    "batch_size": None,      # None = full batch (reshuffled each step, as ref-SM does)
    "eval_every": 100,
    "evals_per_decade": 10,  # early evaluations: log-spaced points per decade below eval_every
    "eval_batch_size": 8192,
    "seed": 0,
    "dtype": "float32",
    "device": "cpu",
    "fit_target": 0.99,
    "sc_threshold": 0.1,     # collapse onset threshold (the StableMax paper's figures drew 0.4/0.5)
    "hold_evals": 3,         # the target counts as held after this many evaluations in a row
    "early_stop": False,     # stop at the decision point (scores are read up to it anyway)
    "softmax_precision": "float32",  # precision of the softmax-view SC diagnostic
    "acc_threshold": 1e-3,   # regression: per-sample MSE below this counts as correct
    "threads": None,         # torch/OpenMP threads for this run (None = torch's default)
    "loggers": [],           # extra loggers (e.g. tensorboard); the SQLite store is always written
    "log_dir": None,
}

# Settings that do not change what a run computes, so they are not part of its identity.
NOT_IDENTITY = {"threads", "loggers", "log_dir"}

DTYPES = ("float16", "bfloat16", "float32", "float64")


def parse_value(text: str):
    """Parse a command-line value: numbers, booleans, None, lists ("0.9,0.99"), else a string."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return list(value) if isinstance(value, tuple) else value


def parse_assignments(pairs) -> dict:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"--set takes key=value, got {pair!r} (e.g. --set p=97)")
        key, value = pair.split("=", 1)
        out[key.strip().replace("-", "_")] = parse_value(value)
    return out


def merge_methods(registry, method_expr: str) -> dict:
    """Merge the settings of ``a+b+c``: lists concatenate, other keys must agree."""
    merged, owner = {}, {}
    names = [m.strip() for m in method_expr.split("+") if m.strip()]
    if not names:
        raise UserError("--method is empty; e.g. --method perpgrad or --method perpgrad+stablemax")
    for name in names:
        settings = registry.get("methods", name).obj
        for key, value in settings.items():
            if key == "wrappers":  # optimizer wrappers stack; any other list (betas) is one value
                merged[key] = merged.get(key, []) + [v for v in value if v not in merged.get(key, [])]
            elif key in merged and _canon(merged[key]) != _canon(value):
                merged.setdefault("__conflicts__", {})[key] = (owner[key], merged[key], name, value)
            else:
                merged[key], owner[key] = value, name
    return merged


def resolve(registry, task: str, method: str = "baseline", overrides: dict | None = None,
            preset: str | None = None) -> dict:
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None or k == "grad_clip"}
    # A list setting given as words (--set loggers=tensorboard, or "a,b": strings literal_eval
    # cannot parse) is a list of those words, not a string to iterate letter by letter.
    for key, value in overrides.items():
        if isinstance(ENGINE_DEFAULTS.get(key), list) and isinstance(value, str):
            overrides[key] = [v.strip() for v in value.split(",") if v.strip()]
    task_entry = registry.get("tasks", task)
    task_cls = task_entry.obj
    methods = merge_methods(registry, method)
    conflicts = methods.pop("__conflicts__", {})
    for key, (m1, v1, m2, v2) in conflicts.items():
        if key not in overrides:
            raise UserError(f"methods {m1!r} and {m2!r} conflict on {key} ({v1!r} vs {v2!r}); "
                            f"drop one or choose with --set {key}=VALUE")
    if preset is not None and preset not in task_cls.presets:
        raise UserError(f"task {task!r} has no preset {preset!r}; presets: "
                        f"{', '.join(sorted(task_cls.presets)) or 'none'}")
    preset_settings = task_cls.presets.get(preset, {}) if preset else {}

    # First pass: which components are chosen decides which option defaults join the bottom layer.
    def chosen(key):
        for layer in (overrides, methods, preset_settings):
            if key in layer:
                return layer[key]
        model = task_cls.defaults.get("model", ENGINE_DEFAULTS["model"])
        for layer in (task_cls.model_defaults.get(model, {}), task_cls.defaults):
            if key in layer:
                return layer[key]
        return ENGINE_DEFAULTS[key]

    model = chosen("model")
    components = [("models", model), ("losses", chosen("loss")), ("optimizers", chosen("optimizer"))]
    components += [("optimizers", w) for w in chosen("wrappers")]
    config = dict(ENGINE_DEFAULTS)
    for kind, name in components:
        entry = registry.get(kind, name)
        if kind == "optimizers" and (name in chosen("wrappers")) != entry.wrapper:
            raise UserError(f"{name!r} is {'a wrapper' if entry.wrapper else 'a base optimizer'}: "
                            f"use --set {'wrappers=' + name if entry.wrapper else 'optimizer=' + name}")
        config.update(entry.options)
        if kind == "losses" and entry.task_kinds is not None and task_cls.kind not in entry.task_kinds:
            raise NotApplicable(f"loss {name!r} applies to {'/'.join(entry.task_kinds)} tasks; "
                                f"{task!r} is a {task_cls.kind} task")
    config.update(task_cls.options)
    config["target_metric"], config["target"] = task_cls.target_metric, task_cls.target
    config.update(task_cls.defaults)
    config.update(task_cls.model_defaults.get(model, {}))
    config.update(preset_settings)
    config.update(methods)
    names = [n.strip() for n in method.split("+") if n.strip()]
    for name in names:  # each method's published recipe for this task
        config.update(registry.get("methods", name).per_task.get(task, {}))
    for name in names:  # the task's own settings for a method it is run with
        config.update(task_cls.method_defaults.get(name, {}))
    unknown = [k for k in overrides if k not in config and k not in NOT_IDENTITY]
    if unknown:
        key = unknown[0]
        hint = difflib.get_close_matches(key, list(config), n=1)
        raise UserError(f"unknown setting {key!r} for task {task!r}"
                        + (f"; did you mean {hint[0]!r}?" if hint else "")
                        + " (`grokbench run --task TASK --show-config` lists them)")
    for key, value in overrides.items():
        # 0 and 0.0 are one setting: keep the default's float type so both spellings give the
        # same run id (else a sweep would retrain an identical run).
        if isinstance(config.get(key), float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        config[key] = value
    config["task"], config["method"], config["preset"] = task, method, preset
    config["model"] = model
    if config["dtype"] not in DTYPES:
        raise UserError(f"unknown dtype {config['dtype']!r}; choose one of {', '.join(DTYPES)}")
    return canonical(config)


def canonical(config: dict) -> dict:
    """JSON round trip: tuples become lists, so a config and its stored copy compare equal."""
    return json.loads(json.dumps(config, sort_keys=True))


def _canon(value):
    return json.dumps(value, sort_keys=True)


def run_id(config: dict) -> str:
    """A run is a pure function of its config: the id is a hash of the identity settings."""
    ident = {k: v for k, v in config.items() if k not in NOT_IDENTITY}
    return hashlib.sha256(_canon(ident).encode()).hexdigest()[:16]
