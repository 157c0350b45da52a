"""Notebook metrics: ``grokbench.run(..., metrics={"name": fn})`` tries a metric without writing
a plugin package.

Each ``fn(ctx)`` receives the :class:`grokbench.EvalContext` a metric plugin gets, at every
evaluation, after the plugins' metrics, and returns a number (the column ``name``) or a dict of
numbers (columns ``name/key``). The values join the run's curve.

Such a run is **not stored**: a run id is a hash of the settings, and a Python function is not
a setting one can hash (a closure, a global, an edited cell change what it computes without
changing its name), so the store could not say which function made a stored column; and
storing the run without them would trust that the function left the training alone (it gets
the live model). So it trains each time, is never read from the store, and reaches no
leaderboard. To compute a metric over a stored run, save checkpoints and evaluate them:
``result.evaluate(step, metrics=...)`` (grokbench/checkpoints.py).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping

import torch

from .errors import UserError


def check(metrics) -> dict[str, Callable]:
    """``metrics`` as given to grokbench.run: a dict of names to functions."""
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise UserError("metrics takes a dict of names to functions, e.g. "
                        "metrics={'logit_max': lambda ctx: ctx.train_output.abs().max()}")
    for name, fn in metrics.items():
        if not isinstance(name, str) or not name.strip():
            raise UserError(f"a metric's name must be a non-empty string, got {name!r}")
        if not callable(fn):
            raise UserError(f"metric {name!r} must be a function of the evaluation context "
                            f"(fn(ctx) -> number or dict), got {type(fn).__name__}")
    return dict(metrics)


def _number(name: str, key: str, value, step: int) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UserError(f"metric {name!r} returned {type(value).__name__} for {key!r} at step "
                        f"{step}; return a number (or a one-element tensor), or a dict of them")
    value = float(value)
    return value if not math.isnan(value) else math.nan


def compute(metrics) -> Callable | None:
    """The engine's hook (engine.evaluate's ``notebook_metrics``): the functions' values at one
    evaluation, checked. The global RNG state is restored after them, so a function that draws
    random numbers does not move the training's stream."""
    fns = check(metrics)
    if not fns:
        return None

    def values(ctx, record: dict) -> dict:
        out: dict[str, float] = {}
        device = next((p.device for p in ctx.model.parameters()), torch.device("cpu"))
        gpus = [device.index or 0] if device.type == "cuda" else []  # and the run's GPU's
        with torch.random.fork_rng(devices=gpus):
            for name, fn in fns.items():
                try:
                    value = fn(ctx)
                except Exception as exc:
                    raise UserError(f"metric {name!r} failed at step {ctx.step}: "
                                    f"{type(exc).__name__}: {' '.join(str(exc).split())}") from exc
                if isinstance(value, Mapping):
                    items = {f"{name}/{k}": _number(name, str(k), v, ctx.step)
                             for k, v in value.items()}
                else:
                    items = {name: _number(name, name, value, ctx.step)}
                clash = sorted((record.keys() | out.keys() | {"step", "nonfinite"}) & items.keys())
                if clash:
                    raise UserError(f"metric {name!r} would overwrite {clash[0]!r}, already "
                                    f"recorded; name it otherwise, e.g. metrics={{'my_{name}': ...}}")
                out.update(items)
        return out

    return values

