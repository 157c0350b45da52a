"""Muon, Grokfast-MA, the nuclear-norm penalty, and the tuning-fair protocol (grokbench.tuning)."""
import json
import subprocess
import sys

import pytest
import torch

from grokbench import UserError
from grokbench.api import TaskInfo
from grokbench.config import resolve, run_id
from grokbench_plugins.grokfast import GrokfastMA
from grokbench_plugins.mlp import build_mlp
from grokbench_plugins.muon import MuonWrapper, hidden_matrices
from grokbench_plugins.nuclear_norm import NuclearNorm, nuclear_grad
from grokbench_plugins.transformer import build_transformer


def names_of(model, params):
    ids = {id(p) for p in params}
    return [n for n, p in model.named_parameters() if id(p) in ids]


# -- Muon -----------------------------------------------------------------------------------------

MUON_CONFIG = {"lr": 0.01, "weight_decay": 0.5, "muon_lr": None, "muon_weight_decay": None,
               "muon_momentum": 0.95, "muon_nesterov": True, "muon_ns_steps": 5,
               "muon_adjust_lr": "match_rms_adamw"}


def test_muon_partition_mlp():
    tokens = TaskInfo("classification", 97, "tokens", vocab_size=97, seq_len=2)
    features = TaskInfo("classification", 2, "features", in_features=43)
    for info in (tokens, features):
        mlp = build_mlp(info, {"width": 32, "depth": 2, "activation": "relu", "bias": True})
        assert names_of(mlp, hidden_matrices(mlp)) == ["layers.1.weight"]
        deep = build_mlp(info, {"width": 32, "depth": 4, "activation": "relu", "bias": False})
        assert names_of(deep, hidden_matrices(deep)) == ["layers.1.weight", "layers.2.weight",
                                                         "layers.3.weight"]


def test_muon_partition_transformer_and_lstm():
    info = TaskInfo("classification", 97, "tokens", vocab_size=97, seq_len=2)
    model = build_transformer(info, {"d_model": 32, "n_heads": 4, "d_mlp": 64, "n_layers": 2})
    expected = [f"blocks.{i}.{n}.weight" for i in range(2) for n in ("qkv", "out", "mlp_in", "mlp_out")]
    assert names_of(model, hidden_matrices(model)) == expected  # not embed, pos, unembed
    lstm = torch.nn.ModuleDict({"embedding": torch.nn.Embedding(50, 8),
                                "lstm": torch.nn.LSTM(8, 16, 1), "fc": torch.nn.Linear(16, 1)})
    assert names_of(lstm, hidden_matrices(lstm)) == ["lstm.weight_ih_l0", "lstm.weight_hh_l0"]


def test_muon_wrapper_splits_params_and_steps_like_torch_muon():
    torch.manual_seed(0)
    info = TaskInfo("classification", 2, "features", in_features=6)
    model = build_mlp(info, {"width": 8, "depth": 2, "activation": "relu", "bias": True})
    twin = build_mlp(info, {"width": 8, "depth": 2, "activation": "relu", "bias": True})
    twin.load_state_dict(model.state_dict())
    opt = MuonWrapper(torch.optim.AdamW(list(model.parameters()), lr=0.01, weight_decay=0.5),
                      model, MUON_CONFIG)
    adam_ids = {id(p) for g in opt.inner.param_groups for p in g["params"]}
    muon_ids = {id(p) for g in opt.muon.param_groups for p in g["params"]}
    assert muon_ids == {id(model.layers[1].weight)} and not adam_ids & muon_ids
    assert adam_ids | muon_ids == {id(p) for p in model.parameters()}
    assert len(opt.params()) == len(list(model.parameters()))  # outer wrappers see every one
    # the same step by hand: AdamW on the rest, torch's Muon on the hidden matrix
    hidden = [twin.layers[1].weight]
    rest = [p for p in twin.parameters() if p is not twin.layers[1].weight]
    ref_adam = torch.optim.AdamW(rest, lr=0.01, weight_decay=0.5)
    ref_muon = torch.optim.Muon(hidden, lr=0.01, weight_decay=0.5, momentum=0.95, nesterov=True,
                                ns_steps=5, adjust_lr_fn="match_rms_adamw")
    x, y = torch.randn(16, 6), torch.randint(0, 2, (16,))
    for _ in range(3):
        for m, o in ((model, opt), (twin, None)):
            loss = torch.nn.functional.cross_entropy(m(x), y)
            (o or ref_adam).zero_grad()
            ref_muon.zero_grad() if o is None else None
            loss.backward()
            if o is None:
                ref_adam.step()
                ref_muon.step()
            else:
                o.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.equal(a, b)


def test_muon_must_be_innermost():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 3), torch.nn.Linear(3, 2))
    inner = GrokfastMA(torch.optim.AdamW(model.parameters()), window=2, lamb=1.0)
    with pytest.raises(UserError, match="innermost"):
        MuonWrapper(inner, model, MUON_CONFIG)


