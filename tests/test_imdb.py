"""The IMDb task: preprocessing against hand-computed ids, the folder and tarball layouts, the
on-disk cache, bad input, the download command against a local HTTP server, and the real data."""
import functools
import hashlib
import http.server
import io
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
import torch

from grokbench.config import resolve
from grokbench.data import cached, download
from grokbench.engine import derive_seed, run
from grokbench.errors import UserError
from grokbench_plugins import imdb
from grokbench_plugins.imdb import encode, find_source

# A copy of the labeled aclImdb tarball (the official reviews, with this sha256) for the checks on
# real data; they are skipped without one.
REAL_TARBALL = Path(os.environ.get("GROKBENCH_TEST_IMDB_TARBALL", "aclImdb_labeled.tar.gz-not-given"))
REAL_SHA256 = "4d287d9158d23bf982a1b4724b257c3aeb6938e85108771c63405ca60174e2c4"

FILLER = "plot actors scene story music ending camera director script character".split()


def review(label, i):
    """Positive reviews praise, negative ones pan; filler words make lengths differ."""
    words = " ".join(FILLER[(i + k) % len(FILLER)] for k in range(i % 7))
    if label == "pos":
        return f"A wonderful film, truly GREAT.<br /><br />I loved it {i} times! {words}"
    return f"An awful film: terrible and boring.<br />Rated 1/10. {words}"


def aclimdb_files(n_per=12):
    """{path in the archive: bytes}: the aclImdb layout with n_per reviews per split and label,
    plus the parts a loader must skip (README, vocab, unsup)."""
    files = {"aclImdb/README": b"readme", "aclImdb/imdb.vocab": b"the\nfilm\n",
             "aclImdb/train/unsup/0_0.txt": b"unlabeled wonderful wonderful wonderful"}
    for split in ("train", "test"):
        for label in ("neg", "pos"):
            for i in range(n_per):
                stars = 8 if label == "pos" else 2
                files[f"aclImdb/{split}/{label}/{i}_{stars}.txt"] = review(label, i).encode()
    return files


def make_tarball(path, files=None):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (files or aclimdb_files()).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def make_folder(root, files=None):
    for name, data in (files or aclimdb_files()).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root / "aclImdb"


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    """Each test gets its own cache and download folders and no IMDb path from outside."""
    monkeypatch.setenv("GROKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GROKBENCH_DATA_DIR", str(tmp_path / "downloads"))
    monkeypatch.delenv("GROKBENCH_IMDB_DIR", raising=False)


SMALL = {"n_train": 8, "n_test": 6, "vocab_size": 20, "seq_len": 12}


def load(registry, **over):
    config = resolve(registry, "imdb", "baseline", {**SMALL, **over})
    torch.manual_seed(derive_seed(config["seed"], "data"))
    return registry.get("tasks", "imdb").obj().load(config)


# -- preprocessing ------------------------------------------------------------------------------

def test_encode_against_hand_computed_ids():
    texts = ["The movie was GREAT great!<br />Great acting, 10/10", "awful movie"]
    # lowercase, letters only ("10/10" and "<br />" vanish), stop words (the, was) removed:
    # great ×3, movie ×2, acting ×1, awful ×1 → ids great 1, movie 2, acting 3 (tie: alphabetical)
    ids, vocab = encode(texts, vocab_size=3, seq_len=5)
    assert vocab == ["great", "movie", "acting"]
    assert ids.tolist() == [[2, 1, 1, 1, 3], [0, 0, 0, 0, 2]]  # out-of-vocab dropped, left-padded
    short, _ = encode(texts, vocab_size=3, seq_len=3)
    assert short.tolist() == [[2, 1, 1], [0, 0, 2]]  # a long review keeps its first seq_len words
    # the test texts are encoded with the training reviews' vocabulary
    test_ids, _ = encode(["acting acting movie"], vocab_size=3, seq_len=4, train_texts=texts)
    assert test_ids.tolist() == [[0, 3, 3, 2]]


def test_tarball_gives_balanced_seeded_subsets_with_the_right_labels(registry, tmp_path):
    source = make_tarball(tmp_path / "aclImdb_v1.tar.gz")
    data = load(registry, data_dir=str(source))
    assert data.train_x.shape == (8, 12) and data.test_x.shape == (6, 12)
    assert data.train_x.dtype == torch.long and data.train_y.tolist().count(1.0) == 4
    assert data.test_y.tolist().count(1.0) == 3
    assert data.info.kind == "binary" and data.info.n_outputs == 1
    vocab = imdb.preprocess(resolve(registry, "imdb", "baseline", {**SMALL, "data_dir": str(source)}))["vocab"]
    assert data.info.vocab_size == len(vocab) + 1 and "br" not in vocab and "unlabeled" not in vocab
    wonderful, awful = vocab.index("wonderful") + 1, vocab.index("awful") + 1
    for x, y in zip(torch.cat([data.train_x, data.test_x]), torch.cat([data.train_y, data.test_y])):
        assert (wonderful in x.tolist()) == (y == 1) and (awful in x.tolist()) == (y == 0)
    again, other = load(registry, data_dir=str(source)), load(registry, data_dir=str(source), seed=1)
    assert torch.equal(again.train_x, data.train_x)
    assert not torch.equal(other.train_x, data.train_x)


