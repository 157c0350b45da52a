"""Sweep executors that need nothing installed: ``inprocess`` (one run after another in this
process) and ``processes`` (a pool of single-threaded worker processes, one per core)."""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context

from grokbench import Executor, Stopped, hookimpl

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


def _one_thread_worker(parent_pid=None):
    """Pool initializer. The environment already said one thread (see ProcessesExecutor.submit);
    this makes sure even if a library reset it, and pins torch's inter-op pool too.

    A worker also ignores Ctrl-C: the terminal sends it to the whole process group, and a
    worker that raised KeyboardInterrupt would hand it back as that run's result and go on to
    the next queued run. The sweep's process decides what an interrupt stops (it ends the
    workers), and a worker dies with that process (see _die_with_parent)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked at spawn
    if parent_pid is not None:
        _die_with_parent(parent_pid)
    import torch
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already used in this process
        pass


def _die_with_parent(parent_pid: int):
    """End this worker when the sweep's process dies, even by SIGKILL (which runs no cleanup
    there): otherwise a worker goes on training queued runs nobody will read, then sleeps
    forever holding its memory. Linux: the kernel sends SIGKILL when the parent dies
    (PR_SET_PDEATHSIG). Everywhere: a thread that sees this process re-parented exits it."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the thread below still does it
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="grokbench-parent-watch", daemon=True).start()


def _in_worker(fn, *args, **kwargs):
    """A job in a worker process. A run stopped by SIGTERM (the sweep ending its workers, or a
    scheduler signalling every process) has saved its state; the worker then exits rather than
    start the next run the pool already queued to it."""
    try:
        return fn(*args, **kwargs)
    except Stopped:
        sys.stderr.flush()
        os._exit(143)


@contextmanager
def _sigint_blocked():
    """Block SIGINT while workers are spawned: a spawned worker inherits the mask, so a Ctrl-C
    during its start-up (importing torch takes seconds) waits until its initializer ignores it;
    here a blocked Ctrl-C is delivered when the block ends, not lost."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


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
                                        initializer=_one_thread_worker, initargs=(os.getpid(),))

    def submit(self, fn, *args, **kwargs) -> Future:
        # The pool starts workers inside submit(), and a spawned worker imports torch (with the
        # grokbench package) before any initializer runs: the thread settings must already be
        # in the environment it inherits. This process's own OpenMP was configured at its own
        # torch import, so setting them here changes nothing for it.
        with _environ(ONE_THREAD_ENV), _sigint_blocked():
            return self.pool.submit(_in_worker, fn, *args, **kwargs)

    def shutdown(self, wait=True, cancel_futures=False):
        """``wait=False, cancel_futures=True`` (an interrupted sweep) also ends the runs in
        flight: a worker would otherwise finish its run, and the pool the runs already handed
        to workers, before this process could exit. A worker killed while saving loses only
        that run: the store writes a run in one transaction, which SQLite rolls back."""
        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        if cancel_futures and not wait:
            for proc in processes:
                proc.terminate()
        self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)
        if cancel_futures and not wait:
            deadline = time.monotonic() + 5
            for proc in processes:
                proc.join(max(0.0, deadline - time.monotonic()))
                if proc.is_alive():
                    proc.kill()


@hookimpl
def register_executors(register):
    register("processes", ProcessesExecutor,
             "local worker processes, one per core (--workers N), one thread each (default)")
    register("inprocess", InProcessExecutor,
             "one run after another in this process (for debugging)")