def test_muon_runs_at_the_wd_methods_weight_decay(registry):
    """muon vs wd must differ only in the update rule: same lr and weight decay on every task."""
    for task in registry.names("tasks"):
        wd = resolve(registry, task, "wd")
        muon = resolve(registry, task, "muon")
        assert (muon["weight_decay"], muon["lr"]) == (wd["weight_decay"], wd["lr"]), task


# -- Grokfast-MA ----------------------------------------------------------------------------------

def test_grokfast_ma_by_hand():
    """Window 3, λ 2, inner SGD lr 1 from 0: the first two gradients pass unchanged (the window is
    not full), then g_t + 2 · mean(g_{t-2}, g_{t-1}, g_t)."""
    p = torch.nn.Parameter(torch.zeros(2))
    opt = GrokfastMA(torch.optim.SGD([p], lr=1.0), window=3, lamb=2.0)
    grads = [[3.0, 0.0], [0.0, 3.0], [3.0, 3.0], [6.0, 0.0]]
    # step 3: g = [3, 3] + 2·[2, 2] = [7, 7]; step 4: [6, 0] + 2·[3, 2] = [12, 4]
    applied = [[3.0, 0.0], [0.0, 3.0], [7.0, 7.0], [12.0, 4.0]]
    position = torch.zeros(2)
    for g, want in zip(grads, applied):
        p.grad = torch.tensor(g)
        opt.step()
        assert torch.allclose(p.grad, torch.tensor(want))
        position -= torch.tensor(want)
        assert torch.allclose(p.detach(), position)


def test_grokfast_ma_recipe(registry):
    cfg = resolve(registry, "modadd", "grokfast-ma")
    assert (cfg["grokfast_window"], cfg["grokfast_ma_lamb"], cfg["weight_decay"]) == (100, 5.0, 0.01)
    assert resolve(registry, "teacher-student", "grokfast-ma")["weight_decay"] == 0.05


# -- nuclear-norm penalty -------------------------------------------------------------------------

def test_nuclear_gradient_by_hand_and_autograd():
    # W = R · diag(3, 1): ‖W‖_* = 4 and ∂‖W‖_*/∂W = U Vᵀ = R
    c, s = 0.6, 0.8
    rot = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    w = rot @ torch.diag(torch.tensor([3.0, 1.0], dtype=torch.float64))
    assert torch.allclose(nuclear_grad(w), rot)
    torch.manual_seed(0)
    for shape in ((5, 3), (3, 7)):
        w = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
        torch.linalg.matrix_norm(w, "nuc").backward()
        assert torch.allclose(nuclear_grad(w), w.grad)


def test_nuclear_wrapper_adds_beta_times_the_gradient_to_weight_matrices_only():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    opt = NuclearNorm(torch.optim.SGD(model.parameters(), lr=0.0), model, beta=0.1)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for name, p in model.named_parameters():
        if name.endswith("weight"):
            w = p.detach().clone().requires_grad_(True)
            (0.1 * torch.linalg.matrix_norm(w, "nuc")).backward()
            assert torch.allclose(p.grad, w.grad, atol=1e-6), name
        else:
            assert torch.equal(p.grad, torch.zeros_like(p))


# -- tuning ---------------------------------------------------------------------------------------

def test_search_space_validation():
    from grokbench.tuning import validate_space
    assert validate_space({"lr": {"log_uniform": (1e-4, 1e-2)}}, "x") == {"lr": {"log_uniform": [1e-4, 1e-2]}}
    for bad in ({"lr": {"log_uniform": [0, 1]}}, {"lr": {"normal": [0, 1]}},
                {"lr": {"uniform": [2, 1]}}, {"lr": {"choice": []}}, {"lr": 0.1}):
        with pytest.raises(UserError):
            validate_space(bad, "x")


def test_draws_are_seeded_rounded_and_inside_the_space():
    from grokbench.tuning import trial_point
    space = {"a": {"log_uniform": [1e-4, 1e-2]}, "b": {"uniform": [0.8, 0.99]},
             "c": {"choice": [50, 100, 200]}, "d": {"int_uniform": [1, 3]}}
    points = [trial_point(space, "m", 0, t) for t in range(50)]
    assert points == [trial_point(space, "m", 0, t) for t in range(50)]  # reproducible
    assert trial_point(space, "m", 1, 0) != points[0] and trial_point(space, "n", 0, 0) != points[0]
    for pt in points:
        assert 1e-4 <= pt["a"] <= 1e-2 and 0.8 <= pt["b"] <= 0.99
        assert pt["c"] in (50, 100, 200) and pt["d"] in (1, 2, 3)
        assert float(f"{pt['a']:.3g}") == pt["a"]
    logs = sorted(torch.tensor([p["a"] for p in points]).log10().tolist())
    assert logs[0] < -3.3 and logs[-1] > -2.7  # log-uniform: both decades are visited


