"""How a rollout worker is reached: in this process, in a process of its own, or as a Ray actor.

A :class:`WorkerGroup` holds the :class:`~rbtrainer.worker_core.Served` cores of a pool's rollout
workers and calls one method on all of them at once (:meth:`WorkerGroup.call_all`), with an
argument every worker gets (``shared``: sent once per call, the agents' weights) and arguments of
its own. The calls run concurrently; the answers come back in worker order, each ``("ok", value)``
or ``("error", WorkerFailure)``, or a :class:`Lost` when the worker died.

* :class:`LocalGroup` (``backend="dummy"``): the cores live in this process and run in turn. The
  same seeds give the same statistics as the other transports with as many workers.
* :class:`ProcessGroup` (``backend="subproc"``): one process per worker, a fresh interpreter (no
  fork of a process that runs torch threads, and the caller's script is not run again, so it needs
  no ``if __name__ == "__main__"`` guard), talking over two pipes; the agents and the game factory
  travel by ``cloudpickle`` (a lambda or a class of the caller's script goes too). A worker dies
  with the process that built it and leaves Ctrl-C to it.
* :class:`RayGroup` (``backend="ray"``): one Ray actor per worker; ``shared`` is put in Ray's object
  store once per call and every actor reads it from there, and the answers are awaited with
  ``ray.wait``. The same code runs on a cluster: call ``ray.init(address=...)`` before building the
  trainer (otherwise a local Ray runtime is started).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing import connection
from typing import Any, cast

import cloudpickle

from rbtrainer.envs.workers import CLOSE_GRACE, die_with_parent
from rbtrainer.worker_core import Served, WorkerFailure

__all__ = ["LocalGroup", "Lost", "ProcessGroup", "RayGroup", "WorkerGroup", "worker_group"]

logger = logging.getLogger(__name__)

_RAY_START = 300.0
"""Seconds Ray may take to start a pool's rollout worker actors."""


@dataclass(frozen=True)
class Lost:
    """A worker that died (or could not be reached) before it answered."""

    how: str


Answer = tuple[str, Any] | Lost


class WorkerGroup(ABC):
    """The rollout workers of one pool, called together."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        """How each worker is named in messages (``"rollout worker 1 (pid 4242)"``)."""
        self.closed = False

    @abstractmethod
    def call_all(self, method: str, own: Sequence[tuple[Any, ...]], shared: Any = None) -> list[Answer]:
        """Call ``method`` on every worker ``k`` with ``(shared, *own[k])`` (``shared`` is left out when
        ``None``), concurrently; the answers in worker order."""

    @abstractmethod
    def close(self) -> None:
        """Close the workers' games and end the workers, in bounded time."""


class LocalGroup(WorkerGroup):
    """Rollout workers in this process (``backend="dummy"``), run in turn."""

    def __init__(self, args: Sequence[tuple[Any, ...]], step_timeout: float | None) -> None:
        # step_timeout: a game stuck in this process cannot be interrupted (as on the dummy backend)
        super().__init__([f"rollout worker {k} (in this process)" for k in range(len(args))])
        self._served = [Served(*a) for a in args]

    def call_all(self, method: str, own: Sequence[tuple[Any, ...]], shared: Any = None) -> list[Answer]:
        head = () if shared is None else (shared,)
        return [served.call(method, *head, *mine) for served, mine in zip(self._served, own)]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for served in self._served:
            served.call("close")


def serve(read_fd: int, write_fd: int, main_thread: bool) -> None:
    """The loop of a worker process: build its core, then answer calls until told to close (or orphaned)."""
    die_with_parent(main_thread, parent_pid=os.getppid())
    conn_in, conn_out = connection.Connection(read_fd, writable=False), connection.Connection(write_fd, readable=False)
    args, step_timeout = pickle.loads(conn_in.recv_bytes())

    def stuck(failure: WorkerFailure) -> None:  # the watchdog's thread: the main thread is stuck in a game
        with contextlib.suppress(EOFError, OSError):
            conn_out.send_bytes(pickle.dumps(("error", failure)))
        os.kill(os.getpid(), signal.SIGKILL)

    served = Served(*args, step_timeout=step_timeout, on_stuck=stuck)
    while True:
        try:
            method, own, has_shared = pickle.loads(conn_in.recv_bytes())
            head = (pickle.loads(conn_in.recv_bytes()),) if has_shared else ()
        except (EOFError, OSError):  # the trainer is gone
            served.call("close")
            return
        answer = served.call(method, *head, *own)
        try:
            conn_out.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
        except (EOFError, OSError):
            return
        if method == "close":
            return


