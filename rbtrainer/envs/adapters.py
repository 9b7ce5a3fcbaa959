"""Seat adapters: one PettingZoo game driven seat by seat, with auto-reset.

``step`` takes one action per seat (-1 where a seat does not act), plays it, routes every reward
of that step to the seat that received it, runs the dead-agent protocol, resets the game at once
when it ends, and returns a :class:`~rbtrainer.envs.reports.StepReport`.

Every game of an adapter is seeded: ``reset(seed)`` starts game 0 with ``seed`` and the automatic
reset after game ``k`` uses :func:`episode_seed` ``(seed, k + 1)``. So the position of an env is
fully described by its :class:`ReplayPoint` (the start seed, the game number and the actions
played in that game so far), which is what training-state checkpoints save and
:meth:`SeatGame.restore` plays back. :class:`AECSeatGame`
drives turn-based games, :class:`ParallelSeatGame` simultaneous-move games; both share the
observation split, reward bookkeeping and episode summaries of :class:`SeatGame`.

The same adapters play single games (:mod:`rbtrainer.replay`): with ``auto_reset=False`` a game
that ends stays ended (its last :class:`~rbtrainer.envs.reports.StepReport` has no next seat to
act) and :meth:`SeatGame.render` draws it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pettingzoo import AECEnv

from rbtrainer.envs.factory import strip_check_wrappers
from rbtrainer.envs.reports import ClosedSeat, Decision, Episode, StepReport

__all__ = ["AECSeatGame", "ParallelSeatGame", "ReplayPoint", "SeatGame", "episode_seed", "seat_game"]


def episode_seed(seed: int, game: int) -> int:
    """Seed of game ``game`` (0-based) of an env started with ``seed``."""
    if game == 0:
        return seed
    return int(np.random.SeedSequence(seed, spawn_key=(game,)).generate_state(1)[0])


@dataclass(frozen=True)
class ReplayPoint:
    """Where an env stands: replaying ``actions`` into game ``game`` of start seed ``seed`` gets there."""

    seed: int
    game: int
    actions: tuple[tuple[int, ...], ...]
    """One row per env step of the current game: the action of every seat (-1: none)."""


class SeatGame(ABC):
    """What both adapters share: seats, observation split, returns and episode summaries."""

    def __init__(self, game: Any, env_id: int, auto_reset: bool = True) -> None:
        self._game = game
        self.env_id = env_id
        self.auto_reset = auto_reset
        """Start the next game as soon as one ends (else the ended game stays, and nobody acts next)."""
        self.seats: list[str] = list(game.possible_agents)
        self._seat_of = {a: i for i, a in enumerate(self.seats)}
        self._n_actions = [int(game.action_space(a).n) for a in self.seats]
        self._returns = np.zeros(len(self.seats))
        self._length = 0
        self._start_seed: int | None = None
        self._game_index = 0
        self._actions: list[tuple[int, ...]] = []

    # -------------------------------------------------------------- shared parts
    def _split(self, agent: str, raw: Any, info: Mapping[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(observation float32, action mask int8)`` of a raw observation.

        A raw observation is an array (a Box space) or a dict with an ``observation`` array and an
        optional ``action_mask`` (else the mask comes from ``info["action_mask"]``, else all ones); a
        dict without ``observation`` raises ``ValueError`` naming the keys it has.
        """
        if type(raw) is dict:  # the common case, checked without the ABC machinery
            obs = raw.get("observation")
            mask = raw.get("action_mask")
            if isinstance(obs, np.ndarray) and isinstance(mask, np.ndarray):
                if obs.dtype != np.float32:
                    obs = obs.astype(np.float32)
                return obs, mask if mask.dtype == np.int8 else mask.astype(np.int8)
        if isinstance(raw, Mapping):
            if "observation" not in raw:
                raise ValueError(
                    f"seat {agent!r} of game {self._game_name()!r} observed a dict with keys {list(raw)} and no "
                    "'observation' entry; the trainer expects a Box observation (an array) or a Dict with an "
                    "'observation' entry (the array it learns from) and an optional 'action_mask' entry"
                )
            obs = np.asarray(raw["observation"], dtype=np.float32)
            mask = raw.get("action_mask")
        else:
            obs = np.asarray(raw, dtype=np.float32)
            mask = None
        if mask is None and info is not None:
            mask = info.get("action_mask")
        if mask is None:
            return obs, np.ones(self._n_actions[self._seat_of[agent]], dtype=np.int8)
        return obs, np.asarray(mask, dtype=np.int8)

    @property
    def name(self) -> str:
        """The game's ``metadata["name"]`` (its class name without one), for messages."""
        return self._game_name()

    def _game_name(self) -> str:
        """The game's ``metadata["name"]`` (its class name without one), for messages."""
        metadata = getattr(self._game, "metadata", None)
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        return str(name) if name else type(self._game).__name__

    def _add_rewards(self, rewards: Mapping[str, float], into: np.ndarray) -> None:
        seat_of = self._seat_of
        for agent, r in rewards.items():
            if r:
                into[seat_of[agent]] += r

    def _finish(self, rewards: np.ndarray, closed: list[ClosedSeat], last_infos: Mapping[str, Any]) -> StepReport:
        """Book the step; summarise and reset the game if it ended."""
        self._returns += rewards
        self._length += 1
        if self._game.agents:
            return StepReport(rewards, closed, None, self._decision())
        episode = self._episode(last_infos)
        if not self.auto_reset:
            return StepReport(rewards, closed, episode, Decision([], [], []))
        self._next_game()
        return StepReport(rewards, closed, episode, self._decision())

    def _next_game(self) -> None:
        self._game_index += 1
        self._actions = []
        self._begin(None if self._start_seed is None else episode_seed(self._start_seed, self._game_index))

    def _episode(self, infos: Mapping[str, Any]) -> Episode:
        winner: str | None = None
        reported = False
        span = float(self._length)
        for info in infos.values():
            if isinstance(info, Mapping):
                if "winner" in info:
                    winner, reported = info["winner"], True
                if "game_clock" in info:
                    span = float(info["game_clock"])
        if not reported:
            # games that do not report a winner: a unique best return wins, otherwise a draw
            best = self._returns.max()
            leaders = np.flatnonzero(self._returns == best)
            if len(leaders) == 1 and np.any(self._returns != best):
                winner = self.seats[int(leaders[0])]
        return Episode(
            env_id=self.env_id, returns=self._returns.copy(), length=self._length, winner=winner, time_span=span
        )

    # ----------------------------------------------------------------- interface
    def reset(self, seed: int | None) -> Decision:
        """Start a new game (``seed`` seeds it and the games after it; ``None``: the game's own generator)."""
        self._start_seed = seed
        self._game_index = 0
        self._actions = []
        self._begin(seed)
        return self._decision()

    def _begin(self, seed: int | None) -> None:
        self._returns = np.zeros(len(self.seats))
        self._length = 0
        self._start(seed)
        if not self._game.agents:
            raise RuntimeError("the game has no live agents right after reset()")

    @property
    def replay_point(self) -> ReplayPoint | None:
        """Where this env stands (``None`` if it was reset without a seed)."""
        if self._start_seed is None:
            return None
        return ReplayPoint(self._start_seed, self._game_index, tuple(self._actions))

    def restore(self, point: ReplayPoint) -> Decision:
        """Put the env where ``point`` says: start its game from its seed and replay its actions.

        Raises ``RuntimeError`` if the game ends during the replay (it is not deterministic given
        its seed and actions).
        """
        self._start_seed = point.seed
        self._game_index = point.game
        self._actions = []
        self._begin(episode_seed(point.seed, point.game))
        for row in point.actions:
            report = self.step(np.asarray(row, dtype=np.int64))
            if report.episode is not None:
                raise RuntimeError(
                    f"env {self.env_id}: the game ended while replaying its recorded actions; resuming needs a "
                    "game that is deterministic given its seed and actions"
                )
        return self._decision()

    def _record(self, actions: np.ndarray | Sequence[int]) -> None:
        self._actions.append(tuple(actions.tolist() if isinstance(actions, np.ndarray) else map(int, actions)))

    @abstractmethod
    def _start(self, seed: int | None) -> None: ...

    @abstractmethod
    def _decision(self) -> Decision: ...

    @abstractmethod
    def active(self, actions: np.ndarray) -> bool:
        """Whether ``actions`` (one per seat, -1: none) ask this game to move."""

    @abstractmethod
    def step(self, actions: np.ndarray) -> StepReport:
        """Play one env step with ``actions`` (one per seat, -1 for seats that do not act)."""

    def render(self) -> Any:
        """The game's ``render()`` (an ``rgb_array`` frame for games made with that render mode)."""
        return self._game.render()

    def close(self) -> None:
        self._game.close()


