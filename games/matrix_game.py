"""Iterated two-player matrix games as a PettingZoo Parallel environment.

Both players choose at once every round; each gets its entry of the payoff bimatrix. The game
lasts ``num_rounds`` rounds and then terminates. The observation of a player is float32:
one-hot of its own previous action, one-hot of the opponent's previous action, and a flag
that is 1 in the first round (no previous actions), so memory-one strategies (tit-for-tat,
win-stay/lose-shift) are expressible.

Built-in games (``preset=``): ``prisoners_dilemma``, ``rock_paper_scissors``,
``matching_pennies``, ``stag_hunt``; or pass ``payoffs[a0][a1] = (r0, r1)`` directly (finite numbers:
a NaN or infinite payoff raises ``ValueError`` naming it).

Errors (a refused step changes nothing): ``step`` takes a dict with exactly one action per live
agent (``TypeError`` if it is not a dict, ``ValueError`` naming missing or unknown agents); an
action that is not an integer (a float, ``None``, a string, a bool) raises ``TypeError`` naming the
agent, one out of range ``ValueError``; ``step`` with no live agents (before ``reset()`` or after the
last round) ``ValueError``. ``reset(seed=...)`` takes ``None`` or a non-negative int (the game has no
randomness; the seed is checked, then ignored), see :mod:`games.inputs`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from games.inputs import check_seed, reject_bool_action

__all__ = ["PAYOFFS", "MatrixGameEnv", "MatrixGameRules", "env", "parallel_env"]

PAYOFFS: dict[str, tuple[tuple[tuple[float, float], ...], ...]] = {
    # actions: cooperate, defect
    "prisoners_dilemma": (((3, 3), (0, 5)), ((5, 0), (1, 1))),
    # actions: rock, paper, scissors
    "rock_paper_scissors": (
        ((0, 0), (-1, 1), (1, -1)),
        ((1, -1), (0, 0), (-1, 1)),
        ((-1, 1), (1, -1), (0, 0)),
    ),
    # actions: heads, tails; player_0 wins on a match
    "matching_pennies": (((1, -1), (-1, 1)), ((-1, 1), (1, -1))),
    # actions: stag, hare
    "stag_hunt": (((4, 4), (0, 3)), ((3, 0), (2, 2))),
}


class MatrixGameRules:
    """Round counter, last actions and payoffs of an iterated bimatrix game."""

    def __init__(self, payoffs: Sequence[Sequence[Sequence[float]]], num_rounds: int) -> None:
        rows = len(payoffs)
        if rows < 2 or any(len(row) != len(payoffs[0]) for row in payoffs) or len(payoffs[0]) < 2:
            raise ValueError("payoffs must be a rectangular table [a0][a1] with at least 2 actions per player")
        if any(len(cell) != 2 for row in payoffs for cell in row):
            raise ValueError("payoffs[a0][a1] must be a pair (reward of player_0, reward of player_1)")
        if isinstance(num_rounds, bool) or not isinstance(num_rounds, (int, np.integer)) or num_rounds < 1:
            raise ValueError(f"num_rounds must be an int >= 1, got {num_rounds!r}")
        self.payoffs = tuple(tuple((float(c[0]), float(c[1])) for c in row) for row in payoffs)
        for a0, row in enumerate(self.payoffs):
            for a1, cell in enumerate(row):
                if not (math.isfinite(cell[0]) and math.isfinite(cell[1])):
                    raise ValueError(
                        f"payoffs[{a0}][{a1}] = {cell} is not finite; every payoff must be a finite number "
                        "(NaN or inf rewards would poison a learner's memory and weights)"
                    )
        self.num_actions = (rows, len(payoffs[0]))
        self.num_rounds = int(num_rounds)
        self.reset()

    def reset(self) -> None:
        self.round = 0
        self.last: tuple[int, int] | None = None

    @property
    def over(self) -> bool:
        return self.round >= self.num_rounds

    def play(self, a0: int, a1: int) -> tuple[float, float]:
        if self.over:
            raise ValueError("the game is over; call reset() to start a new one")
        for player, a in ((0, a0), (1, a1)):
            if not 0 <= a < self.num_actions[player]:
                raise ValueError(f"player_{player}: action must be in 0..{self.num_actions[player] - 1}, got {a}")
        self.round += 1
        self.last = (a0, a1)
        return self.payoffs[a0][a1]

    def observation(self, player: int) -> np.ndarray:
        own, other = self.num_actions[player], self.num_actions[1 - player]
        obs = np.zeros(own + other + 1, dtype=np.float32)
        if self.last is None:
            obs[-1] = 1.0
        else:
            obs[self.last[player]] = 1.0
            obs[own + self.last[1 - player]] = 1.0
        return obs


class MatrixGameEnv(ParallelEnv):
    """Parallel env: ``player_0`` picks the row, ``player_1`` the column."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "name": "matrix_game_v0", "is_parallelizable": True}

    def __init__(
        self,
        preset: str = "prisoners_dilemma",
        num_rounds: int = 10,
        payoffs: Sequence[Sequence[Sequence[float]]] | None = None,
        render_mode: str | None = None,
    ) -> None:
        if payoffs is None:
            if preset not in PAYOFFS:
                raise ValueError(
                    f"unknown matrix game preset {preset!r}; choose one of {sorted(PAYOFFS)} or pass payoffs"
                )
            payoffs = PAYOFFS[preset]
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.game = MatrixGameRules(payoffs, num_rounds)
        self.possible_agents = ["player_0", "player_1"]
        self.agents: list[str] = []
        self.observation_spaces = {
            a: spaces.Box(0.0, 1.0, shape=(sum(self.game.num_actions) + 1,), dtype=np.float32)
            for a in self.possible_agents
        }
        self.action_spaces = {a: spaces.Discrete(n) for a, n in zip(self.possible_agents, self.game.num_actions)}
        self._index = {a: i for i, a in enumerate(self.possible_agents)}

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        check_seed(seed, self.metadata["name"])
        self.game.reset()
        self.agents = self.possible_agents[:]
        return {a: self.game.observation(i) for i, a in enumerate(self.agents)}, {a: {} for a in self.agents}

    def step(
        self, actions: dict[str, int]
    ) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict[str, Any]]]:
        if not self.agents:
            raise ValueError("no live agents (the game is over or was never started); call reset() to start one")
        if not isinstance(actions, Mapping):
            raise TypeError(
                f"actions must be a dict with one action per live agent {self.agents}, got {type(actions).__name__}"
            )
        missing = [a for a in self.agents if a not in actions]
        extra = [a for a in actions if a not in self.agents]
        if missing or extra:
            raise ValueError(
                f"actions must hold exactly one action per live agent {self.agents}; missing {missing}, unknown {extra}"
            )
        a0, a1 = (self._action(agent, actions[agent]) for agent in self.possible_agents)
        r0, r1 = self.game.play(a0, a1)
        done = self.game.over
        agents = self.possible_agents
        obs = {a: self.game.observation(i) for i, a in enumerate(agents)}
        rewards = {agents[0]: r0, agents[1]: r1}
        terminations = dict.fromkeys(agents, done)
        truncations = dict.fromkeys(agents, False)
        infos: dict[str, dict[str, Any]] = {a: {} for a in agents}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def _action(self, agent: str, action: object) -> int:
        n = self.game.num_actions[self._index[agent]]
        reject_bool_action(action, agent, n)
        try:
            return operator.index(action)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(
                f"actions must be integers: {agent}'s action must be an integer in 0..{n - 1}, got {action!r}"
            ) from None

    def render(self) -> str | None:
        if self.render_mode is None:
            return None
        last = self.game.last
        return f"round {self.game.round}/{self.game.num_rounds}, last actions {last}"

    def close(self) -> None:
        pass


parallel_env = MatrixGameEnv


def env(**kwargs: Any) -> ParallelEnv:
    """The parallel environment (no wrapper is needed for this game)."""
    return MatrixGameEnv(**kwargs)
