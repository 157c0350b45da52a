"""QM9 task: the real qm9pack data, the molecular graphs, the Omnigrok GCNN, its cache, and the
one-line errors for missing data or a missing rdkit."""
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from grokbench.config import resolve
from grokbench.engine import derive_seed, run
from grokbench.errors import UserError
from grokbench_plugins import qm9

CLI = [sys.executable, "-c", "from grokbench.cli import main; main()"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("GROKBENCH_CACHE_DIR", str(path))
    return path


def load(registry, **over):
    config = resolve(registry, "qm9", "baseline", over)
    torch.manual_seed(derive_seed(config["seed"], "data"))
    return registry.get("tasks", "qm9").obj().load(config), config


def test_reads_all_molecules_with_isotropic_polarizability():
    rows = qm9.read_qm9(qm9.qm9_folder())
    assert len(rows) == 130_831 == len({r[0] for r in rows})
    # QM9's first molecules: methane, ammonia, water (α in bohr³, Ramakrishnan et al. 2014)
    assert rows[:3] == [(1, "C", 13.21), (2, "N", 9.46), (3, "O", 6.31)]
    assert rows[-1][0] == 133_885
    # isotropic α = trace / 3 of the tensor in qm9_polarizability.csv (ammonia: 10.439, 10.438, 7.504)
    assert abs((10.439 + 10.438 + 7.504) / 3 - rows[1][2]) < 0.01


def test_graphs_of_known_molecules():
    x, edge_index, edge_attr = qm9.molecule_graph("C")  # methane: C and 4 H, 4 bonds each way
    assert x.shape == (5, 11) and edge_index.shape == (2, 8) and edge_attr.shape == (8, 4)
    carbon = x[0].tolist()  # one-hot H C N O F, Z, aromatic, sp sp2 sp3, bonded H
    assert carbon == [0, 1, 0, 0, 0, 6, 0, 0, 0, 1, 4]
    assert x[1:, 0].tolist() == [1] * 4 and (edge_attr[:, 0] == 1).all()  # H atoms; single bonds
    x, edge_index, edge_attr = qm9.molecule_graph("c1ccccc1")  # benzene: 6 C + 6 H, 12 bonds
    assert x.shape == (12, 11) and edge_index.shape == (2, 24)
    assert edge_attr.sum(0).tolist() == [12, 0, 0, 12]  # 6 C–H single, 6 aromatic, both ways
    carbons = x[x[:, 5] == 6]
    assert (carbons[:, 6] == 1).all() and (carbons[:, 8] == 1).all() and (carbons[:, 10] == 1).all()
    x, _, edge_attr = qm9.molecule_graph("C#N")  # hydrogen cyanide: a triple bond, sp atoms
    assert edge_attr.sum(0).tolist() == [2, 0, 2, 0] and x[:2, 7].tolist() == [1, 1]
    with pytest.raises(ValueError):
        qm9.molecule_graph("C1CC")  # unclosed ring: from_smiles would give an empty graph


def test_select_builds_the_same_batch_as_pyg(registry):
    from torch_geometric.data import Batch, Data
    smiles = ["C", "c1ccccc1", "OC1CC1OC1COC1", "C#N", "[NH3+]CC([O-])=O"]
    graphs = [qm9.molecule_graph(s) for s in smiles]
    packed = qm9.Graphs.from_graphs(graphs)
    index = torch.tensor([3, 0, 2])
    mine = packed.select(index)
    pyg = Batch.from_data_list([Data(x=graphs[i][0], edge_index=graphs[i][1], edge_attr=graphs[i][2])
                                for i in index.tolist()])
    for name in ("x", "edge_index", "edge_attr", "batch"):
        assert torch.equal(getattr(mine, name), getattr(pyg, name)), name
    assert mine.num_graphs == 3
    info = qm9.TaskInfo("regression", 1, "graphs", in_features=11, extra={"edge_features": 4})
    model = qm9.build_gcnn(info, {"per_kind_edges": True})
    assert torch.allclose(model(mine), model(pyg))
    assert torch.equal(packed.select(slice(1, 3)).x, packed.select(torch.tensor([1, 2])).x)


def test_per_kind_nnconv_is_the_same_function_and_gradient():
    smiles = ["c1ccccc1", "OC1CC1OC1COC1", "C#CC=O", "CC(=O)N"]
    batch = qm9.Graphs.from_graphs([qm9.molecule_graph(s) for s in smiles]).select(torch.arange(4))
    outs, grads = [], []
    for per_kind in (True, False):
        torch.manual_seed(0)
        model = qm9.GCNN(11, 4, per_kind_edges=per_kind).double()
        batch64 = qm9.GraphBatch(batch.x.double(), batch.edge_index, batch.edge_attr.double(),
                                 batch.batch, batch.num_graphs)
        out = model(batch64)
        out.pow(2).sum().backward()
        outs.append(out.detach())
        grads.append([p.grad for p in model.parameters()])
    assert torch.allclose(outs[0], outs[1], rtol=1e-10)
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)
    rows, kind = qm9.unique_rows(torch.tensor([[0, 1.], [1, 0], [0, 1], [.5, 0]]))
    assert torch.equal(rows[kind], torch.tensor([[0, 1.], [1, 0], [0, 1], [.5, 0]])) and len(rows) == 3


