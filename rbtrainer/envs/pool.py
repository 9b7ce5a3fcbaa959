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
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from rbtrainer.envs.adapters import ReplayPoint, seat_game
from rbtrainer.envs.reports import Decision, StepReport

__all__ = ["BACKENDS", "GamePool", "SeatEnv", "make_pool"]

BACKENDS = ("dummy", "subproc", "ray")

_REPORTS = "rbtrainer_reports"
"""The info key under which a worker returns its typed reports."""


class SeatEnv(gym.Env):
    """The Gymnasium face of a block of games (global ids ``env_ids``), one block per pool worker.

    ``step`` takes an ``(games, seats)`` action array (-1: no action; a game whose acting seats all
    have -1 is left alone) and returns ``list[StepReport | None]`` (``None`` for games left alone);
    ``reset(options={"game": k, "seed": s})`` starts game ``k`` of the block anew and returns its
    :class:`Decision` (``options={"game": k, "restore": point}`` puts it back at a
    :class:`~rbtrainer.envs.adapters.ReplayPoint` instead). Both travel in ``info[_REPORTS]``.
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
        game = self.games[int(options.get("game", 0))]
        point = options.get("restore")
        decision = game.restore(point) if point is not None else game.reset(options.get("seed", seed))
        return np.zeros(1, dtype=np.float32), {_REPORTS: decision}

    @property
    def replay_points(self) -> list[ReplayPoint | None]:
        """Where each game of the block stands (see :meth:`GamePool.replay_points`)."""
        return [game.replay_point for game in self.games]

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        actions = np.asarray(action).reshape(len(self.games), -1)
        reports = [game.step(a) if game.active(a) else None for game, a in zip(self.games, actions)]
        return np.zeros(1, dtype=np.float32), 0.0, False, False, {_REPORTS: reports}

    def close(self) -> None:
        for game in self.games:
            game.close()


class GamePool:
    """``num_envs`` games spread over the workers of a Tianshou vector env, addressed per game."""

    def __init__(self, venv: Any, blocks: list[range]) -> None:
        self.venv = venv
        self.blocks = blocks
        self.num_envs = blocks[-1].stop
        self._where = [(w, k) for w, block in enumerate(blocks) for k in range(len(block))]

    def reset(self, env_id: int, seed: int | None = None) -> Decision:
        """Start game ``env_id`` anew; returns who acts first."""
        worker, k = self._where[env_id]
        _, infos = self.venv.reset(env_id=[worker], options={"game": k, "seed": seed})
        decision: Decision = infos[0][_REPORTS]
        return decision

    def restore(self, env_id: int, point: ReplayPoint) -> Decision:
        """Put game ``env_id`` back where ``point`` says; returns who acts next."""
        worker, k = self._where[env_id]
        _, infos = self.venv.reset(env_id=[worker], options={"game": k, "restore": point})
        decision: Decision = infos[0][_REPORTS]
        return decision

    def replay_points(self) -> list[ReplayPoint | None]:
        """Where every game stands, in env order (``None`` for a game reset without a seed)."""
        per_worker = self.venv.get_env_attr("replay_points", id=list(range(len(self.blocks))))
        return [point for block in per_worker for point in block]

    def step(self, actions: np.ndarray, env_ids: Sequence[int]) -> list[StepReport]:
        """Step games ``env_ids`` with ``actions[i]`` (one row per game, one column per seat)."""
        actions = np.asarray(actions)
        ids = list(env_ids)
        if len(self.blocks) == 1 and len(ids) == self.num_envs and ids == list(range(self.num_envs)):
            # one worker stepping all of its games (the dummy pool's usual tick)
            infos = self.venv.step(actions[None], id=[0])[4]
            reports: list[StepReport] = infos[0][_REPORTS]
            return reports
        per_worker: dict[int, np.ndarray] = {}
        for row, game_id in enumerate(ids):
            worker, k = self._where[game_id]
            block = per_worker.get(worker)
            if block is None:
                block = per_worker[worker] = np.full((len(self.blocks[worker]), actions.shape[1]), -1, np.int64)
            block[k] = actions[row]
        workers = sorted(per_worker)
        infos = self.venv.step(np.stack([per_worker[w] for w in workers]), id=workers)[4]
        by_worker = {w: info[_REPORTS] for w, info in zip(workers, infos)}
        return [by_worker[self._where[g][0]][self._where[g][1]] for g in ids]

    def close(self) -> None:
        self.venv.close()


def _blocks(num_envs: int, num_workers: int) -> list[range]:
    base, extra = divmod(num_envs, num_workers)
    blocks, start = [], 0
    for w in range(num_workers):
        size = base + (1 if w < extra else 0)
        blocks.append(range(start, start + size))
        start += size
    return blocks


def make_pool(factory: Callable[[], Any], num_envs: int, backend: str, num_workers: int | None = None) -> GamePool:
    """A :class:`GamePool` of ``num_envs`` games on ``backend``.

    ``dummy`` keeps every game in one in-process worker; ``subproc`` and ``ray`` spread them over
    ``num_workers`` workers (default: one per CPU core, at most one per game).
    """
    from tianshou.env import DummyVectorEnv, SubprocVectorEnv

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if num_workers is None:
        num_workers = 1 if backend == "dummy" else min(num_envs, os.cpu_count() or 1)
    blocks = _blocks(num_envs, max(1, min(num_workers, num_envs)))
    fns = [_SeatEnvFactory(factory, block) for block in blocks]
    if backend == "dummy":
        return GamePool(DummyVectorEnv(fns), blocks)
    if backend == "subproc":
        return GamePool(SubprocVectorEnv(fns), blocks)
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ValueError("backend='ray' needs Ray: pip install 'rbtrainer[ray]'") from None
    from tianshou.env import RayVectorEnv

    return GamePool(RayVectorEnv(fns), blocks)


@dataclass(frozen=True)
class _SeatEnvFactory:
    factory: Callable[[], Any]
    env_ids: range

    def __call__(self) -> SeatEnv:
        return SeatEnv(self.factory, self.env_ids)
