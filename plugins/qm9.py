"""QM9 (Omnigrok §4, Fig. 5): predict the isotropic polarizability α (bohr³) of small molecules
with a graph network, from a few of QM9's 130,831 molecules, split 50/50.

Data: the CSV files the ``qm9pack`` package ships (SMILES and polarizability of every molecule),
read straight from its data folder — ``import qm9pack`` itself needs ``pkg_resources``, which
setuptools ≥ 81 no longer has. Molecules become bond graphs with hydrogens as nodes
(``torch_geometric.utils.from_smiles``, which needs rdkit), with the node and edge features of
PyG's ``QM9`` dataset that the Omnigrok code trained on (11 per atom, 4 per bond). The chosen molecules'
graphs are cached on disk, keyed by everything they depend on.

Model ``gcnn``: the Omnigrok code's net, NNConv(11→32) → NNConv(32→16) → global add pool → 16-32-1.
The target is raw α in bohr³, not standardized: the Omnigrok code trained on the raw value, and the
α = 3 plateau it shows is a property of that loss scale (test MSE at the plateau ≈ α's variance).
"""
from __future__ import annotations

import csv
import functools
import importlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from grokbench import Option, Task, TaskData, TaskInfo, UserError, cached, derive_seed, hookimpl

QM9_FILES = ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv")
QM9_SIZE = 130_831
COLUMNS = ("Index", "SMILES", "Polarizability_bohr3")
ELEMENTS = (1, 6, 7, 8, 9)                 # H C N O F: the one-hot atom type of PyG's QM9
HYBRIDIZATIONS = (2, 3, 4)                 # from_smiles codes of SP, SP2, SP3
BOND_TYPES = (1, 2, 3, 12)                 # from_smiles codes of single, double, triple, aromatic
NODE_FEATURES, EDGE_FEATURES = 11, 4
FEATURES_VERSION = 1                       # bump when the graph features change: new cache key
RDKIT_HINT = "pip install rdkit"


# -- raw data ------------------------------------------------------------------------------

def qm9_folder(config_value=None) -> Path:
    """--set data_dir=..., else $GROKBENCH_QM9_DIR, else the data folder of the installed
    qm9pack package (found without importing it: its import fails on new setuptools)."""
    value = config_value or os.environ.get("GROKBENCH_QM9_DIR")
    if value:
        return Path(value).expanduser()
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the QM9 data comes from the qm9pack package, which is not installed: "
                        "pip install qm9pack (or --set data_dir=FOLDER holding qm9_part1..3.csv)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def read_qm9(folder: Path) -> list[tuple[int, str, float]]:
    """(QM9 index, SMILES, isotropic polarizability in bohr³) of every molecule, in index order."""
    rows = []
    for name in QM9_FILES:
        path = folder / name
        if not path.is_file():
            raise UserError(f"QM9 file {path} is missing; reinstall it (pip install --force-reinstall "
                            "qm9pack) or --set data_dir=FOLDER holding qm9_part1..3.csv")
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                header = next(reader, [])
                missing = [c for c in COLUMNS if c not in header]
                if missing:
                    raise ValueError(f"no column {missing[0]!r}")
                cols = [header.index(c) for c in COLUMNS]
                for row in reader:
                    if len(row) != len(header):
                        raise ValueError(f"line {reader.line_num} has {len(row)} fields, "
                                         f"not {len(header)}")
                    rows.append((int(row[cols[0]]), row[cols[1]], float(row[cols[2]])))
        except (ValueError, csv.Error, UnicodeDecodeError) as exc:
            raise UserError(f"QM9 file {path} is corrupt ({exc}); reinstall it: "
                            "pip install --force-reinstall qm9pack") from None
    if len(rows) != QM9_SIZE:
        raise UserError(f"the QM9 files in {folder} hold {len(rows)} molecules, not {QM9_SIZE}: "
                        "truncated or corrupt; reinstall them: pip install --force-reinstall qm9pack")
    return rows