class AECSeatGame(SeatGame):
    """A turn-based game: one seat acts per step; rewards of every seat are routed each step."""

    def _start(self, seed: int | None) -> None:
        self._game.reset(seed=seed)

    def _view(self, agent: str) -> tuple[np.ndarray, np.ndarray]:
        game = self._game
        return self._split(agent, game.observe(agent), game.infos.get(agent))

    def _decision(self) -> Decision:
        agent = self._game.agent_selection
        obs, mask = self._view(agent)
        return Decision([self._seat_of[agent]], [obs], [mask])

    def active(self, actions: np.ndarray) -> bool:
        return bool(actions[self._seat_of[self._game.agent_selection]] >= 0)

    def step(self, actions: np.ndarray) -> StepReport:
        game = self._game
        rewards = np.zeros(len(self.seats))
        closed: list[ClosedSeat] = []
        last_infos: dict[str, Any] = {}
        self._record(actions)
        game.step(int(actions[self._seat_of[game.agent_selection]]))
        self._add_rewards(game.rewards, rewards)
        # dead-agent protocol: every finished seat is stepped with None, each seeing its final view
        while game.agents:
            agent = game.agent_selection
            terminated, truncated = game.terminations[agent], game.truncations[agent]
            if not (terminated or truncated):
                break
            obs, mask = self._view(agent)
            last_infos[agent] = game.infos.get(agent, {})
            closed.append(ClosedSeat(self._seat_of[agent], bool(terminated), bool(truncated), obs, mask))
            game.step(None)
            self._add_rewards(game.rewards, rewards)
        return self._finish(rewards, closed, last_infos)