def test_folder_and_tarball_give_the_same_tensors(registry, tmp_path):
    tar = load(registry, data_dir=str(make_tarball(tmp_path / "a.tar.gz")))
    folder = make_folder(tmp_path / "extracted")
    for path in (folder, folder.parent):  # the aclImdb folder, or the folder holding it
        data = load(registry, data_dir=str(path))
        assert torch.equal(data.train_x, tar.train_x) and torch.equal(data.test_y, tar.test_y)


def test_all_test_reviews_with_n_test_none(registry, tmp_path):
    data = load(registry, data_dir=str(make_tarball(tmp_path / "a.tar.gz")), n_test=None)
    assert data.n_test == 24


def test_where_the_data_is_looked_for(tmp_path, monkeypatch):
    (tmp_path / "dl").mkdir()
    tar = make_tarball(tmp_path / "dl" / "aclImdb_v1.tar.gz")
    assert find_source(str(tar)) == tar and find_source(str(tar.parent)) == tar
    monkeypatch.setenv("GROKBENCH_IMDB_DIR", str(tar))
    assert find_source() == tar
    monkeypatch.delenv("GROKBENCH_IMDB_DIR")
    monkeypatch.setenv("GROKBENCH_DATA_DIR", str(tar.parent))  # where `data fetch` saves it
    assert find_source() == tar


# -- the cache ----------------------------------------------------------------------------------

def test_second_load_reads_the_cache_not_the_data(registry, tmp_path, monkeypatch):
    source = make_tarball(tmp_path / "a.tar.gz")
    first = load(registry, data_dir=str(source))
    assert len(list((tmp_path / "cache").glob("imdb-*.pt"))) == 1

    def no_reading(_):
        raise AssertionError("read the raw reviews although a cache exists")
    monkeypatch.setattr(imdb, "read_reviews", no_reading)
    assert torch.equal(load(registry, data_dir=str(source)).train_x, first.train_x)
    with pytest.raises(AssertionError):  # another setting is another cache entry
        load(registry, data_dir=str(source), seq_len=13)


def test_interrupted_build_leaves_no_cache_and_corrupt_cache_is_rebuilt(tmp_path):
    cache = tmp_path / "cache"

    def broken_build():
        raise KeyboardInterrupt  # e.g. Ctrl-C halfway through preprocessing
    with pytest.raises(KeyboardInterrupt):
        cached("thing", {"a": 1}, broken_build)
    assert not cache.exists() or not any(cache.iterdir())

    def interrupted_write():
        return {"x": Unpicklable()}  # torch.save fails halfway through writing
    with pytest.raises(RuntimeError, match="cannot pickle"):
        cached("thing", {"a": 1}, interrupted_write)
    assert not any(cache.iterdir())  # neither the cache nor a temporary file is left

    assert cached("thing", {"a": 1}, lambda: {"x": torch.ones(3)})["x"].sum() == 3
    (path,) = cache.iterdir()
    path.write_bytes(path.read_bytes()[:20])  # a cache file cut short
    assert cached("thing", {"a": 1}, lambda: {"x": torch.zeros(2)})["x"].tolist() == [0, 0]


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("cannot pickle")


# -- bad input ----------------------------------------------------------------------------------

def test_no_data_says_where_to_put_it_and_how_to_fetch_it(registry):
    with pytest.raises(UserError, match="aclImdb_v1.tar.gz .*grokbench data fetch imdb"):
        load(registry)


@pytest.mark.parametrize("damage,message", [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "truncated or corrupt"),
    (lambda p: p.write_bytes(b"this is not a tarball"), "truncated or corrupt"),
    (lambda p: make_tarball(p, {"aclImdb/train/pos/1_9.txt": b"good"}), "not the Large Movie Review"),
])
def test_damaged_archive_is_a_user_error_and_leaves_no_cache(registry, tmp_path, damage, message):
    source = make_tarball(tmp_path / "a.tar.gz")
    damage(source)
    with pytest.raises(UserError, match=message):
        load(registry, data_dir=str(source))
    assert not list((tmp_path / "cache").glob("*"))


def test_wrong_folder_layout_and_missing_path(registry, tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "review.txt").write_text("great")
    with pytest.raises(UserError, match="has neither aclImdb/ nor aclImdb_v1.tar.gz"):
        load(registry, data_dir=str(tmp_path / "flat"))
    for sub in ("train", "test"):
        (tmp_path / "flat" / sub).mkdir()
    with pytest.raises(UserError, match="no train/neg folder"):
        load(registry, data_dir=str(tmp_path / "flat"))
    for sub in ("train/neg", "train/pos", "test/neg", "test/pos"):
        (tmp_path / "flat" / sub).mkdir()
    with pytest.raises(UserError, match=r"no aclImdb/train/neg/\*\.txt reviews"):
        load(registry, data_dir=str(tmp_path / "flat"))
    with pytest.raises(UserError, match="does not exist"):
        load(registry, data_dir=str(tmp_path / "nowhere"))


