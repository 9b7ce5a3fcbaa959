"""Env pools: blocks of games on the workers of a Tianshou vector env, addressed game by game.

A pool worker holds a block of games behind one Gymnasium env (:class:`SeatEnv`), so one call
to a worker steps all of its games: Tianshou's ``DummyVectorEnv`` (one in-process worker),
``SubprocVectorEnv`` (one process per CPU core) or ``RayVectorEnv`` (Ray actors, the ``ray``
extra). :class:`GamePool` addresses the games one by one on top of that and hands the engine
typed :class:`~rbtrainer.envs.reports.Decision` / :class:`~rbtrainer.envs.reports.StepReport`
objects.

Gymnasium's ``info`` dict is the only free-form channel of a vector env, so a worker's reports
travel under one key, :data:`_REPORTS`, packed by :class:`SeatEnv` and unpacked by
:class:`GamePool` only.

Failures: a game that raises inside a worker (during ``step``, ``reset`` or ``restore``) is caught
by :class:`SeatEnv`, which sends a small picklable failure record back through the same channel
instead of its reports; a worker that dies outright (killed, ``os._exit``) shows up as a pipe or
actor error of the backend; a worker that does not answer a step, reset or restore within the
pool's ``step_timeout`` is killed. Either way :class:`GamePool` closes itself (no worker process is
left behind) and raises :class:`GameError`, on every backend alike. A closed pool cannot be used
again; build a new one. An interrupt (Ctrl-C) while the pool waits for its workers closes it too:
its workers' answers would no longer match its questions.

Worker processes (see :mod:`rbtrainer.envs.workers`) die with the process that built the pool,
leave Ctrl-C to it, and are closed in bounded time, also at interpreter exit.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import gymnasium as gym
import numpy as np

from rbtrainer.envs.adapters import ReplayPoint, seat_game
from rbtrainer.envs.base import BACKENDS, GameError
from rbtrainer.envs.reports import Decision, StepReport
from rbtrainer.envs.workers import CLOSE_GRACE, ParentBound, close_workers, describe_worker, kill_worker

__all__ = ["GamePool", "SeatEnv", "blocks", "game_pool"]

logger = logging.getLogger(__name__)

_REPORTS = "rbtrainer_reports"
"""The info key under which a worker returns its typed reports (or a :class:`_GameFailure`)."""

_EXIT_WAIT = 2.0
"""Seconds to wait for a worker process whose pipe broke to be seen as exited."""


@dataclass(frozen=True, slots=True)
class _GameFailure:
    """What a worker sends back instead of its reports when one of its games raised."""

    env_id: int
    operation: str
    error_type: str
    message: str
    traceback: str

    @classmethod
    def of(cls, env_id: int, operation: str, exc: Exception) -> _GameFailure:
        kind = type(exc)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        return cls(env_id, operation, name, str(exc), "".join(traceback.format_exception(exc)))

    @property
    def summary(self) -> str:
        detail = f": {self.message}" if self.message else ""
        return f"env {self.env_id}: the game raised {self.error_type} during {self.operation}{detail}"

    def error(self) -> GameError:
        err = GameError(
            f"{self.summary} (the env pool has been closed)",
            env_ids=(self.env_id,),
            operation=self.operation,
            error_type=self.error_type,
            error_message=self.message,
            worker_traceback=self.traceback,
        )
        err.add_note(f"traceback in the worker of env {self.env_id}:\n{self.traceback.rstrip()}")
        return err


class SeatEnv(gym.Env):
    """The Gymnasium face of a block of games (global ids ``env_ids``), one block per pool worker.

    ``step`` takes an ``(games, seats)`` action array (-1: no action; a game whose acting seats all
    have -1 is left alone) and returns ``list[StepReport | None]`` (``None`` for games left alone);
    ``reset(options={"game": k, "seed": s})`` starts game ``k`` of the block anew and returns its
    :class:`Decision` (``options={"game": k, "restore": point}`` puts it back at a
    :class:`~rbtrainer.envs.adapters.ReplayPoint` instead). Both travel in ``info[_REPORTS]``.

    A game that raises does not raise out of this env: ``info[_REPORTS]`` then holds a
    ``_GameFailure`` naming the game, which :class:`GamePool` turns into :class:`GameError`.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (gymnasium declares it per instance)

    def __init__(self, factory: Callable[[], Any], env_ids: range) -> None:
        self._factory = factory
        self._env_ids = env_ids
        self.games = [seat_game(factory, env_id) for env_id in env_ids]
        num_seats = len(self.games[0].seats)
        self.observation_space = gym.spaces.Box(0, 1, shape=(1,), dtype=np.float32)  # placeholder for Tianshou
        self.action_space = gym.spaces.Box(-1, 2**31 - 1, shape=(len(env_ids), num_seats), dtype=np.int64)

    def __getstate__(self) -> dict[str, Any]:
        # Pools that ship envs to workers (Ray actors) pickle a fresh env: send the factory and
        # build the games again on the other side instead of pickling games mid-episode.
        return {"factory": self._factory, "env_ids": self._env_ids}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["factory"], state["env_ids"])  # type: ignore[misc]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        options = options or {}
        k = int(options.get("game", 0))
        game = self.games[k]
        point = options.get("restore")
        try:
            decision = game.restore(point) if point is not None else game.reset(options.get("seed", seed))
        except Exception as exc:  # any error of the game's code: reported, not raised (see the class)
            failure = _GameFailure.of(self._env_ids[k], "reset" if point is None else "restore", exc)
            return np.zeros(1, dtype=np.float32), {_REPORTS: failure}
        return np.zeros(1, dtype=np.float32), {_REPORTS: decision}

    @property
    def game_names(self) -> tuple[str, tuple[str, ...]]:
        """The game's name and its seat names (see :meth:`GamePool.game_names`)."""
        game = self.games[0]
        return game.name, tuple(game.seats)

    @property
    def replay_points(self) -> list[ReplayPoint | None]:
        """Where each game of the block stands (see :meth:`GamePool.replay_points`)."""
        return [game.replay_point for game in self.games]

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        given = np.asarray(action)  # rows past this worker's games pad the pool's blocks to one width
        actions = (given if given.ndim == 2 else given.reshape(len(self.games), -1))[: len(self.games)]
        reports: list[StepReport | None] = []
        append = reports.append
        try:
            for game, a in zip(self.games, actions):
                append(game.step(a) if game.active(a) else None)
        except Exception as exc:  # any error of the game's code: reported, not raised (see the class)
            failure = _GameFailure.of(self._env_ids[len(reports)], "step", exc)
            return np.zeros(1, dtype=np.float32), 0.0, False, False, {_REPORTS: failure}
        return np.zeros(1, dtype=np.float32), 0.0, False, False, {_REPORTS: reports}

    def close(self) -> None:
        for game in self.games:
            game.close()


