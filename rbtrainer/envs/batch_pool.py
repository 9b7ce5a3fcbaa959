"""An in-process pool over a batch-native game: one program steps every game of the pool at once.

A registry game whose environment class offers ``batch_rules(num_games)`` (robot delivery,
tic-tac-toe, connect four) has a *batch twin*: the same rule book holding many games in arrays
(:class:`BatchGame`). On the
``dummy`` backend the trainer steps its games through :class:`BatchGamePool` instead of one
PettingZoo env per game, and the rollout engine takes each tick of decisions and results as
arrays (:meth:`BatchGamePool.decisions`, :meth:`BatchGamePool.step_batch`) instead of per-game
reports. Everything else is what :class:`~rbtrainer.envs.GamePool` does: every game is seeded
from its start seed and game number (:func:`~rbtrainer.envs.adapters.episode_seed`), resets
itself when it ends, records the actions of its current game, and is put back at a
:class:`~rbtrainer.envs.adapters.ReplayPoint` by replaying them. A game error closes the pool
and raises :class:`~rbtrainer.envs.GameError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

import numpy as np

from rbtrainer.envs.adapters import ReplayPoint, episode_seed
from rbtrainer.envs.base import GameError
from rbtrainer.envs.factory import describe_game
from rbtrainer.envs.reports import Decision, Episode

__all__ = ["BatchGame", "BatchGamePool", "BatchStep"]


class BatchGame(Protocol):
    """Many games of one turn-based game in one object; each game has one seat to act at a time.

    Methods take an int array ``games`` of distinct game indices and answer one row per game.
    """

    num_games: int
    num_seats: int

    def reset(self, games: np.ndarray, seeds: Sequence[int | None]) -> None: ...

    def acting(self, games: np.ndarray) -> np.ndarray: ...

    def observations(self, games: np.ndarray, seats: np.ndarray) -> np.ndarray: ...

    def masks(self, games: np.ndarray, seats: np.ndarray) -> np.ndarray: ...

    def play(self, games: np.ndarray, actions: np.ndarray) -> np.ndarray: ...

    def ended(self, games: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def outcome(self, game: int) -> tuple[str | None, float]: ...


@dataclass(slots=True)
class BatchStep:
    """What one :meth:`BatchGamePool.step_batch` produced, one row per stepped game."""

    rewards: np.ndarray
    """float64 reward of every seat (games x seats)."""
    ended: np.ndarray
    """Whether the step ended the game (it has then been reset already)."""
    terminated: np.ndarray
    truncated: np.ndarray
    final_obs: np.ndarray
    """Every seat's last view of each game that ended (ended games x seats x features)."""
    final_masks: np.ndarray
    """Every seat's last action mask of each game that ended (ended games x seats x actions)."""
    episodes: list[Episode] = field(default_factory=list)
    """The games that ended, in the order of the stepped games."""


