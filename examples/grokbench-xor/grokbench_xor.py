"""A third-party grokbench plugin: XOR of two noisy bits as a task, SGD with momentum as a method,
and a claim about them.

After ``pip install ./examples/grokbench-xor``::

    grokbench plugins                              # lists "xor" with grokbench-xor 0.1.0
    grokbench run --task xor --method sgd-momentum
    grokbench run --task xor --method sgd-momentum+perpgrad --show-config
    grokbench claims -k xor                        # checks the claim below
"""
import torch

from grokbench import (Check, Claim, Median, Option, Ratio, Runs, Task, TaskData, TaskInfo,
                       hookimpl)


class Xor(Task):
    name = "xor"
    description = "XOR of two noisy bits"
    # The task's own settings, each with its type, default and one line of help: a value given
    # with `--set n=512` is read as an int and checked (n = 2 is an error naming this line,
    # before anything trains), and `grokbench list tasks` shows it.
    options = {"n": Option(256, "noisy bit pairs drawn; half are the test set", int, minimum=4)}
    # Defaults for any setting: the model and its options, the optimizer's, the budget.
    defaults = {"model": "mlp", "width": 16, "depth": 1, "bias": True, "steps": 200,
                "eval_every": 50}

    def load(self, config):
        # torch's global RNG is already seeded from the run's seed (the "data" stream).
        n = config["n"]
        bits = torch.randint(0, 2, (n, 2))
        x = bits.float() + 0.05 * torch.randn(n, 2)
        y = bits[:, 0] ^ bits[:, 1]
        half = n // 2
        return TaskData(TaskInfo("classification", n_outputs=2, input_kind="features",
                                 in_features=2),
                        x[:half], y[:half], x[half:], y[half:])


@hookimpl
def register_tasks(register):
    register(Xor)


@hookimpl
def register_methods(register):
    register("sgd-momentum", {"optimizer": "sgd", "lr": 0.5, "momentum": 0.9},
             "SGD with momentum 0.9, lr 0.5")


# A claim is a small sweep and a statistic of its scores, beside the value its source states.
MOMENTUM = Runs("xor", "sgd-momentum", seeds=(0, 1, 2), settings={"early_stop": True},
                label="SGD momentum")
PLAIN = Runs("xor", "baseline", seeds=(0, 1, 2), settings={"steps": 400, "early_stop": True},
             label="AdamW")


@hookimpl
def register_claims(register):
    register(Claim(
        name="xor-momentum-learns",
        source="the grokbench-xor example (no paper)",
        statement="SGD with momentum learns XOR of two noisy bits within its 200 steps, sooner "
                  "than AdamW at lr 1e-3.",
        paper_value="generalizes (test accuracy ≥ 0.95) within 200 steps",
        checks=(Check(Median(MOMENTUM), "<=", 200, "momentum generalizes within 200 steps"),
                Check(Ratio(MOMENTUM, PLAIN), "<", 1, "sooner than AdamW")),
    ))
