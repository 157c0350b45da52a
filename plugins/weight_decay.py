"""The ``wd`` method: AdamW's decoupled weight decay γ, at each task's published value.
This is the fixed reference method of the cross-task leaderboard (leaderboards/README.md).

Recipes (leaderboards/README.md, "Recipes", lists each with its source):
- γ = 1 by default: Omnigrok's modular-arithmetic transformer (Liu et al. 2023, App. A) and
  its IMDb run. The StableMax paper's MLP and parity runs use no weight decay, so the modular
  tasks' MLP and sparse parity have no published γ: they take this default.
- teacher-student 0.05: Omnigrok's own teacher-student code (§3 shows the 1/γ law around it).
- MNIST 0.1: inside Omnigrok's MNIST weight-decay sweep (App. C, γ in 0.1–1); its main run's
  0.01 groks ~4× later than our 20k-step budget allows.
- QM9 0.01: Omnigrok groks QM9 with no weight decay; the only weight decay published on this
  QM9 set-up is the Grokfast repository's 0.01.
"""
from grokbench import hookimpl

RECIPES = {"teacher-student": {"weight_decay": 0.05}, "mnist": {"weight_decay": 0.1},
           "imdb": {"weight_decay": 1.0}, "qm9": {"weight_decay": 0.01}}


# Tuning (grokbench sweep --tuning N): the learning rate and γ, log-uniform over ranges that hold
# every task's published values (lr 3e-4 to 1e-2; γ 0.01 to 1).
SEARCH_SPACE = {"lr": {"log_uniform": [1e-4, 3e-2]}, "weight_decay": {"log_uniform": [1e-2, 3.0]}}


@hookimpl
def register_methods(register):
    register("wd", {"weight_decay": 1.0}, "AdamW weight decay (γ = 1; per-task recipes; "
             "override with --weight-decay)", per_task=RECIPES, search_space=SEARCH_SPACE)
