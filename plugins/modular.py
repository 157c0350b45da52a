"""Modular arithmetic tasks (Power et al.; the StableMax code's settings): all p×p pairs (a, b) labelled
with a ∘ b mod p, a random train split (fraction 0.4, as the StableMax paper's figures), the rest as test."""
import torch

from grokbench import Option, Task, TaskData, TaskInfo, UserError, hookimpl


def _inverse(b, p):
    return pow(int(b), p - 2, p)  # Fermat: p is prime


def _check_prime(p):
    if p < 2 or any(p % k == 0 for k in range(2, int(p ** 0.5) + 1)):
        raise UserError(f"p must be a prime (division and the paper's settings need it), got {p}; "
                        "e.g. --set p=113 or p=97")


class ModularTask(Task):
    kind = "classification"
    options = {
        "p": Option(113, "the prime modulus: operands and labels are 0..p−1 (the StableMax code: 113)",
                    int, minimum=2),
        "train_frac": Option(0.4, "fraction of the p×p pairs in the training set (the StableMax "
                             "paper's figures: 0.4)", float, minimum=0, maximum=1),
        # Added after runs were committed; their defaults are what those runs computed.
        "input_format": Option("pair", "a sample's tokens: pair = [a, b] (the MLP's two one-hots; "
                               "the transformer appends its own =), equation = [a, ∘, b, =] with "
                               "= as token p and ∘ as p + 1 (Power et al.; the Grokfast code)",
                               str, choices=("pair", "equation"), omit_default_from_id=True),
        "nonzero_b": Option(False, "leave out the pairs with b = 0 (the Grokfast code's operands: "
                            "a in 0..p−1, b in 1..p−1; division always does)", bool,
                            omit_default_from_id=True),
    }
    # The StableMax code: MLP 226-200-200-113 ReLU without biases, full batch, AdamW lr 0.01, β=(0.9, 0.99).
    defaults = {"model": "mlp", "width": 200, "depth": 2, "activation": "relu", "bias": False,
                "loss": "ce", "optimizer": "adamw", "lr": 0.01, "betas": [0.9, 0.99],
                "weight_decay": 0.0, "steps": 3000, "eval_every": 50}
    # Omnigrok / Nanda: the transformer was trained with AdamW 1e-3, β=(0.9, 0.98) (and wd 1:
    # that is --method wd).
    model_defaults = {"transformer": {"lr": 1e-3, "betas": [0.9, 0.98]},
                      # Power et al.'s decoder as the Grokfast code trains it: [a, ∘, b, =]
                      # inputs, Adam lr 1e-3, β = (0.9, 0.98), batches of 512 with the last
                      # partial one kept, and a 10-update linear warm-up.
                      "decoder": {"input_format": "equation", "optimizer": "adam", "lr": 1e-3,
                                  "betas": [0.9, 0.98], "batch_size": 512, "warmup_steps": 10,
                                  "last_batch": "keep"}}
    # (The norm method's recipe for these tasks sets α = 3: grokbench_plugins.norm_constraint.)
    # "grokfast": the Grokfast code's data and model (ironjr/grokfast main.py, after Power et
    # al. 2022): p = 97, b in 1..p−1, half the pairs for training, the decoder.
    presets = {"long": {"steps": 20000, "eval_every": 200},
               "grokfast": {"model": "decoder", "p": 97, "nonzero_b": True, "train_frac": 0.5}}
    skip_zero_b = False

    @staticmethod
    def op(a, b, p):
        raise NotImplementedError

    def load(self, config):
        p, frac = int(config["p"]), float(config["train_frac"])
        _check_prime(p)
        if not 0 < frac < 1:
            raise UserError(f"train_frac must be between 0 and 1, got {frac}")
        a, b = torch.cartesian_prod(torch.arange(p), torch.arange(p)).unbind(1)
        if self.skip_zero_b or config.get("nonzero_b"):
            a, b = a[b != 0], b[b != 0]
        y = self.op(a, b, p)
        perm = torch.randperm(len(a))  # the engine seeded torch's RNG for this run's data
        n_train = int(round(frac * len(a)))
        if config.get("input_format", "pair") == "equation":
            # Power et al.'s a ∘ b = c, each a token; the Grokfast code's ids: = is p, ∘ is p + 1
            eq, op = torch.full_like(a, p), torch.full_like(a, p + 1)
            x = torch.stack([a, op, b, eq], 1)
            info = TaskInfo("classification", p, "tokens", vocab_size=p + 2, seq_len=4,
                            extra={"ends_with_equals": True, "operand_positions": (0, 2)})
        else:
            x = torch.stack([a, b], 1)
            info = TaskInfo("classification", p, "tokens", vocab_size=p, seq_len=2,
                            extra={"operand_positions": (0, 1)})
        tr, te = perm[:n_train], perm[n_train:]
        return TaskData(info, x[tr], y[tr], x[te], y[te])


def _task(name, description, fn, skip_zero_b=False):
    return type(f"Task_{name}", (ModularTask,), {
        "name": name, "description": description, "op": staticmethod(fn),
        "skip_zero_b": skip_zero_b})


def _div(a, b, p):
    inv = torch.tensor([_inverse(v, p) if v else 0 for v in range(p)])
    return (a * inv[b]) % p


TASKS = [
    _task("modadd", "(a + b) mod p", lambda a, b, p: (a + b) % p),
    _task("modsub", "(a − b) mod p", lambda a, b, p: (a - b) % p),
    _task("modmul", "(a · b) mod p", lambda a, b, p: (a * b) % p),
    _task("moddiv", "(a / b) mod p, b ≠ 0", _div, skip_zero_b=True),
    _task("modpoly", "(a² + ab + b²) mod p", lambda a, b, p: (a * a + a * b + b * b) % p),
]


@hookimpl
def register_tasks(register):
    for task in TASKS:
        register(task)
