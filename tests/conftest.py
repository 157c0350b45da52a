import os

# One thread per test process: the CI machine has 2 cores and OpenMP busy-waiting makes
# oversubscribed runs many times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture
def registry():
    from grokbench.registry import get_registry
    return get_registry()


@pytest.fixture
def store_path(tmp_path, monkeypatch):
    path = tmp_path / "runs.db"
    monkeypatch.setenv("GROKBENCH_STORE", str(path))
    return path