class GamePool:
    """``num_envs`` games spread over the workers of a Tianshou vector env, addressed per game.

    ``lost_worker`` lists the errors by which the backend reports a worker that died (pipe errors
    for ``subproc``, Ray's actor error for ``ray``). ``step_timeout``: seconds a worker may take to
    answer a step, reset or restore before it is killed (``None``: wait forever; only for workers
    that run apart from this process). When a game raises, a worker dies or a worker is killed,
    the pool closes itself and raises :class:`GameError`; :attr:`closed` then tells it apart from
    a usable one. :meth:`close` returns within about ``min(step_timeout, CLOSE_GRACE)`` seconds.
    """

    def __init__(
        self,
        venv: Any,
        blocks: list[range],
        lost_worker: tuple[type[BaseException], ...] = (),
        step_timeout: float | None = None,
    ) -> None:
        self.venv = venv
        self.blocks = blocks
        self.num_envs = blocks[-1].stop
        self._where = [(w, k) for w, block in enumerate(blocks) for k in range(len(block))]
        self._widest = max(len(block) for block in blocks)
        self._lost_worker = lost_worker
        self.step_timeout = step_timeout
        """Seconds a worker may take to answer a step, reset or restore (``None``: wait forever)."""
        self._close_grace = CLOSE_GRACE if step_timeout is None else min(step_timeout, CLOSE_GRACE)
        self.closed = False
        """The pool was closed (by :meth:`close`, or after a :class:`GameError`); it cannot be used again."""
        self._failure: str | None = None
        # A pool nobody closed is closed at interpreter exit, so the games' own close() runs in the
        # workers and no worker outlives the program. An atexit hook registered now runs before
        # multiprocessing's own (registered at its import), which would only terminate the workers.
        # It closes in bounded time, so a stuck game cannot hang the interpreter's exit (after Ctrl-C).
        self._close_at_exit = functools.partial(_close_at_exit, venv, self._close_grace)
        atexit.register(self._close_at_exit)

    def reset(self, env_id: int, seed: int | None = None) -> Decision:
        """Start game ``env_id`` anew; returns who acts first."""
        return self._reset(env_id, {"seed": seed}, "reset")

    def restore(self, env_id: int, point: ReplayPoint) -> Decision:
        """Put game ``env_id`` back where ``point`` says; returns who acts next."""
        return self._reset(env_id, {"restore": point}, "restore")

    def _reset(self, env_id: int, options: dict[str, Any], operation: str) -> Decision:
        self._check_open()
        worker, k = self._where[env_id]
        report = self._exchange([worker], operation, None, {"game": k, **options})[0]
        if isinstance(report, _GameFailure):
            self._game_failed([report])
        decision: Decision = report
        return decision

    def replay_points(self) -> list[ReplayPoint | None]:
        """Where every game stands, in env order (``None`` for a game reset without a seed)."""
        self._check_open()
        workers = list(range(len(self.blocks)))
        try:
            per_worker = self.venv.get_env_attr("replay_points", id=workers)
        except self._lost_worker as exc:
            self._worker_lost(workers, "replay_points", exc)
        return [point for block in per_worker for point in block]

    def game_names(self) -> tuple[str, tuple[str, ...]]:
        """The game's name and its seat names, in seat order (asked of the first worker; for messages)."""
        self._check_open()
        try:
            names: tuple[str, tuple[str, ...]] = self.venv.get_env_attr("game_names", id=[0])[0]
        except self._lost_worker as exc:
            self._worker_lost([0], "game_names", exc)
        return names

    def step(self, actions: np.ndarray, env_ids: Sequence[int]) -> list[StepReport]:
        """Step games ``env_ids`` with ``actions[i]`` (one row per game, one column per seat)."""
        if self.closed:
            self._check_open()
        actions = np.asarray(actions)
        ids = list(env_ids)
        if len(self.blocks) == 1 and len(ids) == self.num_envs and ids == list(range(self.num_envs)):
            # one worker stepping all of its games (the dummy pool's usual tick)
            reports = self._exchange([0], "step", [actions])[0]
            if isinstance(reports, _GameFailure):
                self._game_failed([reports])
            return reports
        per_worker: dict[int, np.ndarray] = {}
        width = self._widest  # blocks differ by one game when the envs do not split evenly: pad the short ones
        for row, game_id in enumerate(ids):
            worker, k = self._where[game_id]
            block = per_worker.get(worker)
            if block is None:
                block = per_worker[worker] = np.full((width, actions.shape[1]), -1, np.int64)
            block[k] = actions[row]
        workers = sorted(per_worker)
        by_worker = dict(zip(workers, self._exchange(workers, "step", [per_worker[w] for w in workers])))
        failures = [r for r in by_worker.values() if isinstance(r, _GameFailure)]
        if failures:
            self._game_failed(failures)
        return [by_worker[self._where[g][0]][self._where[g][1]] for g in ids]

    def close(self) -> None:
        """Close the workers (a no-op on a closed pool); a worker process that has not exited within
        ``min(step_timeout, CLOSE_GRACE)`` seconds is terminated, then killed."""
        if not self.closed:
            self.closed = True
            atexit.unregister(self._close_at_exit)
            self.venv.is_closed = True
            close_workers(self.venv.workers, self._close_grace)

    def _exchange(
        self, workers: list[int], operation: str, actions: list[np.ndarray] | None, options: dict | None = None
    ) -> list[Any]:
        """Send ``workers`` their actions (or, with ``actions=None``, a reset with ``options``) and
        return what each reported (``info[_REPORTS]``), waiting at most :attr:`step_timeout`."""
        venv_workers = [self.venv.workers[w] for w in workers]
        try:
            for i, worker in enumerate(venv_workers):
                if actions is None:
                    worker.send(None, options=options)
                else:
                    worker.send(actions[i])
            if self.step_timeout is not None:
                ready = self.venv.worker_class.wait(venv_workers, len(venv_workers), self.step_timeout)
                if len(ready) < len(venv_workers):
                    self._timed_out([w for w, vw in zip(workers, venv_workers) if vw not in ready], operation)
            return [worker.recv()[-1][_REPORTS] for worker in venv_workers]
        except self._lost_worker as exc:
            self._worker_lost(workers, operation, exc)
        except (KeyboardInterrupt, SystemExit):
            # the workers' answers to this call would reach the next one: the pool cannot be used again
            self._fail(f"interrupted during {operation}")
            raise

    # -------------------------------------------------------------- failures
    def _check_open(self) -> None:
        if self.closed:
            why = f" after a failure ({self._failure})" if self._failure else ""
            raise RuntimeError(f"the env pool is closed{why}; build a new pool")

    def _game_failed(self, failures: list[_GameFailure]) -> NoReturn:
        first, *others = sorted(failures, key=lambda f: f.env_id)
        err = first.error()
        for other in others:
            err.add_note(f"in the same call env {other.env_id} also raised {other.error_type}: {other.message}")
        self._fail(first.summary)
        raise err

    def _timed_out(self, stuck: list[int], operation: str) -> NoReturn:
        held = [f"{_env_span(self.blocks[w])} ({describe_worker(self.venv.workers[w], w)})" for w in stuck]
        for w in stuck:
            kill_worker(self.venv.workers[w])
        who = f"the worker holding {held[0]}" if len(held) == 1 else "the workers holding " + " and ".join(held)
        killed = "The worker was" if len(held) == 1 else "The workers were"
        timeout = self.step_timeout
        summary = f"{who} did not answer {operation} within {timeout:g} s (step_timeout)"
        err = GameError(
            f"{summary}: a game stuck in its {operation}? {killed} killed and the env pool closed. If the game is "
            "only slow, raise step_timeout (None waits forever)",
            env_ids=[env_id for w in stuck for env_id in self.blocks[w]],
            operation=operation,
            error_type="timeout",
            error_message=f"no answer within {timeout:g} s",
            worker_traceback="",
        )
        self._fail(summary)
        raise err

    def _worker_lost(self, involved: list[int], operation: str, exc: BaseException) -> NoReturn:
        dead = self._dead_workers(involved, exc)
        envs = ", ".join(_env_span(self.blocks[w]) for w in dead)
        codes = [_exit_code(self.venv.workers[w]) for w in dead]
        how = "exited" if all(c is None for c in codes) else "exited with code " + ", ".join(str(c) for c in codes)
        summary = f"the worker process holding {envs} {how} during {operation}"
        err = GameError(
            f"{summary} (the backend reported {type(exc).__name__}; the env pool has been closed)",
            env_ids=[env_id for w in dead for env_id in self.blocks[w]],
            operation=operation,
            error_type=None,
            error_message=how,
            worker_traceback="",
        )
        self._fail(summary)
        raise err from exc

    def _dead_workers(self, involved: list[int], exc: BaseException) -> list[int]:
        """The workers among ``involved`` that died (all of them when the backend cannot tell)."""
        workers = self.venv.workers
        actor = getattr(exc, "actor_id", None)  # Ray names the dead actor
        if actor is not None:
            hit = [w for w in involved if _actor_id(workers[w]) == actor]
            return hit or involved
        if not all(hasattr(workers[w], "process") for w in involved):
            return involved
        deadline = time.monotonic() + _EXIT_WAIT  # the pipe can break a moment before the exit is seen
        while True:
            dead = [w for w in involved if not workers[w].process.is_alive()]
            if dead or time.monotonic() > deadline:
                return dead or involved
            time.sleep(0.01)

    def _fail(self, summary: str) -> None:
        """Close the pool after a failure without letting a failing close hide the failure."""
        self._failure = summary
        self.closed = True
        atexit.unregister(self._close_at_exit)
        self.venv.is_closed = True
        try:
            close_workers(self.venv.workers, self._close_grace)
        except Exception as close_exc:  # a broken game may fail to close: the failure is the news
            logger.debug("closing a worker of the failed env pool raised %r", close_exc)