class ProcessGroup(WorkerGroup):
    """One process per rollout worker (``backend="subproc"``): a fresh interpreter (never a fork of a process
    that runs torch threads), started without re-running the caller's script, talking over two pipes."""

    def __init__(self, args: Sequence[tuple[Any, ...]], step_timeout: float | None) -> None:
        self._conns: list[tuple[connection.Connection, connection.Connection]] = []
        self._processes: list[subprocess.Popen[bytes]] = []
        main_thread = threading.current_thread() is threading.main_thread()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # what this process imports
        labels = []
        try:
            for k, a in enumerate(args):
                to_child_r, to_child_w = os.pipe()
                from_child_r, from_child_w = os.pipe()
                code = f"import rbtrainer.worker_transports as t; t.serve({to_child_r}, {from_child_w}, {main_thread})"
                process = subprocess.Popen(
                    [sys.executable, "-c", code], pass_fds=(to_child_r, from_child_w), env=env, stdin=subprocess.DEVNULL
                )
                os.close(to_child_r)
                os.close(from_child_w)
                conn_out = connection.Connection(to_child_w, readable=False)
                conn_in = connection.Connection(from_child_r, writable=False)
                self._processes.append(process)
                self._conns.append((conn_in, conn_out))
                conn_out.send_bytes(cloudpickle.dumps((a, step_timeout)))
                labels.append(f"rollout worker {k} (pid {process.pid})")
        except BaseException:
            super().__init__(labels)
            self.close()
            raise
        super().__init__(labels)

    def call_all(self, method: str, own: Sequence[tuple[Any, ...]], shared: Any = None) -> list[Answer]:
        blob = None if shared is None else cloudpickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
        sent: list[bool] = []
        for (_, conn_out), mine in zip(self._conns, own):
            try:
                conn_out.send_bytes(cloudpickle.dumps((method, mine, blob is not None)))
                if blob is not None:
                    conn_out.send_bytes(blob)
                sent.append(True)
            except (EOFError, OSError):
                sent.append(False)
        return [self._answer(k) if ok else Lost(self._exit(k)) for k, ok in enumerate(sent)]

    def _answer(self, k: int) -> Answer:
        try:
            return cast(Answer, pickle.loads(self._conns[k][0].recv_bytes()))
        except (EOFError, OSError):  # its end of the pipe closed: the process ended
            return Lost(self._exit(k))

    def _exit(self, k: int) -> str:
        process = self._processes[k]
        try:
            code = process.wait(2.0)
        except subprocess.TimeoutExpired:
            return "its pipe broke while the process still ran"
        return f"the process exited with code {code}" if code >= 0 else f"the process was killed by signal {-code}"

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for _, conn_out in self._conns:
            with contextlib.suppress(EOFError, OSError):  # a worker that is gone needs no asking
                conn_out.send_bytes(cloudpickle.dumps(("close", (), False)))
        for (conn_in, conn_out), process in zip(self._conns, self._processes):
            try:
                process.wait(CLOSE_GRACE)
            except subprocess.TimeoutExpired:
                logger.warning("rollout worker %d did not exit within %g s; killing it", process.pid, CLOSE_GRACE)
                process.kill()
                process.wait(CLOSE_GRACE)
            conn_in.close()
            conn_out.close()


class RayGroup(WorkerGroup):
    """One Ray actor per rollout worker (``backend="ray"``)."""

    def __init__(self, args: Sequence[tuple[Any, ...]], step_timeout: float | None) -> None:
        try:
            import ray
        except ImportError:
            raise ValueError("backend='ray' needs Ray: pip install 'rbtrainer[ray]'") from None
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        # num_cpus=0, as Tianshou's Ray env workers: an actor that held a CPU for its lifetime would leave the test
        # pool's actors (and any other pool's) waiting forever for CPUs the training pool's actors hold; SPREAD
        # places the actors across a cluster's nodes
        remote: Any = ray.remote(Served).options(num_cpus=0, scheduling_strategy="SPREAD")
        self._actors = [remote.remote(*a, step_timeout=step_timeout, on_stuck=_end_actor) for a in args]
        super().__init__([f"rollout worker {k} (Ray actor)" for k in range(len(self._actors))])
        places = self.call_all("where", [()] * len(self._actors), timeout=_RAY_START)
        self.labels = [
            f"rollout worker {k} (Ray actor, {place[1]})" if isinstance(place, tuple) and place[0] == "ok" else label
            for k, (label, place) in enumerate(zip(self.labels, places))
        ]

    def call_all(
        self, method: str, own: Sequence[tuple[Any, ...]], shared: Any = None, timeout: float | None = None
    ) -> list[Answer]:
        import ray

        head = () if shared is None else (ray.put(shared),)  # one copy in the object store, read by every actor
        refs = [actor.call.remote(method, *head, *mine) for actor, mine in zip(self._actors, own)]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
        answers: list[Answer] = []
        for ref in refs:
            if ref not in ready:
                answers.append(Lost(f"Ray did not start it within {timeout:g} s (are the cluster's nodes up?)"))
                continue
            try:
                answers.append(ray.get(ref))
            except ray.exceptions.RayError as err:  # the actor died (or Ray lost it)
                answers.append(Lost(f"Ray reported {type(err).__name__}: {str(err).splitlines()[0]}"))
        return answers

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        import ray

        refs = [actor.call.remote("close") for actor in self._actors]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=CLOSE_GRACE)
        for actor, ref in zip(self._actors, refs):
            if ref not in ready:
                logger.warning("rollout worker actor did not close within %g s; killing it", CLOSE_GRACE)
            ray.kill(actor)


def _end_actor(failure: WorkerFailure) -> None:
    """A Ray actor's watchdog found it stuck: say so in its log and end its process (the trainer sees it die)."""
    logger.error("rollout worker actor ending itself: %s", failure.message)
    os.kill(os.getpid(), signal.SIGKILL)


GROUPS: dict[str, Callable[[Sequence[tuple[Any, ...]], float | None], WorkerGroup]] = {
    "dummy": LocalGroup,
    "subproc": ProcessGroup,
    "ray": RayGroup,
}


def worker_group(backend: str, args: Sequence[tuple[Any, ...]], step_timeout: float | None = None) -> WorkerGroup:
    """The workers of ``backend`` (``dummy``, ``subproc`` or ``ray``), worker ``k`` built from ``args[k]``.

    ``step_timeout`` (seconds, ``None``: none): a worker process or actor whose run goes that long without
    finishing a tick answers a timeout failure (a process; an actor just ends) and ends; in this process a
    stuck game cannot be interrupted."""
    if backend not in GROUPS:
        raise ValueError(f"backend must be one of {list(GROUPS)}, got {backend!r}")
    return GROUPS[backend](args, step_timeout)
