"""Checkpoints: a run's weights at chosen steps, kept beside the results store.

``--set checkpoints=SPEC`` (``grokbench.run(..., checkpoints=SPEC)``) saves the model's
``state_dict`` with the ``safetensors`` library (tensors and a JSON header: never pickle, so
loading one runs no code) to ``<store>.checkpoints/<run id>/step-<N>.safetensors``. SPEC is a
comma-separated list of

- a step, e.g. ``0,100,3000`` (the weights after that many updates; 0 is the initialization);
- ``log:N``: about N steps log-spaced from step 1 to the budget, each moved to the nearest
  evaluation, so each has its row in the curve (duplicates dropped: ``log:10`` on modadd's 3000
  steps is 1, 2, 6, 16, 32, 100, 200, 500, 1250, 3000);
- ``last``: the last step the run trained (with ``early_stop``, its decision point).

Saving weights changes nothing a run computes, so ``checkpoints`` is not part of a run's id
(config.NOT_IDENTITY). The optimizer's state is not saved: a checkpoint is for analysing the
weights (and re-evaluating them, :func:`evaluate`), not for resuming training.
"""
from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .api import derive_seed
from .errors import UserError
from .registry import get_registry
from .schedule import eval_schedule
from .store import Store, default_store_path
from .version import __version__

SPELLING = "e.g. --set checkpoints=log:10,last or --set checkpoints=0,100,3000"
_FILE = re.compile(r"step-(\d+)\.safetensors$")


def normalize(value, steps: int) -> list:
    """The checkpoints setting as a list of steps (ints) and words (``log:N``, ``last``),
    checked: a bad item is one line naming the spelling."""
    if value is None or value == [] or value == "":
        return []
    items = value if isinstance(value, list) else [value]
    out: list = []
    for item in items:
        if isinstance(item, str):
            item = item.strip()
            if re.fullmatch(r"\d+", item):
                item = int(item)
        if isinstance(item, bool):
            raise UserError(f"checkpoints takes steps, log:N or last, got {item!r}; {SPELLING}")
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        if isinstance(item, int):
            if not 0 <= item <= steps:
                raise UserError(f"checkpoint step {item} is outside the run's 0..{steps} steps; "
                                f"{SPELLING}")
        elif isinstance(item, str) and item.lower() == "last":
            item = "last"
        elif isinstance(item, str) and re.fullmatch(r"log:\s*\d+", item.lower()):
            n = int(item.split(":")[1])
            if n < 1:
                raise UserError(f"checkpoints {item!r}: log:N takes N ≥ 1; {SPELLING}")
            item = f"log:{n}"
        else:
            raise UserError(f"checkpoints takes steps, log:N or last, got {item!r}; {SPELLING}")
        if item not in out:
            out.append(item)
    return out


def planned_steps(config: dict) -> list[int]:
    """The steps the spec names in advance (all but ``last``), in order."""
    steps, every = int(config["steps"]), int(config["eval_every"])
    spec = normalize(config.get("checkpoints"), steps)
    schedule = eval_schedule(steps, every, int(config["evals_per_decade"]))
    # the early evaluations, then multiples of eval_every: the nearest evaluation to a step is
    # among the early ones, the multiples either side of it and the last step (the schedule is
    # not listed whole: a budget may be huge)
    early = {schedule[i] for i in range(min(len(schedule), 500))}
    out = set()
    for item in spec:
        if isinstance(item, int):
            out.add(item)
        elif item.startswith("log:") and steps >= 1:
            n = int(item[4:])
            for i in range(n):
                target = steps ** (i / (n - 1)) if n > 1 else steps
                near = early | {steps, every * math.floor(target / every),
                                every * math.ceil(target / every)}
                evals = [e for e in near if 1 <= e <= steps and e in schedule]
                out.add(min(evals, key=lambda e: (abs(math.log(e) - math.log(target)), e)))
    return sorted(out)


def wants_last(config: dict) -> bool:
    return "last" in normalize(config.get("checkpoints"), int(config["steps"]))


def root(store_path) -> Path:
    """The checkpoints folder of a results store: ``<store>.checkpoints``."""
    store_path = Path(store_path)
    return store_path.with_name(store_path.name + ".checkpoints")


def run_dir(store_path, run_id: str) -> Path:
    return root(store_path) / run_id


def saved_steps(store_path, run_id: str) -> list[int]:
    """The steps a stored run has checkpoints at (none: [])."""
    folder = run_dir(store_path, run_id)
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for f in folder.iterdir() if (m := _FILE.match(f.name)))


