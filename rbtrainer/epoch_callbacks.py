"""Callback objects, in the shape of Tianshou's ``TrainerCallbacks``, beside the plain hooks.

The plain hooks (``train_fn(episodes, env_steps)``, ``test_fn``, ``stop_fn(metric, episodes)``)
see two numbers. A callback object sees a :class:`TrainingContext`: the trainer, the agents and
learners of the run, and the statistics so far. Give them as
``DecentralizedTrainer(callbacks=TrainerCallbacks(...))`` (or assign ``trainer.callbacks``).
Each fires right after its plain hook: the train callback before every collection phase, the
test callback before every test round, the stop callback after it (training stops when the stop
hook or the stop callback says so). Every callback's :meth:`EpochCallback.setup` runs once when a
run starts, before any game is played, so a callback can refuse a game it cannot serve.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rbtrainer.agents.base import Agent, Learner
    from rbtrainer.trainer import DecentralizedTrainer, TrainStats

__all__ = [
    "EpochCallback",
    "EpochStopCallback",
    "EpochTestCallback",
    "EpochTrainCallback",
    "TrainerCallbacks",
    "TrainingContext",
]


@dataclass(frozen=True)
class TrainingContext:
    """What a callback object sees: the run's trainer, agents, learners and statistics so far."""

    trainer: DecentralizedTrainer
    agents: tuple[Agent, ...]
    """Every distinct agent seated in the run's training envs."""
    learners: tuple[Learner, ...]
    """The agents that learn in this run."""
    stats: TrainStats
    """The run's statistics, updated as it goes (the object ``train()`` returns)."""

    @property
    def episodes(self) -> int:
        return self.stats.collected_episodes

    @property
    def env_steps(self) -> int:
        return self.stats.collected_steps


class EpochCallback:
    """What every callback object has: a check when a run starts."""

    def setup(self, context: TrainingContext) -> None:
        """Called once when a run starts, before any game is played (default: nothing)."""


class EpochTrainCallback(EpochCallback, ABC):
    """Called before each collection phase (after ``train_fn``)."""

    @abstractmethod
    def callback(self, episodes: int, env_steps: int, context: TrainingContext) -> None: ...


class EpochTestCallback(EpochCallback, ABC):
    """Called before each test round (after ``test_fn``)."""

    @abstractmethod
    def callback(self, episodes: int, env_steps: int, context: TrainingContext) -> None: ...


class EpochStopCallback(EpochCallback, ABC):
    """Asked after each test round whether training should stop."""

    @abstractmethod
    def should_stop(self, reward_metric: float, context: TrainingContext) -> bool:
        """True to stop training; ``reward_metric`` is the test round's."""


@dataclass
class TrainerCallbacks:
    """The callback objects of a trainer (any of them may be ``None``)."""

    epoch_train_callback: EpochTrainCallback | None = None
    epoch_test_callback: EpochTestCallback | None = None
    epoch_stop_callback: EpochStopCallback | None = None

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Each field holds a callback of its kind or ``None`` (also checked when a run starts)."""
        for name, kind in (
            ("epoch_train_callback", EpochTrainCallback),
            ("epoch_test_callback", EpochTestCallback),
            ("epoch_stop_callback", EpochStopCallback),
        ):
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise TypeError(f"{name} must be an {kind.__name__} (rbtrainer.epoch_callbacks) or None, got {value!r}")

    def all(self) -> list[EpochCallback]:
        return [
            c for c in (self.epoch_train_callback, self.epoch_test_callback, self.epoch_stop_callback) if c is not None
        ]
