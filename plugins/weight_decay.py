"""The ``wd`` method: AdamW's decoupled weight decay γ (default 1, as Omnigrok's transformer).
This is the fixed reference method of the cross-task leaderboard (SPEC §5)."""
from grokbench import hookimpl


@hookimpl
def register_methods(register):
    register("wd", {"weight_decay": 1.0}, "AdamW weight decay γ = 1 (override with --weight-decay)")
