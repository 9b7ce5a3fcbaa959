"""Typed hand-offs from the games to the rollout engine.

A pool answers a reset with a :class:`Decision` and a step with one :class:`StepReport` per game
it stepped. Every array is owned by the report (the games never write into it afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ClosedSeat", "Decision", "Episode", "StepReport"]


@dataclass(slots=True)
class Decision:
    """The seats of one game that must act next, with what each of them sees."""

    seats: list[int]
    """Seat indices (into ``possible_agents``): one in a turn-based game, every live seat in a parallel one."""
    obs: list[np.ndarray]
    """Observation of each seat in ``seats`` (float32; the ``observation`` entry of dict observations)."""
    masks: list[np.ndarray]
    """int8 action mask of each seat in ``seats`` (all ones for games without masks)."""


@dataclass(slots=True)
class ClosedSeat:
    """A seat whose episode ended during a step, with its final view of the game."""

    seat: int
    terminated: bool
    truncated: bool
    obs: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True, slots=True)
class Episode:
    """A finished game."""

    env_id: int
    """The game's index in its pool."""
    returns: np.ndarray
    """Sum of rewards per seat."""
    length: int
    """Env steps (turn-based: single-seat actions; parallel: joint steps)."""
    winner: str | None
    """Winner as reported by the game (a player or seat name), ``None`` for a draw."""
    time_span: float
    """The game's own clock when it reports one (robot delivery: legal moves), else the length."""


@dataclass(slots=True)
class StepReport:
    """What one env step of one game produced."""

    rewards: np.ndarray
    """float64 reward of every seat received during the step (also seats that did not act)."""
    closed: list[ClosedSeat]
    """Seats whose episode ended during the step."""
    episode: Episode | None
    """The finished game when the step ended it (the game has then already been reset)."""
    next: Decision
    """Who acts next: in the same game, or in the new one after an auto-reset."""
