"""Resume state: a run that is interrupted (a machine that ends its session, a killed sweep)
continues where it was, instead of from step 0.

Every ``GROKBENCH_RESUME_EVERY`` seconds (default 600; 0 turns it off), at the first evaluation
after that, a run that has a results store writes its whole training state to
``<store>.resume/<run id>.pt``: the model, the optimizer with its wrappers' state (Grokfast's
filter, Muon's momentum, ...), the gradient scaler, the batch order's generator, the global
random state, the curve so far and the timings. Started again (the same ``grokbench run``,
``sweep`` or ``claims`` command), the run loads it and goes on from that evaluation; when the run
ends, the file is deleted. The resumed run computes exactly what an uninterrupted one computes,
bit for bit (tests/test_resume.py), so resuming is not part of a run's id.

A run that is asked to stop with SIGTERM (``kill``, a batch scheduler's preemption or time
limit, a sweep ending its workers) saves its state at once, after the training step in
progress, and stops with exit status 143: nothing since the last periodic save is lost, and the
same command goes on from that step. SIGKILL cannot be caught: it loses what came after the
last save.

State is kept only where it is safe to reuse: the file must name the same run id, the same
config and the same versions (``engine.versions``: grokbench, torch, Python, the CPU model and
its ATen code path; not the OS build); otherwise the run starts afresh and says why. A run with weight checkpoints or
loggers keeps no resume state, since those write outside the result as it trains.

The file is written with ``torch.save`` (pickle: the optimizer wrappers of any plugin are
saved whole, with no method to write), so loading one runs code: grokbench loads only files
in its own store's ``.resume`` folder, which only this user's runs write.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from .config import run_id
from .errors import Stopped

ENV = "GROKBENCH_RESUME_EVERY"
#: what a resumed run must share with the one that saved the state (engine.versions): the code
#: and the arithmetic. Not the OS build (``platform``): a new kernel build changes no float this
#: process computes, and machines lent for successive sessions differ in it.
NUMERIC_VERSIONS = ("grokbench", "torch", "python", "cpu", "aten_cpu_capability")
DEFAULT_EVERY = 600.0


def every() -> float:
    """Seconds between saves of the resume state (0: none are saved)."""
    raw = os.environ.get(ENV, "")
    try:
        return max(float(raw), 0.0) if raw.strip() else DEFAULT_EVERY
    except ValueError:
        print(f"(ignoring {ENV}={raw!r}: it takes seconds, e.g. {ENV}=600; saving every "
              f"{DEFAULT_EVERY:.0f} s)", file=sys.stderr)
        return DEFAULT_EVERY


def folder(store_path) -> Path:
    """The resume folder of a results store: ``<store>.resume``."""
    store_path = Path(store_path)
    return store_path.with_name(store_path.name + ".resume")


def no_state_reason(config: dict, store_path) -> str | None:
    """Why a run keeps no resume state, in words; None where it keeps some."""
    if store_path is None:
        return "it has no results store"
    if every() <= 0:
        return f"{ENV}=0"
    if config.get("checkpoints") or config.get("loggers"):
        return "it writes weight checkpoints or logs as it trains"
    return None


def file_for(config: dict, store_path, rid: str) -> Path | None:
    """Where this run keeps its resume state, or None when it keeps none (no store, no interval,
    or a run that writes weight checkpoints or logs as it trains)."""
    return None if no_state_reason(config, store_path) else folder(store_path) / f"{rid}.pt"


class Saver:
    """Saves the state at the first evaluation ``every()`` seconds after the last save."""

    def __init__(self, path: Path):
        self.path, self.interval, self.last = path, every(), time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.interval

    def save(self, state: dict) -> bool:
        """Write atomically (a temporary file renamed over the old one), so a kill during the
        write leaves the previous state, never half of one. False where it could not be saved
        (the run goes on, and would start afresh)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        saved = False
        try:
            torch.save(state, tmp)
            os.replace(tmp, self.path)
            saved = True
        except OSError as exc:  # a full disk loses the resume state, never the run
            tmp.unlink(missing_ok=True)
            print(f"(resume state not saved: {exc}; the run goes on)", file=sys.stderr)
        except Exception as exc:  # e.g. a plugin's model or wrapper that holds a lambda
            tmp.unlink(missing_ok=True)
            self.interval = float("inf")
            print(f"(this run cannot keep resume state: {type(exc).__name__}: "
                  f"{' '.join(str(exc).split())}; it goes on, and would start afresh if "
                  "interrupted)", file=sys.stderr)
        self.last = time.monotonic()
        return saved


