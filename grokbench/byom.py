"""Bring your own method: rank a method of yours against a suite's committed board, without
recomputing anyone else's runs (`grokbench leaderboard --suite NAME --add-method M`).

The board is built from the suite's committed raw results (every bundled method's runs, as CI
checks them) plus the store's runs of M at the suite's settings (M's per-task recipe applies, as
in any sweep), with M's rows marked. Whether the comparison is fair depends on where each side
ran: :func:`provenance` says, per method, on which machines and versions its runs were computed,
and :func:`fairness_warnings` names the differences the checking rule's measurements say can
move results (leaderboards/README.md, "Checking": another CPU code path or a GPU rounds
differently, and grokking near its threshold follows the rounding; another grokbench or torch
version may compute something else)."""
from __future__ import annotations

from collections import defaultdict

#: what a run's versions (and config) say about where it ran, in the order shown
MACHINE_KEYS = ("device", "cpu", "aten_cpu_capability", "grokbench", "torch")


def machine(record: dict) -> tuple:
    versions, config = record.get("versions") or {}, record.get("config") or {}
    return (str(config.get("device", "cpu")), versions.get("cpu", "?"),
            versions.get("aten_cpu_capability", "?"), versions.get("grokbench", "?"),
            versions.get("torch", "?"))


def machine_text(key: tuple) -> str:
    device, cpu, capability, grokbench, torch = key
    return f"{device} ({cpu}, ATen {capability}), grokbench {grokbench}, torch {torch}"


def provenance(records, added) -> list[str]:
    """One line per method: the machines its runs were computed on, with how many runs each."""
    by_method: dict = defaultdict(lambda: defaultdict(int))
    for rec in records:
        by_method[rec["method"]][machine(rec)] += 1
    lines = []
    for method in sorted(by_method, key=lambda m: (m not in added, m)):
        where = "; ".join(f"{machine_text(k)}: {n} run{'s' if n > 1 else ''}"
                          for k, n in sorted(by_method[method].items(), key=lambda kv: -kv[1]))
        lines.append(f"{method}{' (added)' if method in added else ''}: {where}")
    return lines


def fairness_warnings(records, added, reference: str | None = None) -> list[str]:
    """What differs between the added methods' runs and the committed runs (the reference
    method's, where it is on the board, else all of them) that can move results."""
    ours = {machine(r) for r in records if r["method"] in added}
    ref = [r for r in records if r["method"] == reference] or \
        [r for r in records if r["method"] not in added]
    theirs = {machine(r) for r in ref}
    if not ours or not theirs:
        return []
    warnings = []
    names = ("device", "CPU", "ATen code path", "grokbench version", "torch version")
    for i, name in enumerate(names):
        a, b = sorted({k[i] for k in ours}), sorted({k[i] for k in theirs})
        if a != b:
            why = {"device": "a GPU does not round like a CPU",
                   "CPU": "another CPU may run other kernels",
                   "ATen code path": "other kernels round differently, and grokking near its "
                                     "threshold follows the rounding",
                   "grokbench version": "the bundled plugins may compute something else",
                   "torch version": "its kernels may round differently"}[name]
            warnings.append(f"{name} differs: {', '.join(a)} (added) against {', '.join(b)} "
                            f"(committed {reference or 'runs'}): {why}; rerun the reference "
                            "rows here with --rerun-reference to compare like with like")
    return warnings
