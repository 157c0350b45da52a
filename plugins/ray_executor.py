"""The ``ray`` executor: a sweep's runs as Ray tasks, one CPU each, on an existing Ray cluster
(``RAY_ADDRESS``, or a cluster this process already joined with ``ray.init``) or else on a local
one started for the sweep. Needs ``pip install 'grokbench[ray]'``; Ray is imported only when the
executor is built, so this plugin loads (and ``grokbench list executors`` works) without it.

Workers on other machines cannot safely write the SQLite file (its WAL mode needs every writer
on one machine), so results travel back to the driver, which stores each as it arrives. Every
node needs grokbench (and the plugins the runs use) installed in the same Python environment.
"""
from __future__ import annotations

import os

from grokbench import Executor, UserError, hookimpl


def _one_thread_call(fn, *args, **kwargs):
    """Run ``fn`` in a Ray worker with one torch thread: a task reserves one CPU, and
    oversubscribed OpenMP threads busy-wait (Ray sets OMP_NUM_THREADS=1 for such workers too)."""
    import torch
    torch.set_num_threads(1)
    return fn(*args, **kwargs)


class RayExecutor(Executor):
    store_in_worker = False  # the driver writes: see the module docstring

    def __init__(self, workers=None):
        try:
            import ray
        except ImportError:
            raise UserError("the ray executor needs Ray: pip install 'grokbench[ray]' "
                            "(or choose --executor processes)") from None
        self.ray = ray
        self.started_here = not ray.is_initialized()
        if self.started_here:
            address = os.environ.get("RAY_ADDRESS")
            # Joining a cluster: its size is its own. A fresh local one: `workers` CPUs.
            ray.init(address=address, num_cpus=None if address else workers,
                     include_dashboard=False, log_to_driver=False, configure_logging=False)
        cluster_cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = min(workers, cluster_cpus) if workers else cluster_cpus
        # Ray retries a task whose worker or node died (not one that raised: run_job catches those).
        self.remote = ray.remote(num_cpus=1)(_one_thread_call)
        self.refs = []

    def submit(self, fn, *args, **kwargs):
        ref = self.remote.remote(fn, *args, **kwargs)
        self.refs.append(ref)
        return ref.future()  # a concurrent.futures.Future, so the sweep can wait() on it

    def shutdown(self, wait=True, cancel_futures=False):
        if cancel_futures:
            for ref in self.refs:
                try:
                    self.ray.cancel(ref, force=True)
                except Exception:  # already finished, or the cluster is gone
                    pass
        if self.started_here:
            self.ray.shutdown()


@hookimpl
def register_executors(register):
    register("ray", RayExecutor,
             "Ray tasks on $RAY_ADDRESS's cluster or a local one (pip install 'grokbench[ray]')")
