"""Resume state (grokbench/resume.py): an interrupted run goes on from its last saved evaluation
and computes exactly what an uninterrupted run computes; a finished run leaves no state; state
from other versions or another config is not used."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner

from grokbench import OptimizerWrapper, hookimpl, resume
from grokbench.cli import cli
from grokbench.config import resolve, run_id
from grokbench.engine import run, run_or_load, versions
from grokbench.registry import Registry, get_registry
from grokbench.store import Store
from grokbench.sweep import projection, run_seconds, speed_kind

# modular addition mod 23: a couple of seconds here
BASE = {"steps": 60, "eval_every": 10, "threads": 1}
SMALL = {"p": 23, **BASE}


class Interrupt(Exception):
    pass


def interrupted_at(step):
    def on_eval(record):
        if record["step"] == step:
            raise Interrupt
    return on_eval


@pytest.fixture
def save_at_every_evaluation(monkeypatch):
    monkeypatch.setenv(resume.ENV, "0.000001")


def same_run(a, b):
    """Every evaluation's every number, bit for bit (timings apart)."""
    assert [r["step"] for r in a["curve"]] == [r["step"] for r in b["curve"]]
    assert a["curve"] == b["curve"]
    timing = {"wall_time", "cpu_time", "steps_per_s"}
    assert ({k: v for k, v in a["scores"].items() if k not in timing}
            == {k: v for k, v in b["scores"].items() if k not in timing})
    assert a["status"] == b["status"]