def test_cli_without_data_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "grokbench", "run", "--task", "imdb", "--no-store",
                          "--quiet"], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "grokbench data fetch imdb" in out.stderr


# -- downloading (from a server on 127.0.0.1 only) -----------------------------------------------

@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(QuietHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_fetch_downloads_checks_and_the_task_finds_it(registry, server, tmp_path):
    www, url = server
    tar = make_tarball(www / "mirror.tar.gz")
    sha = hashlib.sha256(tar.read_bytes()).hexdigest()
    out = subprocess.run([sys.executable, "-m", "grokbench", "data", "fetch", "imdb", "--url",
                          f"{url}/mirror.tar.gz", "--sha256", sha], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "100%" in out.stderr  # the progress bar
    saved = tmp_path / "downloads" / "aclImdb_v1.tar.gz"  # $GROKBENCH_DATA_DIR, where it looks
    assert saved.read_bytes() == tar.read_bytes()
    assert load(registry).n_train == 8  # no data_dir needed now
    again = subprocess.run([sys.executable, "-m", "grokbench", "data", "fetch", "imdb", "--url",
                            f"{url}/gone", "--sha256", sha], capture_output=True, text=True)
    assert again.returncode == 0 and "already there" in again.stdout


def test_fetch_with_wrong_checksum_keeps_nothing(server, tmp_path):
    www, url = server
    make_tarball(www / "mirror.tar.gz")
    out = subprocess.run([sys.executable, "-m", "grokbench", "data", "fetch", "imdb", "--url",
                          f"{url}/mirror.tar.gz", "--dest", str(tmp_path / "d"), "--quiet"],
                         capture_output=True, text=True)  # checked against the official sha256
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and imdb.OFFICIAL_SHA256 in out.stderr
    assert not any((tmp_path / "d").iterdir())  # no file, no temporary left behind


def test_download_errors_are_user_errors(server, tmp_path):
    www, url = server
    with pytest.raises(UserError, match="404"):
        download(f"{url}/missing.tar.gz", tmp_path / "x", progress=False)
    with pytest.raises(UserError, match="cannot download"):
        download("http://127.0.0.1:9/nothing-listens-here", tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()


def test_official_download_is_declared():
    spec = imdb.IMDb.download
    assert spec["url"] == "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    assert spec["filename"] == "aclImdb_v1.tar.gz" and len(spec["sha256"]) == 64


# -- the model and a run --------------------------------------------------------------------------

def test_short_run_end_to_end(registry, tmp_path):
    over = {**SMALL, "data_dir": str(make_tarball(tmp_path / "a.tar.gz")), "hidden_size": 8,
            "embed_dim": 4, "steps": 6, "eval_every": 3, "batch_size": 4}
    result = run(resolve(registry, "imdb", "baseline", over), registry=registry, progress=False)
    assert result["status"] == "finished" and result["curve"][-1]["step"] == 6
    assert 0 <= result["curve"][-1]["test_acc"] <= 1 and result["config"]["grad_clip"] == 5.0


def test_lstm_reads_left_padded_sequences_and_gives_one_logit(registry):
    from grokbench.api import TaskInfo
    info = TaskInfo("binary", 1, "tokens", vocab_size=11, seq_len=7)
    config = resolve(registry, "imdb", "baseline", {})
    model = registry.get("models", "lstm").obj(info, config)
    assert model(torch.randint(0, 11, (5, 7))).shape == (5,)
    assert model.lstm.hidden_size == 128 and model.lstm.num_layers == 2
    assert model.embedding.weight.shape == (11, 64)


# -- the real data ------------------------------------------------------------------------------

@pytest.mark.skipif(not REAL_TARBALL.is_file(),
                    reason="set GROKBENCH_TEST_IMDB_TARBALL to a copy of the labeled aclImdb tarball "
                           f"(sha256 {REAL_SHA256[:12]}…) to run the checks on real data")
def test_real_tarball_default_preprocessing(registry):
    assert hashlib.sha256(REAL_TARBALL.read_bytes()).hexdigest() == REAL_SHA256
    config = resolve(registry, "imdb", "baseline", {"data_dir": str(REAL_TARBALL)})
    data = imdb.preprocess(config)
    assert data["train_x"].shape == (1000, config["seq_len"]) and data["test_x"].shape == (1000, config["seq_len"])
    assert data["train_y"].sum() == 500 and data["test_y"].sum() == 500
    assert len(data["vocab"]) == 1000 and data["vocab"][:2] == ["movie", "film"]
    assert int(data["train_x"].max()) == 1000 and "br" not in data["vocab"]
    # Measured here: after stop words and the 1000-word vocabulary a review keeps 46 words
    # (median); 100 positions hold the whole of most reviews (85.5 %), hence the default seq_len.
    in_vocab = (data["train_x"] != 0).sum(1).float()
    assert 35 <= in_vocab.median() <= 60 and (in_vocab < config["seq_len"]).float().mean() > 0.75