def test_plan_trials(registry):
    from grokbench.grid import validate_spec
    from grokbench.tuning import plan_trials
    spec = validate_spec({"tasks": ["parity"], "methods": ["wd", "baseline"], "seeds": [0, 2],
                          "tuning": 3, "settings": {"lr": 0.005}}, "test")
    trials = plan_trials(registry, spec)
    assert len(trials) == 2 * 2 * 3
    assert len({run_id(t.config) for t in trials}) == 12
    assert [t.trial for t in trials] == sorted(t.trial for t in trials)  # trial-major
    wd = sorted((t for t in trials if t.method == "wd"), key=lambda t: (t.study_seed, t.trial))
    assert [t.config["seed"] for t in wd] == [0, 1, 2, 2000, 2001, 2002]
    assert all(set(t.drawn) == {"weight_decay"} for t in wd)  # lr is pinned by the suite
    assert all(t.config["lr"] == 0.005 and t.config["weight_decay"] == t.drawn["weight_decay"]
               for t in wd)
    base = [t for t in trials if t.method == "baseline"]  # no space: the recipe, N seeds
    assert all(t.drawn == {} and t.config["weight_decay"] == 0.0 for t in base)
    with pytest.raises(UserError, match="tuning"):
        validate_spec({"tasks": ["parity"], "methods": ["wd"], "tuning": 0}, "test")


def test_combined_methods_search_the_union(registry):
    from grokbench.tuning import method_space
    space = method_space(registry, "grokfast+perpgrad")
    assert {"lr", "weight_decay", "grokfast_alpha", "grokfast_lamb"} == set(space)


# -- through the CLI ------------------------------------------------------------------------------

def test_new_methods_run_through_the_cli(tmp_path):
    """A few steps of each new method (and Muon under a gradient filter) in one real process.
    (Not grokfast+muon: on modadd Grokfast's recipe γ 0.005 and Muon's γ 1 conflict.)"""
    methods = ["muon", "grokfast-ma", "nuclear", "perpgrad+muon"]
    proc = subprocess.run([sys.executable, "-m", "grokbench", "sweep", "--task", "modadd",
                           "--method", ",".join(methods), "--seeds", "0", "--set", "steps=5",
                           "--set", "p=23", "--executor", "inprocess", "-q",
                           "--store", str(tmp_path / "r.db")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "trained 4 runs" in proc.stdout and "0 failed" in proc.stdout
    for method in methods:
        assert f"modadd  {method}" in proc.stdout


def cli(*args):
    """The command in this process (no torch import per call): its exit code."""
    from grokbench.cli import main
    sys_argv, sys.argv = sys.argv, ["grokbench", *args]
    try:
        main()
        return 0
    except SystemExit as exc:
        return exc.code or 0
    finally:
        sys.argv = sys_argv


def test_tuned_sweep_and_leaderboard(tmp_path, monkeypatch, capsys):
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "tiny.toml").write_text(
        'name = "tiny"\ntasks = ["modadd"]\nmethods = ["wd", "baseline"]\nseeds = [0]\n'
        'tuning = 2\n[settings]\nsteps = 4\neval_every = 2\np = 11\n')
    monkeypatch.setenv("GROKBENCH_SUITES_DIR", str(suites))
    store = str(tmp_path / "t.db")
    assert cli("sweep", "--suite", "tiny", "--store", store, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "4 runs in the grid" in out and "2 tuning trials" in out
    assert cli("sweep", "--suite", "tiny", "--store", store, "--executor", "inprocess", "-q") == 0
    assert cli("leaderboard", "--suite", "tiny", "--store", store, "--write") == 0
    md = (suites / "tiny.md").read_text()
    assert "## modadd (tuned, 2 trials per study)" in md
    assert "none: the recipe, N seeds" in md and "weight_decay ~ log-uniform[0.01, 3]" in md
    lb = json.loads((suites / "tiny.json").read_text())
    rows = {r["method"]: r for r in lb["tuned"]["tasks"][0]["rows"]}
    assert rows["wd"]["trials_run"] == 2 and rows["baseline"]["studies"] == 1
    # the committed files rebuild and check from their own raw results
    assert cli("leaderboard", "--suite", "tiny", "--from", str(suites / "tiny.results.jsonl"),
               "--check") == 0
    # sweep --tuning on the command line names the same runs
    capsys.readouterr()
    assert cli("sweep", "--task", "modadd", "--method", "wd,baseline", "--seeds", "0",
               "--tuning", "2", "--set", "steps=4", "--set", "eval_every=2", "--set", "p=11",
               "--store", store, "--dry-run") == 0
    assert "4 already stored" in capsys.readouterr().out