def missing_note(config: dict, result: dict, store_path) -> str | None:
    """One line when a stored run (read instead of trained) lacks checkpoints its config asks
    for, else None."""
    if not normalize(config.get("checkpoints"), int(config["steps"])):
        return None
    last = result["curve"][-1]["step"] if result.get("curve") else 0
    wanted = {s for s in planned_steps(config) if s <= last} | ({last} if wants_last(config) else set())
    have = set(saved_steps(store_path, result["run_id"]))
    missing = sorted(wanted - have)
    if not missing:
        return None
    shown = ", ".join(map(str, missing[:8])) + (", ..." if len(missing) > 8 else "")
    return (f"run {result['run_id']} is stored without checkpoints at step(s) {shown} (it was "
            f"trained {'with other' if have else 'without'} checkpoints); --force trains it again "
            "and saves them")


class Checkpointer:
    """Writes a run's checkpoints while it trains, into a partial folder that replaces the run's
    folder when the run ends (a run trained again with --force replaces its checkpoints; a run
    that raised leaves none)."""

    def __init__(self, config: dict, store_path, run_id: str):
        self.steps = set(planned_steps(config))
        self.last = wants_last(config)
        self.final = run_dir(store_path, run_id)
        self.partial = self.final.with_name(f"{run_id}.partial-{os.getpid()}")
        self.meta = {"run_id": run_id, "grokbench": __version__, "format": "state_dict"}
        self.saved: set[int] = set()
        shutil.rmtree(self.partial, ignore_errors=True)
        try:
            self.partial.mkdir(parents=True)
        except OSError as exc:
            raise UserError(f"cannot write checkpoints to {self.partial.parent} ({exc.strerror}); "
                            "choose a writable store with --store PATH") from None

    def at(self, step: int, model: torch.nn.Module):
        """The weights after ``step`` updates, when the spec names that step."""
        if step in self.steps:
            self._save(step, model)

    def finish(self, model: torch.nn.Module, last_step: int):
        if self.last and last_step not in self.saved:
            self._save(last_step, model)
        shutil.rmtree(self.final, ignore_errors=True)
        os.replace(self.partial, self.final)

    def discard(self):
        shutil.rmtree(self.partial, ignore_errors=True)

    def _save(self, step: int, model: torch.nn.Module):
        # clones: safetensors refuses tensors that share memory (tied weights load back tied)
        tensors = {k: v.detach().to("cpu", copy=True).contiguous()
                   for k, v in model.state_dict().items()}
        save_file(tensors, str(self.partial / f"step-{step}.safetensors"),
                  metadata={**self.meta, "step": str(step)})
        self.saved.add(step)


# -- reading -------------------------------------------------------------------------------

def _stored(run_id: str, store_path) -> tuple[dict, Path]:
    path = Path(store_path) if store_path else default_store_path()
    if not path.exists():
        raise UserError(f"no results store at {path}; pass the store the run was saved in "
                        "(store=... or --store PATH)")
    db = Store(path)
    try:
        return db.get(run_id), path
    finally:
        db.close()


def checkpoint_file(run_id: str, step: int, store_path) -> Path:
    have = saved_steps(store_path, run_id)
    if step not in have:
        where = (f"it has checkpoints at steps {', '.join(map(str, have))}" if have else
                 "it has none: train it again with --set checkpoints=... --force "
                 "(grokbench.run(..., checkpoints=..., force=True))")
        raise UserError(f"run {run_id} has no checkpoint at step {step}; {where}")
    return run_dir(store_path, run_id) / f"step-{step}.safetensors"


def build(config: dict, registry=None, device=None):
    """The run's task, data (on the device, in the run's dtype) and a freshly built model, made
    as the engine makes them (same seeds, scale, dtype). The global RNG state is left as it was."""
    registry = registry or get_registry()
    device = torch.device(device or config["device"])
    dtype = getattr(torch, config["dtype"])
    seed = int(config["seed"])
    with torch.random.fork_rng(devices=[]):
        task = registry.get("tasks", config["task"]).obj()
        torch.manual_seed(derive_seed(seed, "data"))
        data = task.load(config)
        torch.manual_seed(derive_seed(seed, "model"))
        model = registry.get("models", config["model"]).obj(data.info, config)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(float(config["init_scale"]))
    model.to(device, dtype)
    return task, data, model


def load_into(model: torch.nn.Module, path: Path):
    state = load_file(str(path), device=str(next(model.parameters()).device))
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


def load_model(run_id: str, step: int, store=None, device=None) -> torch.nn.Module:
    """The model of a stored run with its weights at ``step`` (a checkpoint the run saved),
    in eval mode, on ``device`` (default: the one it trained on), in its training dtype."""
    result, path = _stored(run_id, store)
    file = checkpoint_file(result["run_id"], int(step), path)
    _, _, model = build(result["config"], device=device)
    return load_into(model, file)
