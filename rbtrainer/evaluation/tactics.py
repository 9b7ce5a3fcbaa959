"""Connect-four tactics of an agent: how often it takes an immediate win and blocks the opponent's.

An agent that wins most games can still lose to a random opponent through one kind of mistake:
not playing a column that wins at once, or not blocking the one column where the opponent would
win next. :func:`connect_four_tactics` plays a tournament between the agent and an opponent and
counts, in every position the agent moved in, what was on the board and what it did, per seat.

Positions are sorted in this order: the agent could win at once (a win was *available*); else the
opponent threatened one column (a block was needed); else it threatened two or more (a double
threat: lost against an opponent that takes wins, whatever the agent plays).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gymnasium as gym
import numpy as np

from rbtrainer.agents.base import Agent, Learner, check_discrete, flat_obs_dim
from rbtrainer.evaluation.baselines import CONNECT_FOUR_BIT_OF_CELL, CONNECT_FOUR_COLUMNS, bitboards, connect_four_wins
from rbtrainer.evaluation.tournament import TournamentResult, tournament

if TYPE_CHECKING:
    from rbtrainer.trainer import DecentralizedTrainer

__all__ = ["ConnectFourTactics", "TacticsCount", "TacticsRecorder", "connect_four_tactics", "tactics_table"]

_AGENT, _OPPONENT = "agent", "opponent"


@dataclass(frozen=True, slots=True)
class TacticsCount:
    """What an agent met and did in one seat (see the module docstring)."""

    moves: int
    """Positions the agent moved in."""
    wins_available: int
    """Positions with at least one column that wins at once."""
    wins_taken: int
    """Of those, positions where the agent played such a column."""
    threats: int
    """Positions without a win of its own where the opponent would win in exactly one column."""
    blocks: int
    """Of those, positions where the agent played that column."""
    double_threats: int
    """Positions without a win of its own where the opponent would win in two or more columns."""

    @property
    def win_rate(self) -> float:
        """Share of available wins taken (NaN if there was none)."""
        return self.wins_taken / self.wins_available if self.wins_available else math.nan

    @property
    def block_rate(self) -> float:
        """Share of single threats blocked (NaN if there was none)."""
        return self.blocks / self.threats if self.threats else math.nan


@dataclass(frozen=True, slots=True)
class ConnectFourTactics:
    """The counts of :func:`connect_four_tactics` per seat, and the tournament they come from."""

    first: TacticsCount
    """The agent moving first (seat 0)."""
    second: TacticsCount
    """The agent moving second (seat 1)."""
    result: TournamentResult
    """The games, with the entrants named ``"agent"`` and ``"opponent"``."""

    def table(self) -> str:
        """Both seats' counts as aligned text."""
        return tactics_table({"first": self.first, "second": self.second})


def tactics_table(counts: Mapping[str, TacticsCount]) -> str:
    """Aligned text, one line per labelled count: moves, wins taken, threats blocked, double threats."""
    width = max(6, *(len(label) for label in counts))
    lines = [f"{'':<{width}} {'moves':>6} {'wins taken':>15} {'threats blocked':>17} {'double threats':>15}"]
    for label, c in counts.items():
        lines.append(
            f"{label:<{width}} {c.moves:>6} {f'{c.wins_taken}/{c.wins_available}':>15} "
            f"{f'{c.blocks}/{c.threats}':>17} {c.double_threats:>15}"
        )
    return "\n".join(lines)


class TacticsRecorder(Agent):
    """Plays exactly like ``agent`` and counts, per seat, what it met and did in every connect-four
    position it moved in (put it in a tournament or any game in place of the agent)."""

    def __init__(self, agent: Agent) -> None:
        if not isinstance(agent, Agent):
            raise TypeError(f"agent must be an rbtrainer Agent, got {agent!r}")
        self.agent, self.name = agent, agent.name
        self._tallies = np.zeros((2, 6), dtype=np.int64)  # per seat, in the order of TacticsCount's fields

    @property
    def first(self) -> TacticsCount:
        """Counts of the positions where it moved first (seat 0)."""
        return TacticsCount(*self._tallies[0].tolist())

    @property
    def second(self) -> TacticsCount:
        """Counts of the positions where it moved second (seat 1)."""
        return TacticsCount(*self._tallies[1].tolist())

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        actions, values = check_discrete(action_space), flat_obs_dim(observation_space)
        if (actions, values) != (CONNECT_FOUR_COLUMNS, CONNECT_FOUR_BIT_OF_CELL.size * 2):
            raise ValueError(
                "tactics are counted in connect four only (7 actions, observations of 6x7x2 values); got "
                f"{actions} actions and {values} observation values"
            )
        self.agent.check_spaces(observation_space, action_space)

    def seed(self, seed: int | None) -> None:
        if not isinstance(self.agent, Learner):  # as tournament(): learners keep their generators
            self.agent.seed(seed)

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        action_B = self.agent.act(obs, mask, explore)
        mask_BA = np.asarray(mask)
        own_B, opp_B = bitboards(np.asarray(obs), len(mask_BA), CONNECT_FOUR_BIT_OF_CELL)
        for i, row in enumerate(mask_BA):
            legal = np.flatnonzero(row > 0).tolist()
            if legal:
                self._count(int(own_B[i]), int(opp_B[i]), legal, int(action_B[i]))
        return action_B

    def _count(self, own: int, opp: int, legal: list[int], action: int) -> None:
        board = own | opp
        row = self._tallies[board.bit_count() % 2]  # the first mover always moves on an even number of pieces
        row[0] += 1
        wins = [c for c in legal if connect_four_wins(own, board, c)]
        if wins:
            row[1] += 1
            row[2] += action in wins
            return
        threats = [c for c in legal if connect_four_wins(opp, board, c)]
        if len(threats) == 1:
            row[3] += 1
            row[4] += action == threats[0]
        elif threats:
            row[5] += 1


def connect_four_tactics(
    trainer: DecentralizedTrainer,
    agent: Agent,
    opponent: Agent,
    games_per_seating: int = 100,
    *,
    seed: int | None = None,
) -> ConnectFourTactics:
    """Play ``agent`` against ``opponent`` in both seats (``games_per_seating`` games each, greedy, on
    ``trainer``'s test pool, seeded as :func:`~rbtrainer.evaluation.tournament`) and count its
    tactics per seat. ``trainer`` must run connect four (ours or PettingZoo's ``connect_four_v3``).
    """
    if not isinstance(opponent, Agent):
        raise TypeError(f"opponent must be an rbtrainer Agent, got {opponent!r}")
    recorder = TacticsRecorder(agent)
    if trainer.num_seats != 2:
        raise ValueError(f"connect_four_tactics needs a two-seat connect-four trainer, got {trainer.num_seats} seats")
    recorder.check_spaces(trainer.observation_space(0), trainer.action_space(0))
    result = tournament(trainer, {_AGENT: recorder, _OPPONENT: opponent}, games_per_seating, seed=seed)
    return ConnectFourTactics(recorder.first, recorder.second, result)