class BatchGamePool:
    """The :class:`~rbtrainer.envs.GamePool` interface over a :class:`BatchGame`, in this process."""

    batch_native = True

    def __init__(self, game: BatchGame, factory: Callable[[], Any] | None = None) -> None:
        self.game = game
        self._factory = factory
        """The factory of the game's PettingZoo env (names the game and its seats in messages)."""
        self.num_envs = n = int(game.num_games)
        self.num_seats = int(game.num_seats)
        self.closed = False
        self._failure: str | None = None
        self._start_seed: list[int | None] = [None] * n
        self._game_index = [0] * n
        self._returns = np.zeros((n, self.num_seats))
        self._length = np.zeros(n, dtype=np.int64)
        # the actions of every game's current game: seat and action per step (grown on demand)
        self._history_seat = np.zeros((n, 64), dtype=np.int64)
        self._history_action = np.zeros((n, 64), dtype=np.int64)
        # the next decision of every game, refreshed after every reset and step
        self._seat = np.zeros(n, dtype=np.int64)
        self._obs: np.ndarray | None = None
        self._mask: np.ndarray | None = None

    # ------------------------------------------------------- GamePool interface
    def reset(self, env_id: int, seed: int | None = None) -> Decision:
        """Start game ``env_id`` anew (``seed`` seeds it and the games after it); returns who acts first."""
        self._check_open()
        self._start_seed[env_id] = None if seed is None else int(seed)
        self._game_index[env_id] = 0
        ids = np.array([env_id])
        self._call("reset", ids, self._begin, ids, [seed])
        return self.decision(env_id)

    def restore(self, env_id: int, point: ReplayPoint) -> Decision:
        """Put game ``env_id`` back where ``point`` says (replaying its actions); returns who acts next."""
        self._check_open()
        self._start_seed[env_id] = point.seed
        self._game_index[env_id] = point.game
        ids = np.array([env_id])
        self._call("restore", ids, self._begin, ids, [episode_seed(point.seed, point.game)])
        for row in point.actions:
            seat = int(self._seat[env_id])
            step = self.step_batch(ids, np.array([row[seat]], dtype=np.int64))
            if step.ended[0]:
                raise RuntimeError(
                    f"env {env_id}: the game ended while replaying its recorded actions; resuming needs a "
                    "game that is deterministic given its seed and actions"
                )
        return self.decision(env_id)

    def replay_points(self) -> list[ReplayPoint | None]:
        """Where every game stands, in env order (``None`` for a game reset without a seed)."""
        self._check_open()
        points: list[ReplayPoint | None] = []
        for env_id, seed in enumerate(self._start_seed):
            if seed is None:
                points.append(None)
                continue
            length = int(self._length[env_id])
            rows = []
            seats = self._history_seat[env_id, :length].tolist()
            for seat, action in zip(seats, self._history_action[env_id, :length].tolist()):
                row = [-1] * self.num_seats
                row[seat] = action
                rows.append(tuple(row))
            points.append(ReplayPoint(seed, self._game_index[env_id], tuple(rows)))
        return points

    def game_names(self) -> tuple[str, tuple[str, ...]]:
        """The game's name and its seat names (from the PettingZoo env of ``factory``; without one, the
        batch game's class name and the seat numbers)."""
        if self._factory is None:
            return type(self.game).__name__, tuple(str(seat) for seat in range(self.num_seats))
        info = describe_game(self._factory)
        return info.name, info.seats

    def decision(self, env_id: int) -> Decision:
        """Who acts next in game ``env_id``, as the per-game pools report it."""
        obs, mask = self._views()
        return Decision([int(self._seat[env_id])], [obs[env_id].copy()], [mask[env_id].copy()])

    def close(self) -> None:
        self.closed = True

    # ---------------------------------------------------------- batch interface
    def decisions(self, env_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(seat, obs, mask)`` of the games ``env_ids``: the seat to act and what it sees (one row each)."""
        obs, mask = self._views()
        return self._seat[env_ids], obs[env_ids], mask[env_ids]

    def step_batch(self, env_ids: np.ndarray, actions: np.ndarray) -> BatchStep:
        """Play ``actions[i]`` for the seat to act in game ``env_ids[i]``; games that end are
        summarised and reset at once (their next decision is the new game's)."""
        self._check_open()
        game = self.game
        length = self._length[env_ids]
        if int(length.max()) >= self._history_seat.shape[1]:
            grow = np.zeros((self.num_envs, self._history_seat.shape[1]), dtype=np.int64)
            self._history_seat = np.concatenate([self._history_seat, grow], axis=1)
            self._history_action = np.concatenate([self._history_action, grow], axis=1)
        self._history_seat[env_ids, length] = self._seat[env_ids]
        self._history_action[env_ids, length] = actions
        rewards = self._call("step", env_ids, game.play, env_ids, actions)
        self._returns[env_ids] += rewards
        self._length[env_ids] = length + 1
        terminated, truncated = game.ended(env_ids)
        ended = terminated | truncated
        over = env_ids[ended]
        seats = self.num_seats
        if len(over):
            every_game, every_seat = np.repeat(over, seats), np.tile(np.arange(seats), len(over))
            final_obs = self._call("step", over, game.observations, every_game, every_seat)
            final_masks = self._call("step", over, game.masks, every_game, every_seat)
            final_obs = final_obs.reshape(len(over), seats, *final_obs.shape[1:])
            final_masks = final_masks.reshape(len(over), seats, -1)
            episodes = []
            seeds: list[int | None] = []
            for env_id in over.tolist():
                winner, span = game.outcome(env_id)
                episodes.append(Episode(env_id, self._returns[env_id].copy(), int(self._length[env_id]), winner, span))
                self._game_index[env_id] += 1
                start = self._start_seed[env_id]
                seeds.append(None if start is None else episode_seed(start, self._game_index[env_id]))
            self._call("reset", over, self._begin, over, seeds)
        else:
            obs, mask = self._views()
            final_obs, final_masks, episodes = obs[:0, None], mask[:0, None], []
        self._refresh(env_ids)
        return BatchStep(rewards, ended, terminated, truncated, final_obs, final_masks, episodes)

    # ------------------------------------------------------------------- parts
    def _begin(self, env_ids: np.ndarray, seeds: Sequence[int | None]) -> None:
        self.game.reset(env_ids, seeds)
        self._returns[env_ids] = 0.0
        self._length[env_ids] = 0
        self._refresh(env_ids)

    def _refresh(self, env_ids: np.ndarray) -> None:
        seat = self.game.acting(env_ids)
        obs = self.game.observations(env_ids, seat)
        mask = self.game.masks(env_ids, seat)
        if self._obs is None or self._mask is None:
            self._obs = np.zeros((self.num_envs, *obs.shape[1:]), dtype=np.float32)
            self._mask = np.zeros((self.num_envs, mask.shape[1]), dtype=np.int8)
        self._seat[env_ids] = seat
        self._obs[env_ids] = obs
        self._mask[env_ids] = mask

    def _views(self) -> tuple[np.ndarray, np.ndarray]:
        if self._obs is None or self._mask is None:
            raise RuntimeError("no game of the pool has been reset yet; reset the games first")
        return self._obs, self._mask

    def _call(self, operation: str, env_ids: np.ndarray, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``; an error of the game's code closes the pool and raises GameError."""
        try:
            return fn(*args)
        except Exception as exc:  # any error of the game's code: the pool's failure contract
            self._game_failed(operation, env_ids, exc)

    def _game_failed(self, operation: str, env_ids: np.ndarray, exc: Exception) -> NoReturn:
        ids = [int(e) for e in np.asarray(env_ids).reshape(-1)]
        kind = type(exc)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        where = f"env {ids[0]}" if len(ids) == 1 else f"envs {ids}"
        summary = f"{where}: the game raised {name} during {operation}: {exc}"
        self._failure = summary
        self.closed = True
        raise GameError(
            f"{summary} (the env pool has been closed)",
            env_ids=ids,
            operation=operation,
            error_type=name,
            error_message=str(exc),
            worker_traceback="",
        ) from exc

    def _check_open(self) -> None:
        if self.closed:
            why = f" after a failure ({self._failure})" if self._failure else ""
            raise RuntimeError(f"the env pool is closed{why}; build a new pool")
