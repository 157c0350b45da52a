"""What several commands share: printing a run's scores, and the options that override
settings."""
from __future__ import annotations

import math

import click
from tabulate import tabulate

from ..config import parse_assignments


def fmt_steps(value, resolution=None):
    if value is None:
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "∞ (not reached)"
    return f"{int(value)}" + (f" (±{resolution})" if resolution else "")


def fmt_num(value, digits=4):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def scores_table(result) -> str:
    s, c = result["scores"], result["config"]
    rows = [
        ("task / method", f"{c['task']} / {c['method']}  (seed {c['seed']}, {c['dtype']}, {c['device']})"),
        ("run id", result["run_id"]),
        (f"steps-to-fit (train acc ≥ {c['fit_target']})", fmt_steps(s["steps_to_fit"], s["steps_to_fit_resolution"])),
        (f"steps-to-generalize ({c['target_metric']} ≥ {c['target']})",
         fmt_steps(s["steps_to_generalize"], s["steps_to_generalize_resolution"])),
        ("grokking delay", fmt_steps(s["grokking_delay"])),
        (f"collapse onset (SC ≥ {s['sc_threshold']})",
         fmt_steps(s["collapse_onset"], s["collapse_onset_resolution"]) if s["max_sc"] is not None else "n/a"),
        ("max SC fraction", fmt_num(s["max_sc"])),
        ("final train / test acc", f"{fmt_num(s['final_train_acc'])} / {fmt_num(s['final_test_acc'])}"),
        ("best test acc", fmt_num(s["best_test_acc"])),
        ("NLM cosine (final)", fmt_num(s["nlm_cosine"])),
        ("weight norm (final)", fmt_num(s["weight_norm"])),
        ("steps run", f"{s['steps_run']} of {c['steps']}" + ("  (stopped: NaN/inf)" if s["nonfinite"] else "")),
        ("wall time", f"{s['wall_time']:.1f} s" if s.get("wall_time") is not None else "n/a"),
        ("steps/s (training steps only)", fmt_num(s["steps_per_s"])),
    ]
    return tabulate(rows, tablefmt="simple_outline")


def open_store(path, readonly: bool = False):
    from ..store import Store
    return Store(path, readonly=readonly)


OVERRIDES = [
    ("--model", str, "model name (grokbench list models)"),
    ("--loss", str, "loss name (grokbench list losses)"),
    ("--optimizer", str, "base optimizer name (grokbench list optimizers)"),
    ("--lr", float, "learning rate"),
    ("--weight-decay", float, "weight decay γ"),
    ("--init-scale", float, "Omnigrok's α: scale every parameter after init"),
    ("--steps", int, "training steps (the budget)"),
    ("--batch-size", int, "minibatch size (default: the task's; full batch for algorithmic tasks)"),
    ("--eval-every", int, "evaluate every N steps (denser early)"),
    ("--seed", int, "random seed"),
    ("--dtype", click.Choice(["float16", "bfloat16", "float32", "float64"]), "training precision"),
    ("--device", str, "torch device, e.g. cpu, cuda, cuda:1, mps"),
    ("--threads", int, "torch/OpenMP threads for this process"),
]


def override_options(fn):
    for flag, typ, help_text in reversed(OVERRIDES):
        fn = click.option(flag, type=typ, default=None, help=help_text)(fn)
    fn = click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
                      help="any other setting, e.g. --set p=97 --set betas=0.9,0.98")(fn)
    fn = click.option("--preset", default=None, help="a task's named settings, e.g. paper")(fn)
    return fn


def collect_overrides(kwargs) -> dict:
    overrides = parse_assignments(kwargs.pop("assignments", ()))
    for flag, _, _ in OVERRIDES:
        key = flag.lstrip("-").replace("-", "_")
        if kwargs.get(key) is not None:
            overrides[key] = kwargs[key]
        kwargs.pop(key, None)
    return overrides