class StopRequest:
    """Set by SIGTERM while a run trains (``stop_on_sigterm``); the training loop reads it
    between steps."""
    requested = False


@contextmanager
def _on_sigterm(handler):
    """SIGTERM calls ``handler`` inside the block. Only the main thread can set a signal handler:
    elsewhere (a notebook's background thread, a Ray actor's thread) SIGTERM keeps its own
    meaning."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        # (None: a handler not set from Python, which cannot be put back; the default is)
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


@contextmanager
def stop_on_sigterm():
    """While a run trains, SIGTERM asks it to stop after the step in progress (it then saves its
    resume state and raises Stopped) instead of killing the process where it stands. Outside
    the main thread the request is never set."""
    request = StopRequest()

    def ask(signum, frame):
        request.requested = True

    with _on_sigterm(ask):
        yield request


@contextmanager
def sigterm_stops_here():
    """For a process that waits on runs rather than training one (a sweep's): SIGTERM raises
    Stopped where it lands, so the sweep ends as on Ctrl-C (its workers are sent SIGTERM in
    turn, and each saves its run's state). Within a run trained in this very process,
    stop_on_sigterm's handler takes over until the run ends."""
    def stop(signum, frame):
        raise Stopped("stopped by SIGTERM")

    with _on_sigterm(stop):
        yield


def load(path: Path | None, config: dict, versions: dict, device) -> dict | None:
    """The saved state of this run, or None (with one line saying why, where a file was there
    but cannot be used; the run then starts afresh and overwrites it)."""
    if path is None or not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # a truncated or foreign file
        print(f"(resume state {path} unreadable ({type(exc).__name__}); starting the run afresh)",
              file=sys.stderr)
        return None
    saved_versions = state.get("versions", {})
    changed = [k for k in NUMERIC_VERSIONS if versions.get(k) != saved_versions.get(k)]
    if _comparable(state.get("config", {})) != _comparable(config):
        why = "its config differs"
    elif changed:
        why = f"it was saved with other versions ({', '.join(changed)})"
    else:
        return state
    print(f"(resume state {path.name} not used: {why}; starting the run afresh)", file=sys.stderr)
    return None


def saved_count(store_path, run_ids) -> int:
    """How many of these runs (their ids) have resume state beside the store (they go on from
    it, unless it turns out to be from other versions)."""
    where = folder(store_path)
    return sum((where / f"{rid}.pt").exists() for rid in run_ids) if where.is_dir() else 0


def saved_note(store_path, configs, projected: bool = False) -> str:
    """'; N of them go on from where they were interrupted (<store>.resume)', or '' if none;
    ``projected``: adding that their projection is from their own speed (saved_progress)."""
    n = saved_count(store_path, [run_id(c) for c in configs])
    return (f"; {n} of them go on from where they were interrupted ({folder(store_path).name})"
            + (", projected from their own speed" if projected else "") if n else "")


def saved_progress(store_path, config: dict) -> tuple[int, float, float] | None:
    """(step, s/step, s/evaluation) of this run's saved state: how far an interrupted run got and
    the speed it had, measured on its own steps. A projection of what is left of it uses these
    rather than other runs' speed, which can be far off: after Softmax Collapse a float32 run's
    steps cost 8× more (subnormal arithmetic, docs/science.md, "Precision"), which no short run
    of its kind shows. None where there is no readable state of this very config."""
    if store_path is None:
        return None
    path = folder(store_path) / f"{run_id(config)}.pt"
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        if _comparable(state["config"]) != _comparable(config) or state["step"] <= 0:
            return None
        # on a core of its own: scaled by the share of a core it had, where its CPU time is kept
        cpu, wall = state.get("cpu_time"), state.get("wall_time")
        share = min(1.0, cpu / wall) if cpu and wall else 1.0
        return (int(state["step"]), state["train_time"] / state["step"] * share,
                state["eval_time"] / max(len(state["curve"]), 1) * share)
    except Exception:  # a truncated or foreign file: the run is projected as a new one
        return None


def discard(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def _comparable(config: dict) -> dict:
    # settings that change nothing computed (engine threads) may differ between attempts
    return {k: v for k, v in config.items() if k != "threads"}
