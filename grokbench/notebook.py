"""The Python API, for notebooks and scripts: ``grokbench.run(task, method, **settings)`` and
``grokbench.runs(**filters)``.

The same engine, store and run ids as the command line: ``grokbench.run("modadd", "perpgrad",
steps=300)`` resolves its settings exactly as ``grokbench run --task modadd --method perpgrad
--steps 300`` does, and a run already in the store is read, not trained again, whichever of the
two stored it. Tables are pandas DataFrames; pandas is imported only when one is asked for (an
optional dependency: ``pip install 'grokbench[notebook]'``), so ``import grokbench`` stays as
light as before.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .api import CORE_METRICS
from .checkpoints import load_model as load, saved_steps
from .config import resolve, stored_method_name
from .engine import evaluate_checkpoint as evaluate, run as train, run_or_load
from .errors import UserError
from .export import ID_COLUMNS, columns, run_rows
from .notebook_metrics import compute
from .plot import _pyplot, draw_run
from .registry import get_registry
from .scoring import from_jsonable, to_jsonable
from .store import Store, default_store_path

if TYPE_CHECKING:
    import pandas


def _pandas():
    try:
        import pandas  # optional extra [notebook]
    except ImportError:
        raise UserError("grokbench's tables are pandas DataFrames: pip install pandas "
                        "(or pip install 'grokbench[notebook]')") from None
    return pandas


class RunResult:
    """One run: its settings, scores and curve, from the store or freshly trained.

    ``scores`` and ``config`` are dicts (a score not reached is ``math.inf``), ``curve`` is a
    DataFrame with one row per evaluation (indexed by step) and one column per metric, and
    ``plot()`` draws the grokking figure of ``grokbench plot RUN_ID``. ``from_store`` says whether
    the result was read from the store rather than trained by this call."""

    def __init__(self, result: dict, from_store: bool = False, store_path: Path | None = None,
                 stored: bool | None = None):
        # Through the store's JSON form, so a result reads the same fresh or stored (NaN is
        # None, tuples are lists) and the two spellings of one run compare equal.
        self._result = {**result, "config": from_jsonable(to_jsonable(result["config"])),
                        "scores": from_jsonable(to_jsonable(result["scores"]))}
        self.from_store = from_store
        self.store_path = store_path
        #: whether the run is in a store (False with save=False, or with notebook metrics)
        self.stored = store_path is not None if stored is None else stored
        self._curve: pandas.DataFrame | None = None

    run_id = property(lambda self: self._result["run_id"], doc="the run's id (a hash of its config)")
    config = property(lambda self: self._result["config"], doc="every resolved setting")
    scores = property(lambda self: self._result["scores"], doc="steps-to-generalize and the rest")
    status = property(lambda self: self._result["status"],
                      doc="finished, stopped_early (at its decision point) or nonfinite")
    records = property(lambda self: self._result["curve"],
                       doc="the curve as the engine recorded it: one dict per evaluation")

    @property
    def curve(self) -> pandas.DataFrame:
        """One row per evaluation, indexed by training step; one column per metric."""
        if self._curve is None:
            pd = _pandas()
            # One column order fresh or stored (the store keeps records' keys sorted): the core
            # metrics first, then the plugins' metrics by name.
            names = {key for record in self.records for key in record} - {"step"}
            order = [k for k in CORE_METRICS if k in names] + sorted(names - set(CORE_METRICS))
            frame = pd.DataFrame.from_records(self.records, columns=["step", *order])
            self._curve = frame.set_index("step")
        return self._curve

    def plot(self, path=None):
        """The grokking figure of this run (accuracies, steps-to-fit and -generalize, SC fraction
        and weight norm), as a matplotlib Figure, shown when it is a notebook cell's value;
        with ``path``, also written there as PNG."""
        fig = draw_run(self._result)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=130, bbox_inches="tight")
        # Closed in pyplot, so a notebook shows it once (as the cell's value), not twice.
        _pyplot().close(fig)
        return fig

    @property
    def checkpoints(self) -> list[int]:
        """The steps this run has checkpoints at (``checkpoints=...``); [] when none."""
        return saved_steps(self.store_path, self.run_id) if self.stored else []

    def model(self, step: int, device=None):
        """The model with its weights at checkpoint ``step``, rebuilt as the run built it (same
        task data, seeds and dtype; its device unless ``device`` is given), in eval mode."""
        return load(self.run_id, step, self._store_for_checkpoints(), device)

    def evaluate(self, step: int, metrics: dict | None = None, device=None) -> dict:
        """The evaluation record at checkpoint ``step``, recomputed from the saved weights as the
        engine computes it (at an evaluation step: the curve's record, bit for bit, on the
        machine that trained it); ``metrics`` adds notebook metrics to it."""
        return evaluate(self.run_id, step, self._store_for_checkpoints(), metrics, device)

    def _store_for_checkpoints(self):
        if not self.stored:
            raise UserError(f"run {self.run_id} is not stored (save=False, or notebook metrics), "
                            "so it has no checkpoints; run it with a store and checkpoints=...")
        return self.store_path

    def to_dict(self) -> dict:
        """The result as ``grokbench run --json`` gives it (config, curve, scores, ...)."""
        return dict(self._result)

    def __repr__(self):
        c, s = self.config, self.scores
        gen = s.get("steps_to_generalize")
        reached = ("not reached" if gen is None or math.isinf(gen)
                   else f"{int(gen)} steps")
        origin = f", read from {self.store_path}" if self.from_store else ""
        return (f"<RunResult {c['task']} / {c['method']} seed {c['seed']}, run {self.run_id}: "
                f"{c['target_metric']} ≥ {c['target']:g} {reached}, status {self.status}{origin}>")


def run(task: str, method: str = "baseline", *, store=None, save: bool = True,
        force: bool = False, preset: str | None = None, progress: bool = True,
        metrics: dict | None = None, **settings: Any) -> RunResult:
    """Train one run, or read it from the store when an identical one is there, as
    ``grokbench run --task TASK --method METHOD`` does.

    ``settings`` are the command line's overrides by name: ``lr=0.003, weight_decay=1.0,
    steps=300, seed=2, p=97, betas=(0.9, 0.98)`` (a misspelled one is an error with a
    suggestion). ``store``: the SQLite results file (default: ``$GROKBENCH_STORE`` or the user
    data dir, as for the command line); ``save=False`` neither reads nor writes a store;
    ``force`` trains again; ``preset`` is ``--preset``; ``progress`` shows a progress bar. As on
    the command line, a run stops at its decision point (``early_stop=False`` trains the whole
    budget; scores are the same either way) and trains on one thread (``threads=N``).

    ``metrics={"name": fn}``: ad-hoc metrics, ``fn(ctx)`` of the ``grokbench.EvalContext`` a
    metric plugin gets, returning a number or a dict of numbers, at every evaluation, in the
    curve. Such a run is trained and not stored (grokbench/notebook_metrics.py says why)."""
    _check_argument("task", task, (str,), "grokbench.run('parity')")
    _check_argument("method", method, (str,), "method='wd+perpgrad' (methods joined by +)")
    _check_argument("preset", preset, (str, type(None)), "preset='paper'")
    _check_argument("store", store, (str, os.PathLike, type(None)), "store='runs.db'")
    for flag, value in (("save", save), ("force", force), ("progress", progress)):
        _check_argument(flag, value, (bool,), f"{flag}=True")
    overrides = {key: list(value) if isinstance(value, tuple) else value
                 for key, value in settings.items()}
    # as `grokbench run`: stop at the decision point unless early_stop=False (one computation,
    # one run id, from the command line or a notebook), on one thread unless threads=N
    overrides.setdefault("early_stop", True)
    overrides.setdefault("threads", 1)
    config = resolve(get_registry(), task, method, overrides, preset)
    if metrics is not None:
        return _run_with_metrics(config, metrics, progress)
    db = Store(store) if save else None
    try:
        result, from_store = run_or_load(config, db, force=force, progress=progress)
    finally:
        if db is not None:
            db.close()
    return RunResult(result, from_store, db.path if db is not None else None)


def _run_with_metrics(config: dict, metrics, progress: bool) -> RunResult:
    """A run with notebook metrics: trained here, never read from or written to a store."""
    hook = compute(metrics)
    if config.get("checkpoints"):
        raise UserError("runs with notebook metrics are not stored, and checkpoints belong to "
                        "stored runs: train with checkpoints=... (no metrics), then "
                        "result.evaluate(step, metrics=...) computes them on its checkpoints")
    result = train(config, progress=progress, notebook_metrics=hook)
    return RunResult(result, from_store=False, store_path=None, stored=False)


def load_model(run_id: str, step: int, store=None, device=None):
    """The model of a stored run with its weights at checkpoint ``step`` (the run must have
    been trained with ``checkpoints=...``), in eval mode, on ``device`` (default: the one it
    trained on). ``store``: the results file it is in (default: as for ``grokbench.run``)."""
    return load(run_id, step, store, device)


def _check_argument(name: str, value, kinds: tuple, example: str):
    """An API argument of the wrong type is a one-line error naming the fix, not an
    AttributeError from deep inside (``grokbench.run("parity", ["wd", "perpgrad"])``)."""
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
        wanted = " or ".join("None" if k is type(None) else "a path" if k is os.PathLike
                             else {str: "a string", bool: "True or False"}.get(k, k.__name__)
                             for k in kinds)
        raise UserError(f"{name} must be {wanted}, e.g. {example}; got {value!r}")


def runs(store=None, **filters: Any) -> pandas.DataFrame:
    """The stored runs as a DataFrame, one row per run, oldest first: ``run_id``, ``task``,
    ``method``, ``seed``, ``status``, ``created_at`` (Unix time), the scores by name
    (``steps_to_generalize``: ∞ when not reached), every setting as ``config.<name>`` and the
    machine facts as ``versions.<name>`` (the table ``grokbench export`` writes).

    ``filters`` keep the runs whose ``task``, ``method``, ``seed``, ``status`` or ``run_id``, or
    whose setting of that name (``lr=0.01``, ``p=97``), equals the value given, or is one of the
    values of a list: ``runs(task="modadd", method=["wd", "perpgrad"])``."""
    pd = _pandas()

    _check_argument("store", store, (str, os.PathLike, type(None)), "store='runs.db'")
    for key in ("task", "method", "status", "run_id", "seed"):
        kind = int if key == "seed" else str
        value = filters.get(key)
        values = list(value) if isinstance(value, (list, tuple, set)) else [value]
        if value is not None and not all(isinstance(v, kind) and not isinstance(v, bool)
                                         for v in values):
            example = "seed=[0, 1]" if key == "seed" else f"{key}=['a', 'b']"
            raise UserError(f"runs({key}=...) takes {'an int' if key == 'seed' else 'a string'} "
                            f"or a list of them, e.g. runs({example}); got {value!r}")
    path = Path(store) if store else default_store_path()
    if not path.exists():  # nothing run yet: an empty table, and no store file created
        return pd.DataFrame(columns=list(ID_COLUMNS))
    by_column = {k: v for k, v in filters.items() if k in ("task", "method", "seed", "status", "run_id")}
    by_setting = {k: v for k, v in filters.items() if k not in by_column}
    if by_column.get("method") is not None:
        registry = get_registry()
        names = by_column["method"]
        by_column["method"] = ([stored_method_name(registry, m) for m in names]
                               if isinstance(names, (list, tuple, set))
                               else stored_method_name(registry, names))
    db = Store(path, readonly=True)  # reading creates nothing and changes nothing
    try:
        rows = run_rows(db.records(**by_column))
    finally:
        db.close()
    for key, wanted in by_setting.items():
        column = f"config.{key}"
        if rows and not any(column in row for row in rows):
            raise UserError(f"no stored run has a setting {key!r}; filter on task, method, seed, "
                            "status, run_id or a setting's name (e.g. lr=0.01)")
        allowed = list(wanted) if isinstance(wanted, (list, tuple, set)) else [wanted]
        rows = [row for row in rows if row.get(column) in allowed]
    return pd.DataFrame(rows, columns=columns(rows, ID_COLUMNS))