# Each method keeps its own optimizer state (Adam's moments, Grokfast's filter and window,
# Muon's momentum, the fp16 gradient scaler, minibatch order with a kept last batch, warm-up).
CASES = {
    "wd": ("modadd", "wd", {}),
    "grokfast-ema": ("modadd", "grokfast", {}),
    "grokfast-ma, minibatches": ("modadd", "grokfast-ma",
                                 {"batch_size": 100, "last_batch": "keep", "grokfast_window": 7}),
    "muon, warm-up": ("modmul", "muon", {"warmup_steps": 15}),
    "perpgrad, fp16-mixed": ("modadd", "perpgrad", {"precision": "fp16-mixed"}),
    "decoder": ("modadd", "wd", {"model": "decoder", "p": 11, "batch_size": 32}),
    "norm constraint": ("modadd", "norm", {}),
    "nuclear norm": ("modsub", "nuclear", {}),
    "stablemax in float64": ("modadd", "stablemax", {}),
    "transformer, bf16-mixed": ("modadd", "perpgrad", {"model": "transformer", "p": 11,
                                                       "precision": "bf16-mixed"}),
    # the other tasks' models and data: parity's MLP, teacher-student's regression, MNIST,
    # QM9's graph net (its NNConv subclass is built lazily and must still pickle)
    "parity": ("parity", "wd", {}),
    "teacher-student": ("teacher-student", "wd", {}),
    "mnist": ("mnist", "wd", {}),
    "qm9": ("qm9", "wd", {"steps": 40}),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_an_interrupted_run_resumes_bit_for_bit(case, tmp_path, save_at_every_evaluation):
    task, method, extra = CASES[case]
    config = resolve(get_registry(), task, method,
                     {**(SMALL if task.startswith("mod") else BASE), **extra})
    whole = run(config, progress=False)  # no store: no resume state

    store = tmp_path / "runs.db"
    with pytest.raises(Interrupt):
        run(config, progress=False, checkpoint_store=store, on_eval=interrupted_at(40))
    state = resume.folder(store) / f"{run_id(config)}.pt"
    assert state.exists()
    saved_cpu = torch.load(state, weights_only=False)["cpu_time"]
    resumed = run(config, progress=False, checkpoint_store=store)
    same_run(resumed, whole)
    assert resumed["versions"]["resumed_at"] == [30]  # saved after the evaluation at 30
    assert resumed["cpu_time"] > saved_cpu > 0  # its cost counts both sessions' CPU time
    assert not state.exists()  # finished: the state is gone


def test_a_run_interrupted_twice_records_both_resumptions(tmp_path, save_at_every_evaluation):
    config = resolve(get_registry(), "modadd", "wd", SMALL)
    store = tmp_path / "runs.db"
    whole = run(config, progress=False)
    for stop in (20, 50):
        with pytest.raises(Interrupt):
            run(config, progress=False, checkpoint_store=store, on_eval=interrupted_at(stop))
    resumed = run(config, progress=False, checkpoint_store=store)
    same_run(resumed, whole)
    assert resumed["versions"]["resumed_at"] == [10, 40]


def interrupted_with_versions(tmp_path, **changed):
    """A run interrupted at step 30 (state saved at 20) whose saved versions are then edited."""
    config = resolve(get_registry(), "modadd", "wd", SMALL)
    store = tmp_path / "runs.db"
    with pytest.raises(Interrupt):
        run(config, progress=False, checkpoint_store=store, on_eval=interrupted_at(30))
    path = resume.folder(store) / f"{run_id(config)}.pt"
    state = torch.load(path, weights_only=False)
    state["versions"] = {**state["versions"], **changed}
    torch.save(state, path)
    return config, store


def test_state_from_other_versions_is_not_used(tmp_path, save_at_every_evaluation, capfd):
    config, store = interrupted_with_versions(tmp_path, torch="1.0.0")
    result = run(config, progress=False, checkpoint_store=store)
    assert "not used: it was saved with other versions (torch)" in capfd.readouterr().err
    assert "resumed_at" not in result["versions"]
    assert result["versions"] == versions()


def test_state_from_another_os_build_is_used(tmp_path, save_at_every_evaluation):
    """Successive sessions run on machines whose kernel build differs (platform string
    'Linux-6.18.44-fc-v1147...' vs '...-fc-v1252...'): that changes no float, so the state is
    used; the CPU model or its ATen code path would not be."""
    config, store = interrupted_with_versions(tmp_path, platform="Linux-0.0-another-build")
    result = run(config, progress=False, checkpoint_store=store)
    assert result["versions"]["resumed_at"] == [20]
    same_run(result, run(config, progress=False))


def test_an_unreadable_state_file_starts_the_run_afresh(tmp_path, save_at_every_evaluation, capfd):
    config = resolve(get_registry(), "modadd", "wd", SMALL)
    store = tmp_path / "runs.db"
    path = resume.folder(store) / f"{run_id(config)}.pt"
    path.parent.mkdir()
    path.write_bytes(b"half a file")
    result = run(config, progress=False, checkpoint_store=store)
    assert "unreadable" in capfd.readouterr().err
    same_run(result, run(config, progress=False))
    assert not path.exists()


def test_no_state_is_kept_when_turned_off_or_with_checkpoints(tmp_path, monkeypatch):
    config = resolve(get_registry(), "modadd", "wd", SMALL)
    store = tmp_path / "runs.db"
    monkeypatch.setenv(resume.ENV, "0")
    with pytest.raises(Interrupt):
        run(config, progress=False, checkpoint_store=store, on_eval=interrupted_at(30))
    assert not resume.folder(store).exists()
    monkeypatch.setenv(resume.ENV, "0.000001")
    assert resume.file_for({**config, "checkpoints": ["last"]}, store, "x") is None
    assert resume.file_for(config, None, "x") is None


def long_run_command(command: str, store, *extra) -> tuple[list, dict]:
    """`grokbench run|sweep` of a 3000-step wd run on modadd mod 31 (seconds), saving its state
    every 0.5 s: the command line and its environment."""
    args = [sys.executable, "-m", "grokbench", command, "--task", "modadd", "--method", "wd",
            "--store", str(store), "--set", "p=31", "--set", "steps=3000", "--set",
            "eval_every=50", *extra, "-q"]
    return args, {**os.environ, resume.ENV: "0.5", "OMP_NUM_THREADS": "1"}


def wait_for_saved_state(proc, folder):
    """Until the process has saved state once (it is in its training loop); its path."""
    deadline = time.monotonic() + 300
    while not (folder.exists() and any(folder.glob("*.pt"))):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(0.5)
    return next(folder.glob("*.pt"))


def test_a_killed_grokbench_run_goes_on_where_it_was(tmp_path):
    """A real process, SIGKILLed mid-run as a session's end kills it, then the same command."""
    store = tmp_path / "runs.db"
    args, env = long_run_command("run", store, "--set", "threads=1")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    state = wait_for_saved_state(proc, resume.folder(store))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.returncode != -signal.SIGKILL:  # finished before the kill: nothing to resume
        pytest.skip("the run finished before it could be killed")
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "resuming run" in done.stderr
    assert not state.exists()

    db = Store(store)
    rid = state.stem
    resumed = db.get(rid)
    db.close()
    config = resumed["config"]
    assert run_id(config) == rid  # resuming is not part of the run's id
    whole, _ = run_or_load(config, None, progress=False)
    same_run(resumed, whole)


def stopped_at(stderr: str) -> int:
    """The step of 'stopped by SIGTERM at step N of M: its state is saved in ...'."""
    assert "its state is saved in" in stderr, stderr
    return int(stderr.split("stopped by SIGTERM at step ")[1].split()[0])


def test_a_sigterm_saves_the_run_at_once_and_it_goes_on_bit_for_bit(tmp_path):
    """`kill` (a scheduler's preemption, a time limit) sends SIGTERM: the run saves its state
    after the step in progress, not at its last periodic save, says so, and exits with 143;
    the same command goes on from that step and computes what an uninterrupted run does."""
    store = tmp_path / "runs.db"
    args, env = long_run_command("run", store, "--set", "threads=1")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    state = wait_for_saved_state(proc, resume.folder(store))
    proc.send_signal(signal.SIGTERM)
    stderr = proc.communicate(timeout=60)[1].decode()
    if proc.returncode == 0:  # finished before the signal: nothing to resume
        pytest.skip("the run finished before it could be stopped")
    assert proc.returncode == 143 and "Traceback" not in stderr
    step = stopped_at(stderr)
    assert torch.load(state, weights_only=False)["step"] == step  # saved where it stopped
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"resuming run {state.stem} at step {step} of 3000" in done.stderr
    db = Store(store)
    resumed = db.get(state.stem)
    db.close()
    whole, _ = run_or_load(resumed["config"], None, progress=False)
    same_run(resumed, whole)


def test_a_sigterm_to_a_sweep_saves_its_workers_runs(tmp_path):
    """SIGTERM to a sweep's process stops it as Ctrl-C does; it ends its worker processes with
    SIGTERM, so the run in progress saves its state at once; the same command goes on from it."""
    store = tmp_path / "runs.db"
    args, env = long_run_command("sweep", store, "--workers", "1", "--executor", "processes")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    state = wait_for_saved_state(proc, resume.folder(store))
    proc.send_signal(signal.SIGTERM)
    stderr = proc.communicate(timeout=60)[1].decode()
    if proc.returncode == 0:
        pytest.skip("the sweep finished before it could be stopped")
    assert proc.returncode == 143 and "Traceback" not in stderr, stderr
    assert "interrupted: the runs finished so far are stored in" in stderr
    step = stopped_at(stderr)  # the worker's line
    assert torch.load(state, weights_only=False)["step"] == step
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "1 of them go on from where they were interrupted" in done.stderr
    db = Store(store)
    resumed = db.get(state.stem)
    db.close()
    assert resumed["versions"]["resumed_at"] == [step]


def test_a_sweep_says_which_runs_go_on_from_saved_state(tmp_path, save_at_every_evaluation):
    store = tmp_path / "runs.db"
    config = resolve(get_registry(), "modadd", "wd", SMALL)
    with pytest.raises(Interrupt):
        run(config, progress=False, checkpoint_store=store, on_eval=interrupted_at(30))
    args = ["sweep", "--task", "modadd", "--method", "wd", "--seeds", "0,1", "--store", str(store),
            *[a for k, v in SMALL.items() for a in ("--set", f"{k}={v}")]]
    dry = CliRunner().invoke(cli, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 new; 1 of them go on from where they were interrupted (runs.db.resume)" in dry.output


def test_a_projection_counts_what_is_left_of_an_interrupted_run_at_its_own_speed(
        tmp_path, save_at_every_evaluation):
    config = resolve(get_registry(), "modadd", "wd", SMALL)
    store = tmp_path / "runs.db"
    with pytest.raises(Interrupt):
        run(config, progress=False, checkpoint_store=store, on_eval=interrupted_at(30))
    state = torch.load(resume.folder(store) / f"{run_id(config)}.pt", weights_only=False)
    assert state["step"] == 20
    # its speed on a core of its own: scaled by the share of a core it had (CPU over wall time)
    share = min(1.0, state["cpu_time"] / state["wall_time"])
    assert 0 < state["cpu_time"] and 0 < share <= 1
    per_step = state["train_time"] / 20 * share
    per_eval = state["eval_time"] / len(state["curve"]) * share
    assert resume.saved_progress(store, config) == (20, per_step, per_eval)
    # 40 steps left, and the evaluations at 30, 40, 50 and 60; the kind's timing is not used
    left = 40 * per_step + 4 * per_eval
    assert run_seconds(config, 99.0, 99.0, resume.saved_progress(store, config)) == left
    other = dict(config, seed=1)
    assert resume.saved_progress(store, other) is None
    history = [(speed_kind(config), 1.0, 2.0, "store")]
    rows, hours = projection([config, other], history, store_path=store)
    assert hours * 3600 == pytest.approx(left + run_seconds(other, 1.0, 2.0))
    assert "1 resumed" in rows[0][4]


def test_a_claims_dry_run_says_which_runs_go_on_from_saved_state(tmp_path,
                                                                  save_at_every_evaluation):
    from grokbench.claim_runs import resolve_groups
    registry = get_registry()
    claim = registry.entries["claims"]["perpgrad-groks-modadd"].obj
    config = resolve_groups(registry, claim)[0][1][0]
    store = tmp_path / "claims.db"
    with pytest.raises(Interrupt):
        run(dict(config), progress=False, checkpoint_store=store, on_eval=interrupted_at(3))
    dry = CliRunner().invoke(cli, ["claims", "-k", "perpgrad-groks-modadd", "--dry-run",
                                   "--store", str(store)])
    assert dry.exit_code == 0, dry.output
    assert ("1 of them go on from where they were interrupted (claims.db.resume), projected "
            "from their own speed") in dry.output


class LambdaClip(OptimizerWrapper):
    """A wrapper that holds a lambda: it trains, but cannot be pickled."""

    def __init__(self, inner):
        super().__init__(inner)
        self.scale = lambda g: g.clamp(-1, 1)

    @torch.no_grad()
    def step(self):
        for p in self.params():
            if p.grad is not None:
                p.grad.copy_(self.scale(p.grad))
        self.inner.step()


class LambdaPlugin:
    @hookimpl
    def register_optimizers(self, register):
        register("lambdaclip", lambda inner, model, config: LambdaClip(inner),
                 "clip each gradient entry to [-1, 1]", wrapper=True)


def test_a_run_whose_wrapper_cannot_be_pickled_trains_without_resume_state(
        tmp_path, save_at_every_evaluation, capfd):
    registry = Registry().load_entry_points()
    registry.add_plugin(LambdaPlugin(), "lambdaclip-test")
    config = resolve(registry, "modadd", "baseline", {**SMALL, "wrappers": ["lambdaclip"]})
    store = tmp_path / "runs.db"
    result = run(config, registry=registry, progress=False, checkpoint_store=store)
    err = capfd.readouterr().err
    assert err.count("this run cannot keep resume state") == 1  # said once, not per evaluation
    assert result["status"] in ("finished", "stopped_early") and result["curve"][-1]["step"] > 0
    assert not any(resume.folder(store).glob("*"))