def _env_span(block: range) -> str:
    return f"env {block.start}" if len(block) == 1 else f"envs {block.start}-{block.stop - 1}"


def _exit_code(worker: Any) -> int | None:
    process = getattr(worker, "process", None)
    return None if process is None else process.exitcode


def _actor_id(worker: Any) -> str | None:
    """The id of a Ray worker's actor, as a ``RayActorError`` names it. Ray's ``ActorHandle`` offers no
    public accessor, so its private ``_actor_id`` is read here and nowhere else (tests/test_structure.py)."""
    actor = getattr(getattr(worker, "env", None), "_actor_id", None)
    return None if actor is None else str(actor.hex())


def _close_at_exit(venv: Any, grace: float) -> None:
    """Close a pool its owner never closed (an ``atexit`` hook), in bounded time."""
    venv.is_closed = True
    try:
        close_workers(venv.workers, grace)
    except Exception as err:  # a game's own close failed at exit: nothing left to do but say so
        logger.warning("closing an abandoned env pool at exit: a game's close raised %r", err)


def blocks(num_envs: int, num_workers: int) -> list[range]:
    """``num_envs`` envs in ``num_workers`` contiguous blocks, the first ones one env larger when they do not divide."""
    base, extra = divmod(num_envs, num_workers)
    out, start = [], 0
    for w in range(num_workers):
        size = base + (1 if w < extra else 0)
        out.append(range(start, start + size))
        start += size
    return out