def test_load_splits_seeded_choice_and_caches(registry, cache):
    data, _ = load(registry, n_molecules=20)
    assert data.n_train == data.n_test == 10 and data.train_y.shape == (10, 1)
    assert data.info.input_kind == "graphs" and data.info.in_features == 11
    files = list(cache.glob("qm9-*.pt"))
    assert len(files) == 1
    # the labels are the chosen molecules' polarizabilities, from the same rows as their graphs
    mol = torch.load(files[0], weights_only=True)
    rows = qm9.read_qm9(qm9.qm9_folder())
    by_index = {r[0]: r for r in rows}
    for i, y in zip(mol["qm9_index"].tolist()[:10], data.train_y.ravel().tolist()):
        assert by_index[i][2] == pytest.approx(y)
    first = mol["qm9_index"][0].item()
    x, _, _ = qm9.molecule_graph(by_index[first][1])
    assert torch.equal(data.train_x.select(torch.tensor([0])).x, x)
    # cached: same data without rebuilding; another seed chooses other molecules
    again, _ = load(registry, n_molecules=20)
    assert torch.equal(again.train_y, data.train_y) and len(list(cache.glob("qm9-*.pt"))) == 1
    other, _ = load(registry, n_molecules=20, seed=1)
    assert not torch.equal(other.train_y, data.train_y)
    # The Omnigrok code's choice: QM9's first N molecules (methane ... ), shuffled into the two halves
    firsts, _ = load(registry, n_molecules=20, selection="first")
    assert sorted(torch.cat([firsts.train_y, firsts.test_y]).ravel().tolist()) == \
        pytest.approx(sorted(r[2] for r in rows[:20]))


def test_bad_options_are_user_errors(registry, cache):
    for over in ({"n_molecules": 1}, {"selection": "best"}, {"train_frac": 1.0}):
        with pytest.raises(UserError):
            load(registry, **over)


def test_missing_or_corrupt_data_files(registry, cache, tmp_path, monkeypatch):
    folder = tmp_path / "qm9"
    folder.mkdir()
    with pytest.raises(UserError, match="qm9_part1.csv is missing"):
        load(registry, data_dir=str(folder))
    header = "XYZ_file,Index,SMILES,Polarizability_bohr3\n"
    for name in qm9.QM9_FILES:
        (folder / name).write_text(header + '"dsgdb9nsd_000001.xyz",1,"C",13.21\n')
    with pytest.raises(UserError, match="hold 3 molecules, not 130831"):
        load(registry, data_dir=str(folder))
    (folder / "qm9_part2.csv").write_text(header + '"dsgdb9nsd_000002.xyz",2,"N",not-a-number\n')
    with pytest.raises(UserError, match="qm9_part2.csv is corrupt"):
        load(registry, data_dir=str(folder))
    (folder / "qm9_part2.csv").write_text("XYZ_file,Index,SMILES\n")
    with pytest.raises(UserError, match="no column 'Polarizability_bohr3'"):
        load(registry, data_dir=str(folder))
    assert not list(cache.glob("qm9-*.pt"))
    # no qm9pack installed and no data_dir: say how to get it
    monkeypatch.setitem(sys.modules, "qm9pack", None)
    with pytest.raises(UserError, match="pip install qm9pack"):
        qm9.qm9_folder()


def test_missing_rdkit_is_a_one_line_error(tmp_path):
    script = textwrap.dedent("""
        import sys
        sys.modules["rdkit"] = None  # makes `import rdkit` raise ImportError, as if not installed
        from grokbench.cli import main
        sys.argv = ["grokbench", "run", "--task", "qm9", "--steps", "1", "--no-store", "-q",
                    "--set", "n_molecules=4"]
        main()
    """)
    env = dict(os.environ, GROKBENCH_CACHE_DIR=str(tmp_path / "cache"))  # empty: must build
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "Error: QM9 graphs are built from SMILES with rdkit, which is not installed: pip install rdkit"]


