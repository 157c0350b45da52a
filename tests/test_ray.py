"""The ray executor runs a real sweep on a real local Ray cluster that the test starts.
Skipped when Ray is not installed (``pip install -e .[ray]``)."""
import json

import pytest

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install -e .[ray]")

from grokbench.config import run_id  # noqa: E402
from grokbench.engine import run  # noqa: E402
from grokbench.grid import expand  # noqa: E402
from grokbench.store import Store  # noqa: E402
from grokbench.grid import build_spec  # noqa: E402
from grokbench.sweep import run_sweep  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    mp = pytest.MonkeyPatch()
    mp.setenv("RAY_AUTH_MODE", "disabled")  # else Ray writes an auth token into the home dir
    mp.delenv("RAY_ADDRESS", raising=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()
    mp.undo()


def test_a_sweep_runs_on_a_local_ray_cluster(cluster, registry, tmp_path):
    spec = build_spec(None, None, ("modadd",), ("baseline", "perpgrad"), "0,1", (),
                      ("p=23", "steps=50"), None)
    configs = expand(registry, spec)
    db = tmp_path / "runs.db"
    report = run_sweep(configs, "ray", workers=2, store_path=db, progress=False)
    assert not report.failed
    assert sorted(report.finished) == sorted(run_id(c) for c in configs)
    assert [(r["method"], r["runs"], r["stored"]) for r in report.summary] == [
        ("baseline", 2, 2), ("perpgrad", 2, 2)]
    # Results came back to this process and were stored here; each equals the run done locally.
    stored = Store(db).get(run_id(configs[-1]))
    assert stored["curve"] == json.loads(json.dumps(run(configs[-1], progress=False)["curve"]))
    # The cluster was this process's, so the executor left it running; a rerun does no work.
    assert ray.is_initialized()
    again = run_sweep(configs, "ray", workers=2, store_path=db, progress=False)
    assert again.finished == [] and again.already_stored == len(configs)


def test_ray_workers_get_one_thread_each(cluster, registry):
    def _threads():  # local, so Ray pickles it by value (workers cannot import this test file)
        import os

        import torch
        return os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()

    executor = registry.get("executors", "ray").obj(2)
    try:
        threads = [executor.submit(_threads).result(timeout=120) for _ in range(2)]
    finally:
        executor.shutdown()
    assert executor.workers == 2 and threads == [("1", 1)] * 2

