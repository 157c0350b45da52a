"""Sweep executors that need nothing installed: ``inprocess`` (one run after another in this
process) and ``processes`` (a pool of single-threaded worker processes, one per core)."""
from __future__ import annotations

import os
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context

from grokbench import Executor, hookimpl

# OpenMP reads its thread count once, when torch is loaded, and busy-waits between parallel
# regions: two 2-thread workers on 2 cores ran 16–300× slower than one (measured on this
# project's 2-core machine). So every worker gets one thread; a run asks for more with
# --set threads=N (the engine calls torch.set_num_threads).
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def cores() -> int:
    """Cores this process may run on (the affinity mask, e.g. under taskset or a CPU quota's
    cpuset), falling back to the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class InProcessExecutor(Executor):
    """Runs each job when it is submitted, in this process: no parallelism, but a debugger and
    print() work, and nothing is pickled."""

    store_in_worker = True

    def __init__(self, workers=None):
        self.workers = 1

    def submit(self, fn, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # KeyboardInterrupt goes through: it stops the sweep
            future.set_exception(exc)
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        pass


def _one_thread_worker():
    """Pool initializer. The environment already said one thread (see ProcessesExecutor.submit);
    this makes sure even if a library reset it, and pins torch's inter-op pool too."""
    import torch
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already used in this process
        pass


@contextmanager
def _environ(values: dict):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class ProcessesExecutor(Executor):
    """A pool of ``workers`` processes (default: one per core), each single-threaded.

    Workers are started with the spawn method (a fork of a process that has used torch's thread
    pools can hang), so plugins are loaded afresh in each from their entry points."""

    store_in_worker = True

    def __init__(self, workers=None):
        self.workers = workers or cores()
        self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=get_context("spawn"),
                                        initializer=_one_thread_worker)

    def submit(self, fn, *args, **kwargs) -> Future:
        # The pool starts workers inside submit(), and a spawned worker imports torch (with the
        # grokbench package) before any initializer runs: the thread settings must already be
        # in the environment it inherits. This process's own OpenMP was configured at its own
        # torch import, so setting them here changes nothing for it.
        with _environ(ONE_THREAD_ENV):
            return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, cancel_futures=False):
        self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)


@hookimpl
def register_executors(register):
    register("processes", ProcessesExecutor,
             "local worker processes, one per core (--workers N), one thread each (default)")
    register("inprocess", InProcessExecutor,
             "one run after another in this process (for debugging)")
