"""Reward metrics and evaluation summaries of finished episodes."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rbtrainer.envs import Episode
from rbtrainer.validation import returned_real

__all__ = ["RewardMetric", "TestResult", "mean_reward", "summarize"]

RewardMetric = Callable[[np.ndarray], float]
"""Maps episode returns ``rewards[num_episodes, num_seats]`` to one number."""


def mean_reward(rewards: np.ndarray) -> float:
    """Default metric: the mean episode return over all episodes and seats."""
    return float(np.mean(rewards))


@dataclass(frozen=True)
class TestResult:
    """Outcome of one test round."""

    __test__ = False  # not a pytest test class

    reward_metric: float
    """The trainer's reward metric over ``rewards``."""
    mean_episode_length: float
    """Mean env steps per episode."""
    per_seat_rewards: np.ndarray
    """Mean episode return of each seat (``per_agent_rewards`` is the old name)."""
    rewards: np.ndarray
    """Episode returns, shape ``(num_episodes, num_seats)``."""
    num_episodes: int
    illegal_actions: int = 0
    """Actions outside the action mask (0 for agents that honour masks)."""
    wins: dict[str, int] | None = None
    """With ``eval_metrics``: games won per player (as the game names its winners)."""
    draws: int | None = None
    """With ``eval_metrics``: games without a winner."""
    mean_time_span: float | None = None
    """With ``eval_metrics``: mean game time span over games that had a winner (NaN if none)."""
    winners: list[str | None] = field(default_factory=list)
    """Winner of each episode, in the order of ``rewards``."""
    groups: dict[str, TestResult] = field(default_factory=dict)
    """Per env group, when ``test()`` was given :class:`~rbtrainer.seating.EnvGroup` objects."""

    @property
    def per_agent_rewards(self) -> np.ndarray:
        """Old name of :attr:`per_seat_rewards` (the values are per seat)."""
        return self.per_seat_rewards


def summarize(
    episodes: Sequence[Episode],
    metric: RewardMetric,
    eval_metrics: bool,
    players: Sequence[str],
    illegal_actions: int = 0,
) -> TestResult:
    """Reduce finished episodes (in a deterministic order) to a :class:`TestResult`."""
    ordered = sorted(episodes, key=lambda e: e.env_id)  # stable: keeps each env's own order
    rewards = np.stack([e.returns for e in ordered]) if ordered else np.zeros((0, len(players)))
    value = returned_real("reward_metric", metric(rewards))
    result = TestResult(
        reward_metric=value,
        mean_episode_length=float(np.mean([e.length for e in ordered])) if ordered else 0.0,
        per_seat_rewards=rewards.mean(axis=0) if ordered else np.zeros(rewards.shape[1]),
        rewards=rewards,
        num_episodes=len(ordered),
        illegal_actions=illegal_actions,
        winners=[e.winner for e in ordered],
    )
    if not eval_metrics:
        return result
    counts = Counter(e.winner for e in ordered if e.winner is not None)
    wins = {p: counts.get(p, 0) for p in players}
    wins.update({w: n for w, n in counts.items() if w not in wins})
    spans = [e.time_span for e in ordered if e.winner is not None]
    return dataclasses.replace(
        result,
        wins=wins,
        draws=sum(e.winner is None for e in ordered),
        mean_time_span=float(np.mean(spans)) if spans else float("nan"),
    )
