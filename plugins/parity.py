"""Sparse parity (Barak et al.; StableMax paper): unique random bit vectors of length k + n,
labelled with the parity of their first k bits."""
import torch

from grokbench import Option, Task, TaskData, TaskInfo, UserError, hookimpl


class SparseParity(Task):
    name = "parity"
    description = "parity of the first k of k+n random bits (k=3, n=40, 2000 samples, 50% train)"
    kind = "classification"
    options = {
        "k": Option(3, "the bits whose parity is the label (the StableMax paper: 3)", int, minimum=1),
        "n": Option(40, "noise bits after them (the StableMax paper: 40)", int, minimum=0),
        "n_samples": Option(2000, "distinct bit vectors drawn (the StableMax paper: 2000)", int,
                            minimum=2),
        "train_frac": Option(0.5, "fraction of the vectors in the training set", float, minimum=0,
                             maximum=1),
    }
    defaults = {"model": "mlp", "width": 200, "depth": 2, "bias": True, "activation": "relu",
                "loss": "ce", "lr": 0.01, "betas": [0.9, 0.99], "steps": 3000, "eval_every": 50}

    def load(self, config):
        k, n, count = int(config["k"]), int(config["n"]), int(config["n_samples"])
        if count > 2 ** (k + n):
            raise UserError(f"only 2^{k + n} distinct vectors exist; lower n_samples")
        bits: list[list[int]] = []
        seen: set[tuple[int, ...]] = set()
        while len(bits) < count:  # unique vectors: draw, drop repeats, until there are enough
            for row in torch.randint(0, 2, (count, k + n)).tolist():
                if tuple(row) not in seen and len(bits) < count:
                    seen.add(tuple(row))
                    bits.append(row)
        x = torch.tensor(bits, dtype=torch.float32)
        y = x[:, :k].sum(1).long() % 2
        n_train = int(round(float(config["train_frac"]) * count))
        info = TaskInfo("classification", 2, "features", in_features=k + n)
        return TaskData(info, x[:n_train], y[:n_train], x[n_train:], y[n_train:])


@hookimpl
def register_tasks(register):
    register(SparseParity)