def _file_identity(folder: Path) -> list:
    """What the cache key knows of the raw files: a changed file makes a new key."""
    out = []
    for name in QM9_FILES:
        try:
            st = (folder / name).stat()
            out.append([str(folder / name), st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([str(folder / name), None, None])
    return out


# -- graphs --------------------------------------------------------------------------------

def require_rdkit():
    try:
        importlib.import_module("rdkit")
    except ImportError:
        raise UserError(f"QM9 graphs are built from SMILES with rdkit, which is not installed: "
                        f"{RDKIT_HINT}") from None


def molecule_graph(smiles: str):
    """(x [atoms, 11], edge_index [2, 2·bonds], edge_attr [2·bonds, 4]) of one molecule, hydrogens
    included. Features as PyG's QM9 (the Omnigrok code's input): one-hot H/C/N/O/F, atomic number, aromatic,
    sp/sp2/sp3, number of bonded hydrogens; one-hot bond type single/double/triple/aromatic."""
    from torch_geometric.utils import from_smiles
    g = from_smiles(smiles, with_hydrogen=True)
    if g.num_nodes == 0:  # from_smiles turns an unparsable SMILES into an empty graph
        raise ValueError(f"rdkit cannot parse SMILES {smiles!r}")
    z, hyb, aromatic = g.x[:, 0], g.x[:, 6], g.x[:, 7]
    src, dst = g.edge_index
    n_hydrogens = torch.zeros(len(z), dtype=torch.long).index_add_(0, dst, (z[src] == 1).long())
    x = torch.cat([(z[:, None] == torch.tensor(ELEMENTS)).float(), z[:, None].float(),
                   aromatic[:, None].float(), (hyb[:, None] == torch.tensor(HYBRIDIZATIONS)).float(),
                   n_hydrogens[:, None].float()], 1)
    edge_attr = (g.edge_attr[:, :1] == torch.tensor(BOND_TYPES)).float()
    return x, g.edge_index, edge_attr


class Graphs:
    """Many graphs stored as one (precollated): node and edge rows concatenated, ``node_ptr`` /
    ``edge_ptr`` where each graph's rows start; ``edge_index`` holds node ids local to a graph.
    ``select`` builds a minibatch by index arithmetic: 0.25 ms for 32 molecules here, against
    0.9 ms for ``Batch.from_data_list`` on a list of Data (same batch, tested)."""

    def __init__(self, x, edge_index, edge_attr, node_ptr, edge_ptr):
        self.x, self.edge_index, self.edge_attr = x, edge_index, edge_attr
        self.node_ptr, self.edge_ptr = node_ptr, edge_ptr

    @classmethod
    def from_graphs(cls, graphs):
        xs, eis, eas = zip(*graphs)
        node_ptr = torch.tensor([0] + [len(x) for x in xs]).cumsum(0)
        edge_ptr = torch.tensor([0] + [e.shape[1] for e in eis]).cumsum(0)
        return cls(torch.cat(xs), torch.cat(eis, 1), torch.cat(eas), node_ptr, edge_ptr)

    def state(self) -> dict:
        return dict(x=self.x, edge_index=self.edge_index, edge_attr=self.edge_attr,
                    node_ptr=self.node_ptr, edge_ptr=self.edge_ptr)

    def __len__(self):
        return len(self.node_ptr) - 1

    def select(self, index) -> GraphBatch:
        if isinstance(index, slice):
            index = torch.arange(len(self))[index]
        index = index.to(self.node_ptr.device)
        node_rows, batch, n_nodes = _rows(self.node_ptr, index)
        edge_rows, edge_graph, _ = _rows(self.edge_ptr, index)
        first_node = n_nodes.cumsum(0) - n_nodes   # where each chosen graph's nodes start now
        edge_index = self.edge_index[:, edge_rows] + first_node[edge_graph]
        return GraphBatch(self.x[node_rows], edge_index, self.edge_attr[edge_rows], batch, len(index))

    def to(self, device, dtype):
        """Floating features take the training dtype; ids and offsets stay integers."""
        return Graphs(self.x.to(device, dtype), self.edge_index.to(device),
                      self.edge_attr.to(device, dtype), self.node_ptr.to(device),
                      self.edge_ptr.to(device))


def _rows(ptr, index):
    """Rows of the graphs at ``index`` (in that order), the output graph of each row, and counts."""
    starts, counts = ptr[index], ptr[index + 1] - ptr[index]
    graph = torch.repeat_interleave(torch.arange(len(index), device=ptr.device), counts)
    out_start = counts.cumsum(0) - counts
    rows = torch.arange(int(counts.sum()), device=ptr.device) - out_start[graph] + starts[graph]
    return rows, graph, counts


class GraphBatch:
    """A minibatch with the attributes PyG's ``Batch`` has (so ``gcnn`` takes either)."""

    def __init__(self, x, edge_index, edge_attr, batch, num_graphs):
        self.x, self.edge_index, self.edge_attr = x, edge_index, edge_attr
        self.batch, self.num_graphs = batch, num_graphs


def build_molecules(config) -> dict:
    """The chosen molecules (graphs, α, QM9 indices), in split order: the first n_train train."""
    n, selection = int(config["n_molecules"]), config["selection"]
    if not 2 <= n <= QM9_SIZE:
        raise UserError(f"n_molecules must be between 2 and {QM9_SIZE}, got {n}")
    if selection not in ("random", "first"):
        raise UserError(f"selection must be 'random' or 'first' (the Omnigrok code's first N), got {selection!r}")
    folder = qm9_folder(config.get("data_dir"))
    settings = {"n_molecules": n, "selection": selection, "seed": int(config["seed"]),
                "files": _file_identity(folder), "features": FEATURES_VERSION}

    def build():
        require_rdkit()
        rows = read_qm9(folder)
        gen = torch.Generator().manual_seed(derive_seed(int(config["seed"]), "qm9-molecules"))
        if selection == "random":  # a seeded choice of n among all molecules, in random order
            chosen = torch.randperm(QM9_SIZE, generator=gen)[:n]
        else:  # the Omnigrok code: dset[:size], then random_split
            chosen = torch.randperm(n, generator=gen)
        graphs = []
        for i in chosen.tolist():
            try:
                graphs.append(molecule_graph(rows[i][1]))
            except ValueError as exc:
                raise UserError(f"QM9 molecule {rows[i][0]} is corrupt ({exc}); reinstall the data: "
                                "pip install --force-reinstall qm9pack") from None
        return {"graphs": Graphs.from_graphs(graphs).state(),
                "y": torch.tensor([rows[i][2] for i in chosen.tolist()]),
                "qm9_index": torch.tensor([rows[i][0] for i in chosen.tolist()])}

    return cached("qm9", settings, build, keys=("graphs", "y", "qm9_index"))


# -- task ----------------------------------------------------------------------------------

class QM9(Task):
    name = "qm9"
    description = ("isotropic polarizability of QM9 molecules (bohr³) with a GCNN, "
                   "50/50 split of 100 molecules (Omnigrok §4)")
    kind = "regression"
    size_option = "n_molecules"  # the molecules of both splits (train_frac of them train)
    options = {
        "n_molecules": Option(100, "molecules used (Omnigrok §4: 100)", int, minimum=2),
        "train_frac": Option(0.5, "fraction of them in the training set (Omnigrok §4: 0.5)", float,
                             minimum=0, maximum=1),
        "selection": Option("random", "which molecules: a seeded random choice, or the first N "
                            "(the Omnigrok code)", str, choices=("random", "first")),
        "data_dir": Option(None, "folder holding qm9_part1..3.csv (none: $GROKBENCH_QM9_DIR, else "
                           "the qm9pack package's data)", str),
    }
    # Omnigrok (Liu et al. 2023 §4 and its code): AdamW 1e-3, batch 32, MSE, wd 0, α = 3
    # (grokking) vs α = 1 (none), 1e5 steps.
    # The default budget is 3e4 steps (~2 min of one CPU core): measured here, α = 3's test MSE
    # leaves its plateau at ~1e4 steps and test R² passes 0.5 at 21,500; by 1e5 steps nothing
    # more happens (R² 0.77 at the end, best 0.89 at 42k). `--preset paper` runs the full 1e5.
    # Accuracy: a molecule counts as right when |error| < 1 bohr³ (squared error < acc_threshold),
    # ~1/8 of α's spread over QM9 (std 8.2 bohr³, mean 75).
    defaults = {"model": "gcnn", "loss": "mse", "optimizer": "adamw", "lr": 1e-3,
                "weight_decay": 0.0, "batch_size": 32, "init_scale": 3.0, "steps": 30000,
                "eval_every": 200, "acc_threshold": 1.0}
    presets = {"paper": {"steps": 100000, "eval_every": 500}}
    # Generalized = test R² ≥ 0.5: the model explains half of α's variance among unseen
    # molecules. Scale-free, and reached by α = 1 (~100 steps) and α = 3 (~2e4) alike; a
    # higher bar (0.9) was never reached by either with 50 training molecules.
    target_metric = "test_r2"
    target = 0.5

    def load(self, config):
        frac = float(config["train_frac"])
        if not 0 < frac < 1:
            raise UserError(f"train_frac must be between 0 and 1, got {frac}")
        mol = build_molecules(config)
        graphs, y = Graphs(**mol["graphs"]), mol["y"][:, None]
        n_train = int(round(frac * len(y)))
        if not 0 < n_train < len(y):
            raise UserError(f"{len(y)} molecules with train_frac {frac} leave an empty split; "
                            "raise n_molecules")
        train, test = slice(0, n_train), slice(n_train, len(y))
        info = TaskInfo("regression", 1, "graphs", in_features=NODE_FEATURES,
                        extra={"edge_features": EDGE_FEATURES})
        return TaskData(info, _sub(graphs, train), y[train], _sub(graphs, test), y[test])

    def select(self, x, index):
        return x.select(index)

    def to(self, x, device, dtype):
        return x.to(device, dtype)

    def extra_metrics(self, ctx):
        """R² = 1 − SSE/SST on each set (scale-free: 0 = predicting the set's mean, 1 = exact),
        and the mean absolute error in bohr³."""
        out = {}
        for split, pred, y in (("train", ctx.train_output, ctx.train_y),
                               ("test", ctx.test_output, ctx.test_y)):
            pred, y = pred.double().reshape(-1), y.double().reshape(-1)
            sst = (y - y.mean()).pow(2).sum()
            out[f"{split}_r2"] = (1 - (pred - y).pow(2).sum() / sst).item() if sst > 0 else float("nan")
            out[f"{split}_mae"] = (pred - y).abs().mean().item()
        return out


def _sub(graphs: Graphs, rows: slice) -> Graphs:
    """A contiguous run of graphs as its own Graphs (offsets rebased to 0)."""
    nodes = slice(int(graphs.node_ptr[rows.start]), int(graphs.node_ptr[rows.stop]))
    edges = slice(int(graphs.edge_ptr[rows.start]), int(graphs.edge_ptr[rows.stop]))
    node_ptr = graphs.node_ptr[rows.start:rows.stop + 1] - graphs.node_ptr[rows.start]
    edge_ptr = graphs.edge_ptr[rows.start:rows.stop + 1] - graphs.edge_ptr[rows.start]
    return Graphs(graphs.x[nodes], graphs.edge_index[:, edges], graphs.edge_attr[edges],
                  node_ptr, edge_ptr)


# -- model ---------------------------------------------------------------------------------

def unique_rows(a):
    """(distinct rows, row → its distinct row's id), as torch.unique(a, dim=0,
    return_inverse=True), whose CPU kernel loops over rows (~8 ms for 1,000 bonds).
    Rows are told apart column by column through 1-D uniques; re-numbering after each column
    keeps the ids below len(a), so they never overflow."""
    key = torch.zeros(len(a), dtype=torch.long, device=a.device)
    for column in a.unbind(1):
        values, value_id = torch.unique(column, return_inverse=True)
        _, key = torch.unique(key * len(values) + value_id, return_inverse=True)
    n_kinds = int(key.max()) + 1 if len(key) else 0
    # a row of each kind (rows of one kind are equal, so whichever one scatter keeps is right)
    example = torch.empty(n_kinds, dtype=torch.long, device=a.device)
    example.scatter_(0, key, torch.arange(len(a), device=a.device))
    return a[example], key


@functools.cache
def _per_kind_nnconv():
    """NNConv whose edge network runs once per distinct edge feature vector, not once per edge.

    NNConv maps each edge's features to a weight matrix W(e) and sends x_j @ W(e). QM9 edges
    carry a one-hot bond type, so there are at most 4 distinct W: computing them once and
    sending x_j @ W[kind] is the same function with the same gradients (tested), ~5× faster
    on CPU than PyG's per-edge MLP and batched matmul."""
    from torch_geometric.nn import NNConv  # imported here: torch_geometric takes seconds

    class PerKindNNConv(NNConv):
        def message(self, x_j, edge_attr):
            kinds, kind = unique_rows(edge_attr)
            n_in, n_out, n_kinds = self.in_channels_l, self.out_channels, len(kinds)
            weight = self.nn(kinds).view(n_kinds, n_in, n_out)
            # x_j against every kind's W in one matmul, then each edge keeps its own kind's row
            every = (x_j @ weight.transpose(0, 1).reshape(n_in, n_kinds * n_out))
            every = every.view(-1, n_kinds, n_out)
            return every.gather(1, kind.view(-1, 1, 1).expand(-1, 1, n_out)).squeeze(1)

    # named as a module attribute (see __getattr__ below), so that a model holding it pickles:
    # an interrupted run's resume state saves the whole model (grokbench/resume.py)
    PerKindNNConv.__qualname__, PerKindNNConv.__module__ = "PerKindNNConv", __name__
    return PerKindNNConv


def __getattr__(name):
    # PEP 562: ``plugins.qm9.PerKindNNConv`` is built on first use (it subclasses
    # torch_geometric's NNConv, whose import takes seconds), also when unpickling finds it
    if name == "PerKindNNConv":
        return _per_kind_nnconv()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _drop_generated_source(layer):
    """Delete the source file torch_geometric generated for this layer's class.

    MessagePassing renders each subclass's ``propagate`` from a template into a new file in the
    temp directory, imports it and never deletes it: one 9 KB file per class per process, so
    every QM9 run of a sweep's worker processes left one behind. The module is imported by now
    (and cached in ``sys.modules`` for the rest of the process); only a traceback through it
    would read the file again, and would show no source lines."""
    module = sys.modules.get(getattr(type(layer).propagate, "__module__", ""))
    path = getattr(module, "__file__", None)
    if path and os.path.dirname(os.path.abspath(path)) == os.path.abspath(tempfile.gettempdir()):
        try:
            os.unlink(path)
        except OSError:
            pass


class GCNN(nn.Module):
    """The Omnigrok code's ExampleNet: two edge-conditioned convolutions (NNConv, sum aggregation), ReLU,
    sum over atoms, then 16-32-1. Takes a GraphBatch or a PyG Batch. ``per_kind_edges=False``
    uses PyG's NNConv as it is (same function, slower)."""

    def __init__(self, node_features, edge_features, per_kind_edges=True):
        super().__init__()
        from torch_geometric.nn import NNConv
        NNConv = _per_kind_nnconv() if per_kind_edges else NNConv  # noqa: N806
        self.conv1 = NNConv(node_features, 32, nn.Sequential(
            nn.Linear(edge_features, 32), nn.ReLU(), nn.Linear(32, node_features * 32)))
        self.conv2 = NNConv(32, 16, nn.Sequential(
            nn.Linear(edge_features, 32), nn.ReLU(), nn.Linear(32, 32 * 16)))
        self.fc_1 = nn.Linear(16, 32)
        self.out = nn.Linear(32, 1)
        _drop_generated_source(self.conv1)

    def forward(self, g):
        from torch_geometric.nn import global_add_pool
        h = F.relu(self.conv1(g.x, g.edge_index, g.edge_attr))
        h = F.relu(self.conv2(h, g.edge_index, g.edge_attr))
        h = global_add_pool(h, g.batch, size=g.num_graphs)
        return self.out(F.relu(self.fc_1(h)))


def build_gcnn(info, config):
    if info.input_kind != "graphs":
        raise UserError(f"the gcnn model takes graph inputs, not {info.input_kind}; "
                        "pick another --set model=...")
    return GCNN(info.in_features, info.extra.get("edge_features", EDGE_FEATURES),
                bool(config["per_kind_edges"]))


@hookimpl
def register_tasks(register):
    register(QM9)


@hookimpl
def register_models(register):
    register("gcnn", build_gcnn, "graph net of Omnigrok's QM9 run: NNConv(→32) → NNConv(→16) → "
             "add pool → 16-32-1",
             options={"per_kind_edges": Option(
                 True, "compute NNConv's edge network once per distinct bond kind (exact, faster; "
                 "docs/science.md, Tasks)", bool)})
