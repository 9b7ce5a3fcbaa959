"""Callback objects, in the shape of Tianshou's ``TrainerCallbacks``.

They are the run's one hook mechanism (:mod:`rbtrainer.run.hooks`) in Tianshou's shape: a callback
object sees the numbers of its event and a :class:`TrainingContext` (the trainer, the agents and
learners of the run, and the statistics so far). Give them as
``DecentralizedTrainer(callbacks=TrainerCallbacks(...))`` (or assign ``trainer.callbacks``).
Each fires right after the plain hook of its event: the train callback before every collection
phase, the test callback before every test round, the stop callback after it (training stops
when the stop hook or the stop callback says so). Every callback's :meth:`EpochCallback.setup`
runs once when a run starts, before any game is played, so a callback can refuse a game it
cannot serve.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rbtrainer.run.hooks import RunCallback, TrainingContext
from rbtrainer.run.stats import Progress

__all__ = [
    "EpochCallback",
    "EpochStopCallback",
    "EpochTestCallback",
    "EpochTrainCallback",
    "TrainerCallbacks",
    "TrainingContext",
]


class EpochCallback(RunCallback):
    """What every callback object has: a check when a run starts (:meth:`setup`)."""


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


def _metric(progress: Progress) -> float:
    """The metric of the test round a stop callback follows."""
    if progress.reward_metric is None:
        raise RuntimeError("a stop callback was asked before any test round")
    return progress.reward_metric


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

    def as_hooks(self, context: TrainingContext) -> dict[str, list[tuple[str, Callable[[Progress], Any]]]]:
        """The callbacks as progress callbacks by event (:class:`rbtrainer.run.hooks.RunHooks`), named for errors."""
        out: dict[str, list[tuple[str, Callable[[Progress], Any]]]] = {}
        train, test, stop = self.epoch_train_callback, self.epoch_test_callback, self.epoch_stop_callback
        if train is not None:
            out["train"] = [("epoch_train_callback", lambda p: train.callback(p.episodes, p.env_steps, context))]
        if test is not None:
            out["test"] = [("epoch_test_callback", lambda p: test.callback(p.episodes, p.env_steps, context))]
        if stop is not None:
            out["stop"] = [("epoch_stop_callback.should_stop", lambda p: stop.should_stop(_metric(p), context))]
        return out