def test_interrupted_cache_write_leaves_no_cache(tmp_path):
    """Kill the process in the middle of writing the cache: no file under the cache's name may be
    left behind, and the next run builds and saves it."""
    script = textwrap.dedent("""
        import os, signal, torch
        from grokbench.config import resolve
        from grokbench.registry import get_registry

        def save_half_then_die(obj, fh):
            fh.write(b"PK half a torch file")
            fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        torch.save = save_half_then_die
        registry = get_registry()
        config = resolve(registry, "qm9", "baseline", {"n_molecules": 6})
        registry.get("tasks", "qm9").obj().load(config)
    """)
    cache = tmp_path / "cache"
    env = dict(os.environ, GROKBENCH_CACHE_DIR=str(cache))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    assert list(cache.glob(".qm9-*.tmp")), "the write was not reached"
    assert not list(cache.glob("qm9-*.pt"))
    proc = subprocess.run(CLI + ["run", "--task", "qm9", "--steps", "2", "--no-store", "-q",
                                 "--set", "n_molecules=6"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(list(cache.glob("qm9-*.pt"))) == 1


def test_a_qm9_run_leaves_no_generated_source_in_the_temp_directory(tmp_path):
    """torch_geometric writes each message-passing class's generated propagate() to a new file in
    the temp directory and never deletes it; a sweep's worker processes used to leave one per
    QM9 run. A real run in a subprocess whose temp directory is empty must leave no .py there."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = dict(os.environ, TMPDIR=str(temp), GROKBENCH_CACHE_DIR=str(tmp_path / "cache"))
    for per_kind in ("true", "false"):
        proc = subprocess.run(CLI + ["run", "--task", "qm9", "--steps", "2", "--no-store", "-q",
                                     "--set", "n_molecules=6", "--set", f"per_kind_edges={per_kind}"],
                              env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    assert not list(temp.rglob("*.py"))


def test_short_run_records_r2_and_learns(registry, cache):
    config = resolve(registry, "qm9", "baseline", {"n_molecules": 40, "steps": 60, "eval_every": 20,
                                                   "init_scale": 1.0, "threads": 1})
    assert config["target_metric"] == "test_r2" and config["batch_size"] == 32
    result = run(config, registry=registry, progress=False)
    first, last = result["curve"][0], result["curve"][-1]
    assert last["step"] == 60 and last["train_loss"] < first["train_loss"] / 10
    # R² = 1 − MSE / Var(y): check it against the recorded loss and the test labels
    data, _ = load(registry, n_molecules=40)
    var = data.test_y.double().var(unbiased=False).item()
    assert last["test_r2"] == pytest.approx(1 - last["test_loss"] / var, rel=1e-5)
    assert result["eval_time"] > 0 and result["train_time"] > 0
    assert result["scores"]["steps_run"] == 60


class Payload:
    """What a planted cache file could hold: unpickling it runs a command."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_or_wrong_cache_is_refused_in_one_line_and_runs_nothing(cache, tmp_path):
    """Real processes and real cache files: the first run builds the cache; each bad
    replacement of it is then refused in one line (exit code 2), and a planted pickle's
    payload never runs."""
    cmd = [*CLI, "run", "--task", "qm9", "--set", "n_molecules=20", "--steps", "0", "--no-store",
           "-q"]
    env = {**os.environ, "GROKBENCH_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1"}
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    (path,) = cache.glob("qm9-*.pt")
    good = path.read_bytes()
    marker = tmp_path / "payload-ran"

    def planted_pickle(p):
        import pickle
        p.write_bytes(pickle.dumps({"graphs": Payload(marker), "y": 0, "qm9_index": 0}))

    def planted_torch_file(p):
        torch.save({"graphs": Payload(marker), "y": torch.ones(1), "qm9_index": torch.ones(1)}, p)

    def wrong_object(p):
        torch.save(torch.ones(3), p)

    def a_folder(p):
        p.unlink()
        p.mkdir()

    cases = [(planted_pickle, "holds objects other than tensors"),
             (planted_torch_file, "holds objects other than tensors"),
             (wrong_object, "does not hold qm9 data"),
             (a_folder, "is not a file")]
    for plant, message in cases:
        plant(path)
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 2, (plant.__name__, out.stderr)
        assert out.stderr.count("\n") == 1 and message in out.stderr, out.stderr
        assert "delete it" in out.stderr or "remove it" in out.stderr
        assert not marker.exists(), "the planted payload ran"
        if path.is_dir():
            path.rmdir()
        path.write_bytes(good)
