"""The Lion optimizer (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms",
arXiv:2302.06675, Algorithm 2) as a grokbench optimizer and method: a published method that
grokbench does not bundle, packaged as a third party would.

Each step, with gradient g, momentum m and decoupled weight decay λ::

    c = β1·m + (1 − β1)·g
    θ ← θ − lr·(sign(c) + λ·θ)
    m ← β2·m + (1 − β2)·g

Its paper advises an lr 3–10× smaller than AdamW's and a weight decay 3–10× larger, so that
lr·λ stays about the same (§5). The method's per-task recipe does that from the `wd` method's
recipe: on the modular tasks and parity AdamW runs lr 0.01 with λ = 1, so Lion runs lr 0.001
with λ = 10.

The plugin also adds a command, ``grokbench lion-vs-wd TASK``: one seed of Lion and of the
`wd` method side by side, a first look before a sweep spends a suite's budget.
"""
import math

import click
import torch

import grokbench
from grokbench import Option, hookimpl


class Lion(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        if not 0.0 <= lr:
            raise ValueError(f"lr must be ≥ 0, got {lr}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                m = self.state[p].setdefault("exp_avg", torch.zeros_like(p))
                update = (m * beta1).add_(p.grad, alpha=1 - beta1).sign_()
                p.mul_(1 - group["lr"] * group["weight_decay"]).add_(update, alpha=-group["lr"])
                m.mul_(beta2).add_(p.grad, alpha=1 - beta2)


@hookimpl
def register_optimizers(register):
    register("lion", lambda params, c: Lion(params, lr=c["lr"], betas=c["lion_betas"],
                                            weight_decay=c["weight_decay"]),
             "Lion: the sign of an interpolated momentum, decoupled weight decay (Chen et al. 2023)",
             options={"lion_betas": Option([0.9, 0.99], "Lion's β1 (update) and β2 (momentum) "
                                           "(Chen et al. 2023: 0.9, 0.99)", list, items=float)})


# lr 10× smaller and weight decay 10× larger than the `wd` method's recipe (Chen et al. §5).
MODULAR = {"lr": 1e-3, "weight_decay": 10.0}
RECIPES = {**{t: MODULAR for t in ("modadd", "modsub", "modmul", "moddiv", "modpoly", "parity")},
           "teacher-student": {"lr": 3e-5, "weight_decay": 0.5},
           "mnist": {"lr": 1e-4, "weight_decay": 1.0},
           "imdb": {"lr": 1e-4, "weight_decay": 10.0},
           "qm9": {"lr": 1e-4, "weight_decay": 0.1}}


@hookimpl
def register_methods(register):
    register("lion", {"optimizer": "lion"},
             "the Lion optimizer at its paper's advice: lr 10× below and weight decay 10× above "
             "the wd method's recipe", per_task=RECIPES)


@click.command("lion-vs-wd", short_help="One seed of Lion beside the wd method on TASK.")
@click.argument("task")
@click.option("--seed", default=0, show_default=True, help="the seed of both runs")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="a setting for both runs, e.g. --set steps=1000 (repeatable)")
@click.option("--store", default=None, metavar="FILE",
              help="SQLite results file (default: $GROKBENCH_STORE or the user data dir); runs "
                   "already in it are read, not trained again")
@click.option("--no-store", is_flag=True, help="neither read nor write a store")
def lion_vs_wd(task, seed, assignments, store, no_store):
    """Train TASK with Lion and with the wd method (AdamW at its recipe, the suites' reference)
    on one seed and the same settings, and print when each fits and generalizes, with lr·λ, the
    per-step weight decay that Lion's recipe keeps at AdamW's."""
    settings = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise grokbench.UserError(f"--set takes KEY=VALUE, e.g. --set steps=1000; got {item!r}")
        settings[key.strip()] = value.strip()  # read as each option's declared type
    header = ("method", "optimizer", "lr", "weight decay", "lr·λ", "steps to fit",
              "steps to generalize", "best test acc")
    rows = [header]
    for method in ("lion", "wd"):
        result = grokbench.run(task, method, seed=seed, store=store, save=not no_store,
                               progress=False, **settings)
        cfg, scores = result.config, result.scores
        fit, generalize = (("∞" if math.isinf(scores[key]) else f"{scores[key]:g}")
                           for key in ("steps_to_fit", "steps_to_generalize"))
        rows.append((method, cfg["optimizer"], f"{cfg['lr']:g}", f"{cfg['weight_decay']:g}",
                     f"{cfg['lr'] * cfg['weight_decay']:.3g}", fit, generalize,
                     f"{scores['best_test_acc']:.3f}"))
    click.echo(f"{task}, seed {seed}, {cfg['steps']} steps (∞: not within them):")
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


@hookimpl
def register_commands(register):
    register(lion_vs_wd)