def game_pool(
    factory: Callable[[], Any],
    num_envs: int,
    backend: str,
    num_workers: int | None = None,
    step_timeout: float | None = None,
) -> GamePool:
    """A :class:`GamePool` of ``num_envs`` games of ``factory`` on ``backend`` (see :func:`~rbtrainer.envs.make_pool`).

    ``dummy`` keeps every game in one in-process worker; ``subproc`` and ``ray`` spread them over
    ``num_workers`` workers (default: one per CPU core, at most one per game). ``step_timeout``
    (seconds, ``None``: wait forever) bounds a worker's step, reset or restore on ``subproc`` and
    ``ray``; the ``dummy`` backend runs the games in this process, where a stuck game cannot be
    interrupted, and ignores it.
    """
    from tianshou.env import DummyVectorEnv, SubprocVectorEnv

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if num_workers is None:
        num_workers = 1 if backend == "dummy" else min(num_envs, os.cpu_count() or 1)
    split = blocks(num_envs, max(1, min(num_workers, num_envs)))
    fns = [_SeatEnvFactory(factory, block) for block in split]
    if step_timeout is not None and not step_timeout > 0:
        raise ValueError(f"step_timeout must be a positive number of seconds or None, got {step_timeout!r}")
    if backend == "dummy":
        return GamePool(DummyVectorEnv(fns), split)
    if backend == "subproc":
        lost = (EOFError, BrokenPipeError, ConnectionResetError)
        bound = [ParentBound.here(fn) for fn in fns]  # the worker processes die with this one
        return GamePool(SubprocVectorEnv(bound), split, lost_worker=lost, step_timeout=step_timeout)
    try:
        import ray.exceptions
    except ImportError:
        raise ValueError("backend='ray' needs Ray: pip install 'rbtrainer[ray]'") from None
    from tianshou.env import RayVectorEnv

    return GamePool(RayVectorEnv(fns), split, lost_worker=(ray.exceptions.RayActorError,), step_timeout=step_timeout)


@dataclass(frozen=True)
class _SeatEnvFactory:
    factory: Callable[[], Any]
    env_ids: range

    def __call__(self) -> SeatEnv:
        return SeatEnv(self.factory, self.env_ids)