class ParallelSeatGame(SeatGame):
    """A simultaneous-move game: every live seat acts each step."""

    def __init__(self, game: Any, env_id: int, auto_reset: bool = True) -> None:
        super().__init__(game, env_id, auto_reset)
        self._obs: dict[str, Any] = {}
        self._infos: dict[str, Any] = {}

    def _start(self, seed: int | None) -> None:
        self._obs, self._infos = self._game.reset(seed=seed)

    def _decision(self) -> Decision:
        seats, obs_list, masks = [], [], []
        for agent in self._game.agents:
            obs, mask = self._split(agent, self._obs[agent], self._infos.get(agent))
            seats.append(self._seat_of[agent])
            obs_list.append(obs)
            masks.append(mask)
        return Decision(seats, obs_list, masks)

    def active(self, actions: np.ndarray) -> bool:
        return bool((actions >= 0).any())

    def step(self, actions: np.ndarray) -> StepReport:
        joint = {a: int(actions[self._seat_of[a]]) for a in self._game.agents}
        self._record(actions)
        obs_d, rew_d, term_d, trunc_d, info_d = self._game.step(joint)
        rewards = np.zeros(len(self.seats))
        self._add_rewards(rew_d, rewards)
        closed: list[ClosedSeat] = []
        last_infos: dict[str, Any] = {}
        for agent in joint:
            terminated, truncated = bool(term_d.get(agent, False)), bool(trunc_d.get(agent, False))
            if terminated or truncated:
                obs, mask = self._split(agent, obs_d[agent], info_d.get(agent))
                last_infos[agent] = info_d.get(agent, {})
                closed.append(ClosedSeat(self._seat_of[agent], terminated, truncated, obs, mask))
        self._obs, self._infos = obs_d, info_d
        return self._finish(rewards, closed, last_infos)


def seat_game(factory: Callable[[], Any], env_id: int, auto_reset: bool = True) -> SeatGame:
    """The adapter for a fresh game from ``factory`` (beneath its check-only wrappers)."""
    game = strip_check_wrappers(factory())
    if isinstance(game, AECEnv):
        return AECSeatGame(game, env_id, auto_reset)
    return ParallelSeatGame(game, env_id, auto_reset)
