"""The workers behind the env pools: tied to their parent, ended at once when stuck, closed in bounded time.

Tianshou's ``SubprocEnvWorker`` starts one process per pool worker and talks to it over a pipe;
its own ``close`` waits forever for a worker whose game never returns, and its processes outlive
a parent that is killed. :class:`~rbtrainer.envs.pool.GamePool` uses this module instead:

* :class:`ParentBound` wraps the factory a ``subproc`` worker process calls first, so the worker
  dies with the process that built the pool and leaves SIGINT (Ctrl-C) to that parent, which
  closes its workers itself.
* :func:`close_workers` closes workers in bounded time: each is asked to close its games, and a
  worker still running at the deadline is terminated, then killed.
* :func:`kill_worker` ends a stuck worker at once; :func:`describe_worker` names one in messages.

Ray actors (``ray`` backend) are built in this process and shipped to Ray, which owns their
processes: they die with the Ray session, not through :class:`ParentBound`.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing import connection
from typing import Any

from tianshou.env.worker import RayEnvWorker, SubprocEnvWorker

__all__ = ["CLOSE_GRACE", "ParentBound", "close_workers", "describe_worker", "kill_worker"]

logger = logging.getLogger(__name__)

CLOSE_GRACE = 10.0
"""Most seconds ``close`` waits for a worker to close its games and exit before ending it."""

_KILL_WAIT = 5.0
"""Seconds to wait for a terminated or killed worker process to be reaped."""

_PR_SET_PDEATHSIG = 1
"""``PR_SET_PDEATHSIG`` of ``<linux/prctl.h>``."""


@dataclass(frozen=True)
class ParentBound:
    """The factory a worker process calls first, wrapped so the worker dies with the process that built the pool.

    ``main_thread``: the pool was built in the main thread (see :func:`die_with_parent`).
    Called outside a process started by ``multiprocessing`` it only calls ``factory``.
    """

    factory: Callable[[], Any]
    main_thread: bool

    @classmethod
    def here(cls, factory: Callable[[], Any]) -> ParentBound:
        """``factory`` bound to this process (call it in the thread that starts the workers)."""
        return cls(factory, threading.current_thread() is threading.main_thread())

    def __call__(self) -> Any:
        die_with_parent(self.main_thread)
        return self.factory()


def die_with_parent(main_thread: bool, parent_pid: int | None = None) -> None:
    """Tie this worker process to its parent: the worker is killed when the parent ends, however it ends.

    On Linux, for workers started from the parent's main thread: ``prctl(PR_SET_PDEATHSIG,
    SIGKILL)``, enforced by the kernel even while the game holds the interpreter. Elsewhere (no
    ``prctl``), and for workers started from another thread (the kernel sends the signal when the
    *thread* that started the worker ends, which would take a pool built in a short-lived thread
    down with it), a daemon thread of the worker waits for the parent's end and kills the worker.
    SIGINT is ignored: the parent handles Ctrl-C and closes its workers (or they die with it).
    ``parent_pid``: the parent of a worker started as a plain subprocess (rollout workers), not by
    ``multiprocessing``.
    """
    parent = multiprocessing.parent_process() if parent_pid is None else None
    if parent is None and parent_pid is None:  # not a multiprocessing child: nothing to tie
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if main_thread and sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"worker process {os.getpid()}: prctl(PR_SET_PDEATHSIG) failed: {os.strerror(errno)}")
    else:
        watch = threading.Thread(
            target=_end_with, args=(parent, parent_pid), name="rbtrainer-parent-watch", daemon=True
        )
        watch.start()
    if not (parent.is_alive() if parent is not None else os.getppid() == parent_pid):  # it ended before the tie
        os.kill(os.getpid(), signal.SIGKILL)


def _end_with(parent: multiprocessing.process.BaseProcess | None, parent_pid: int | None) -> None:
    if parent is not None:
        parent.join()  # returns when the parent process has ended
    else:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGKILL)


def describe_worker(worker: Any, index: int) -> str:
    """``"worker 1, pid 4242"`` (a process) or ``"worker 1, Ray actor <id>"`` (for messages)."""
    if isinstance(worker, SubprocEnvWorker):
        return f"worker {index}, pid {worker.process.pid}"
    if isinstance(worker, RayEnvWorker):
        return f"worker {index}, Ray actor {worker.env}"
    return f"worker {index}, in this process"


def kill_worker(worker: Any) -> None:
    """End a stuck worker at once (its games' ``close`` does not run)."""
    worker.is_closed = True
    if isinstance(worker, SubprocEnvWorker):
        worker.process.kill()
        worker.process.join(_KILL_WAIT)
        worker.parent_remote.close()
    elif isinstance(worker, RayEnvWorker):
        import ray

        actor: Any = worker.env  # a Ray ActorHandle (Tianshou's annotation is looser)
        ray.kill(actor)
    else:
        raise TypeError(f"an in-process env worker ({type(worker).__name__}) cannot be killed")


def close_workers(workers: Sequence[Any], grace: float) -> None:
    """Close ``workers`` within about ``grace`` seconds (plus a few to reap a killed process).

    Every worker is asked to close its games first, all at once; a worker process still running
    at the deadline is terminated, then killed, and a Ray actor whose games did not close is
    killed. In-process workers are closed in turn; the first error a game's ``close`` raised
    there is raised once all the workers are closed.
    """
    deadline = time.monotonic() + grace
    processes: list[SubprocEnvWorker] = []
    actors: list[tuple[RayEnvWorker, Any]] = []
    errors: list[Exception] = []
    for worker in workers:
        if worker.is_closed:
            continue
        worker.is_closed = True
        if isinstance(worker, SubprocEnvWorker):
            try:
                worker.parent_remote.send(["close", None])
            except OSError as err:  # the worker is gone already: only its process is left to reap
                logger.debug("env pool worker %d did not take its close: %r", worker.process.pid, err)
            processes.append(worker)
        elif isinstance(worker, RayEnvWorker):
            handle: Any = worker.env  # a Ray ActorHandle (Tianshou's annotation is looser)
            actors.append((worker, handle.close.remote()))
        else:
            try:
                worker.close_env()
            except Exception as err:  # a game's own close failed: raised below, once every worker is closed
                errors.append(err)
    for worker in processes:
        _end_process(worker, deadline, grace)
    if actors:
        _end_actors(actors, deadline, grace)
    if errors:
        raise errors[0]


def _end_process(worker: SubprocEnvWorker, deadline: float, grace: float) -> None:
    conn, process = worker.parent_remote, worker.process
    # read what the worker still sends (an answer in flight, the close's answer) until it exits
    while (remaining := deadline - time.monotonic()) > 0:
        ready = connection.wait([conn, process.sentinel], timeout=remaining)
        if not ready or process.sentinel in ready:
            break
        try:
            conn.recv()
        except (EOFError, OSError):  # the worker closed its end: it is exiting
            break
    process.join(max(0.0, deadline - time.monotonic()))
    if process.is_alive():
        logger.warning(
            "env pool worker process %d did not exit within %g s of its close (a game stuck?); terminating it",
            process.pid,
            grace,
        )
        process.terminate()
        process.join(_KILL_WAIT)
    if process.is_alive():
        process.kill()
        process.join(_KILL_WAIT)
    conn.close()


def _end_actors(actors: list[tuple[RayEnvWorker, Any]], deadline: float, grace: float) -> None:
    import ray

    refs = [ref for _, ref in actors]
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=max(0.0, deadline - time.monotonic()))
    for worker, ref in actors:
        actor: Any = worker.env
        if ref in ready:
            try:
                ray.get(ref)
            except ray.exceptions.RayError as err:  # the actor died or its game's close failed: it is closed
                logger.debug("closing Ray env pool actor %s raised %r", worker.env, err)
        else:
            logger.warning("Ray env pool actor %s did not close within %g s (a game stuck?); killed", actor, grace)
            ray.kill(actor)
