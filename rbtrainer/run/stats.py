"""What a training run reports: its statistics (:class:`TrainStats`) and where it stands (:class:`Progress`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rbtrainer.evaluation.panel import PanelRound
from rbtrainer.league import LeagueCurve

__all__ = ["GroupCurve", "Progress", "TrainStats"]


@dataclass
class GroupCurve:
    """One env group's test results over training."""

    reward_metric_history: list[float] = field(default_factory=list)
    """Reward metric of the group's test episodes at each test round."""
    per_seat_rewards: list[list[float]] = field(default_factory=list)
    """Mean test return of each seat at each test round."""
    mean_episode_lengths: list[float] = field(default_factory=list)


@dataclass
class TrainStats:
    """What ``train()`` returns."""

    reward_metric_history: list[float] = field(default_factory=list)
    """Reward metric of each test round (the first one is before any training)."""
    test_episodes: list[int] = field(default_factory=list)
    """Collected training episodes at each test round."""
    test_steps: list[int] = field(default_factory=list)
    """Collected env steps at each test round."""
    per_seat_rewards: list[list[float]] = field(default_factory=list)
    """Mean test return of each seat at each test round (``per_agent_rewards`` is the old name)."""
    mean_episode_lengths: list[float] = field(default_factory=list)
    """Mean test episode length at each test round."""
    best_reward_metric: float = -math.inf
    best_episode: int = 0
    """Collected training episodes when the best metric was reached."""
    collected_steps: int = 0
    collected_episodes: int = 0
    gradient_steps: int = 0
    training_time: float = 0.0
    """Wall-clock seconds of the whole ``train()`` call, tests included."""
    test_time: float = 0.0
    """Seconds spent in test rounds."""
    illegal_actions: int = 0
    """Actions outside the action mask while training (0 when every agent honours masks)."""
    stopped_early: bool = False
    """``stop_fn`` ended training before its budget."""
    interrupted: bool = False
    """:meth:`DecentralizedTrainer.request_stop` ended training (a signal, in ``rbtrainer train``)."""
    state_path: str | None = None
    """The last training-state file written (``train(..., resume=...)`` continues from it)."""
    plot_path: str | None = None
    groups: dict[str, GroupCurve] = field(default_factory=dict)
    """Per env group (when ``train()`` was given :class:`~rbtrainer.seating.EnvGroup` objects)."""
    league: LeagueCurve | None = None
    """The league's pool and per-opponent scores (when ``train()`` was given a :class:`~rbtrainer.league.League`)."""
    panel: list[PanelRound] = field(default_factory=list)
    """The evaluation panel's results at each test round (when the run has a panel)."""

    @property
    def per_agent_rewards(self) -> list[list[float]]:
        """Old name of :attr:`per_seat_rewards` (the values are per seat)."""
        return self.per_seat_rewards

    @property
    def steps_per_second(self) -> float:
        """Collected env steps per second of training time (tests excluded)."""
        busy = self.training_time - self.test_time
        return self.collected_steps / busy if busy > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a training run stands: what :meth:`TrainingRun.step <rbtrainer.run.TrainingRun.step>`
    returns, and what every :class:`~rbtrainer.run.hooks.ProgressHook` receives."""

    episodes: int
    """Training episodes collected so far."""
    env_steps: int
    """Env steps collected so far."""
    gradient_steps: int
    """Gradient steps taken so far."""
    episodes_per_train: int | None
    """The run's episode budget (``None``: none)."""
    tested: bool
    """A test round ran (during this step, or just now for the hooks that follow one)."""
    reward_metric: float | None
    """The reward metric of that test round (``None`` when none ran)."""
    done: bool
    """The run needs no further step (budget reached, ``stop_fn`` or a stop request)."""
    max_env_steps: int | None = None
    """The run's step budget (``None``: none)."""
    stats: TrainStats | None = None
    """The run's statistics so far (the object ``train()`` returns)."""

    @property
    def fraction(self) -> float:
        """Share of the nearer budget collected (at most 1)."""
        shares = []
        if self.episodes_per_train is not None:
            shares.append(self.episodes / self.episodes_per_train)
        if self.max_env_steps is not None:
            shares.append(self.env_steps / self.max_env_steps)
        return min(1.0, max(shares, default=0.0))

    @property
    def best_reward_metric(self) -> float:
        """The best test metric so far (``-inf`` before the first test round)."""
        return -math.inf if self.stats is None else self.stats.best_reward_metric
