"""What several commands share: printing a run's scores, and the options that override
settings."""
from __future__ import annotations

import json
from functools import partial

import click
from tabulate import tabulate

from ..columns import fmt_num, fmt_steps
from ..config import explain, parse_assignments, stored_method_name
from ..errors import UserError
from ..registry import get_registry
from ..scoring import decision_index


# A run's scores as `run` and `show` print them: the tables' formatters, with a miss spelled out
# (a table cell has room for ∞ only) and numbers to 4 significant digits.
fmt_run_steps = partial(fmt_steps, missed="∞ (not reached)")
fmt_run_num = partial(fmt_num, digits=4, significant=True)


def read_at(result) -> tuple[str, dict | None]:
    """Where a run's scores were read, in words ("at the decision point (step 250)", "at the
    last evaluation (step 3000)"), and the last evaluation's record when the run went on past
    its decision point (its values differ from the scores'), else None."""
    curve = [r for r in result.get("curve") or [] if "train_acc" in r]
    if not curve:
        return "at the last evaluation", None
    decided = decision_index(curve, result["config"])
    if decided is None:
        return f"at the last evaluation (step {curve[-1]['step']})", None
    last = curve[-1] if decided < len(curve) - 1 else None
    return f"at the decision point (step {curve[decided]['step']})", last


def scores_table(result) -> str:
    s, c = result["scores"], result["config"]
    at, last = read_at(result)
    rows = [
        ("task / method", f"{c['task']} / {c['method']}  (seed {c['seed']}, {c['dtype']}, {c['device']})"),
        ("run id", result["run_id"]),
        (f"steps-to-fit (train acc ≥ {c['fit_target']})",
         fmt_run_steps(s["steps_to_fit"], s["steps_to_fit_resolution"])),
        (f"steps-to-generalize ({c['target_metric']} ≥ {c['target']})",
         fmt_run_steps(s["steps_to_generalize"], s["steps_to_generalize_resolution"])),
        ("grokking delay", fmt_run_steps(s["grokking_delay"])),
        (f"collapse onset (SC ≥ {s['sc_threshold']})",
         fmt_run_steps(s["collapse_onset"], s["collapse_onset_resolution"]) if s["max_sc"] is not None else "n/a"),
        ("max SC fraction", fmt_run_num(s["max_sc"])),
        (f"train / test acc {at}", f"{fmt_run_num(s['final_train_acc'])} / {fmt_run_num(s['final_test_acc'])}"),
        ("best test acc" + (" up to the decision point" if "decision" in at else ""),
         fmt_run_num(s["best_test_acc"])),
        (f"NLM cosine {at}", fmt_run_num(s["nlm_cosine"])),
        (f"weight norm {at}", fmt_run_num(s["weight_norm"])),
    ]
    if last is not None:  # trained past its decision point: what the weights ended at
        step = last["step"]
        rows += [
            (f"train / test acc at the last evaluation (step {step})",
             f"{fmt_run_num(last.get('train_acc'))} / {fmt_run_num(last.get('test_acc'))}"),
            (f"NLM cosine at the last evaluation (step {step})", fmt_run_num(last.get("nlm_cosine"))),
            (f"weight norm at the last evaluation (step {step})", fmt_run_num(last.get("weight_norm"))),
        ]
    rows += [
        ("steps run", f"{s['steps_run']} of {c['steps']}" + ("  (stopped: NaN/inf)" if s["nonfinite"] else "")),
        ("wall time", f"{s['wall_time']:.1f} s" if s.get("wall_time") is not None else "n/a"),
        # a run begun by a grokbench from before CPU time was kept has none: say so, not "n/a"
        ("CPU time (its process's)", f"{s['cpu_time']:.1f} s" if s.get("cpu_time") is not None
         else "not recorded (begun by an older grokbench)"),
        ("steps/s (training steps only)", fmt_run_num(s["steps_per_s"])),
    ]
    return tabulate(rows, tablefmt="simple_outline")


def one_value(flag: str, values, several: str) -> str:
    """The one value of an option a command takes once: given twice, it is an error naming
    what does take several (click would silently keep the last)."""
    if len(values) > 1:
        raise UserError(f"{flag} given {len(values)} times ({', '.join(values)}); this command "
                        f"takes one: {several}")
    return values[0]


def method_list(values) -> list[str]:
    """Several methods, as plot, leaderboard and sweep take them: --method repeated or
    comma-separated (a,b), each a method or a combination a+b, under its canonical name."""
    names = [v.strip() for value in values for v in value.split(",") if v.strip()]
    registry = get_registry()
    return list(dict.fromkeys(stored_method_name(registry, n) for n in names))


def explained_config(config: dict, overrides: dict) -> str:
    """``--show-config --explain``: each setting, its value and the layer that set it."""
    who = explain(get_registry(), config, overrides)
    rows = [(key, json.dumps(config[key]), who[key]) for key in sorted(config)]
    return tabulate(rows, headers=["setting", "value", "set by"], tablefmt="simple")


# Every command that reads or writes results takes the same --store, declared once here.
store_option = click.option("--store", type=click.Path(dir_okay=False), default=None,
                            help="SQLite results file (default: $GROKBENCH_STORE or the user data dir)")


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
