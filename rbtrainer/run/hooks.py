"""The one hook mechanism of a training run.

A run calls back at five events: ``train`` (before every collection phase), ``test`` (before
every test round), ``save_best`` (after a test round whose metric beats the best so far),
``stop`` (after every test round: may training stop?) and ``save_last`` (when the run ends, also
after an interruption). Every callback is turned into one shape, ``f(progress) -> answer``, where
``progress`` is a :class:`~rbtrainer.run.stats.Progress` (episodes, env steps, gradient steps,
metric, the statistics so far):

* a :class:`ProgressHook` (or a function wrapped by :func:`progress_hook`) given as any of the
  seed's hooks receives the progress object itself;
* a plain function keeps the seed's signature (``train_fn(episodes, env_steps)``,
  ``test_fn(episodes, env_steps)``, ``save_best_fn(episodes)``, ``save_last_fn()``,
  ``stop_fn(reward_metric, episodes)``) through an adapter;
* the callback objects of :class:`~rbtrainer.epoch_callbacks.TrainerCallbacks` are adapted the
  same way and fire right after the plain hook of their event.

Every :class:`RunCallback` among them (progress hooks, callback objects) is set up once with the
run's :class:`TrainingContext` before any game is played, so it can refuse a game it cannot serve.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rbtrainer.run.stats import Progress, TrainStats

if TYPE_CHECKING:
    from rbtrainer.agents.base import Agent, Learner
    from rbtrainer.params import TrainerHooks
    from rbtrainer.trainer import DecentralizedTrainer

__all__ = ["EVENTS", "ProgressHook", "RunCallback", "RunHooks", "TrainingContext", "progress_hook"]

EVENTS = ("train", "test", "save_best", "stop", "save_last")
"""The events of a run, each with the seed's hook of that name (``train_fn``, ...)."""

Callback = Callable[[Progress], Any]


@dataclass(frozen=True)
class TrainingContext:
    """What a callback sees when it is set up: the run's trainer, agents, learners and statistics."""

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


class RunCallback:
    """Anything a run sets up once when it starts (progress hooks, callback objects)."""

    def setup(self, context: TrainingContext) -> None:
        """Called once when a run starts, before any game is played (default: nothing)."""


class ProgressHook(RunCallback, ABC):
    """A hook that receives the run's :class:`~rbtrainer.run.stats.Progress` (give it as any of the seed's hooks)."""

    @abstractmethod
    def __call__(self, progress: Progress) -> Any:
        """The hook; as ``stop_fn`` it returns True to stop training."""


class _FunctionHook(ProgressHook):
    def __init__(self, fn: Callable[[Progress], Any]) -> None:
        self.fn = fn

    def __repr__(self) -> str:
        return f"progress_hook({self.fn!r})"

    def __call__(self, progress: Progress) -> Any:
        return self.fn(progress)


def progress_hook(fn: Callable[[Progress], Any]) -> ProgressHook:
    """``fn(progress)`` as a hook: ``trainer.test_fn = progress_hook(lambda p: print(p.env_steps))``."""
    if not callable(fn):
        raise TypeError(f"progress_hook needs a callable taking a Progress, got {fn!r}")
    return _FunctionHook(fn)


def _seed_adapter(event: str, fn: Callable[..., Any]) -> Callback:
    """``fn`` with the seed's signature for ``event``, called with a progress object."""
    if isinstance(fn, ProgressHook):
        return fn
    if event in ("train", "test"):
        return lambda p: fn(p.episodes, p.env_steps)
    if event == "save_best":
        return lambda p: fn(p.episodes)
    if event == "stop":
        return lambda p: fn(p.reward_metric, p.episodes)
    return lambda p: fn()


def stop_answer(hook: str, value: Any) -> bool:
    """What a stop hook returned, checked: a bool (``'no'`` would be truthy and stop training)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{hook} must return True or False, got {value!r}")
    return bool(value)


@dataclass
class RunHooks:
    """A run's callbacks by event, each taking a progress object, with the names errors give."""

    events: dict[str, list[tuple[str, Callback]]] = field(default_factory=lambda: {e: [] for e in EVENTS})
    setups: list[RunCallback] = field(default_factory=list)

    @classmethod
    def build(cls, hooks: TrainerHooks, context: TrainingContext) -> RunHooks:
        """The run's callbacks: each seed hook (adapted), then the callback object of its event."""
        out = cls()
        adapted = hooks.callbacks.as_hooks(context) if hooks.callbacks is not None else {}
        for event in EVENTS:
            fn = getattr(hooks, f"{event}_fn")
            if fn is not None:
                out.events[event].append((f"{event}_fn", _seed_adapter(event, fn)))
                if isinstance(fn, RunCallback):  # a callback object may serve as a plain hook
                    out.setups.append(fn)
            out.events[event].extend(adapted.get(event, []))
        if hooks.callbacks is not None:
            out.setups.extend(hooks.callbacks.all())
        out.setups = list(dict.fromkeys(out.setups))  # once each
        return out

    def setup(self, context: TrainingContext) -> None:
        for callback in self.setups:
            callback.setup(context)

    def fire(self, event: str, progress: Progress) -> None:
        for _, callback in self.events[event]:
            callback(progress)

    def should_stop(self, progress: Progress) -> bool:
        """Whether any stop hook says stop (every one is asked)."""
        stop = False
        for name, callback in self.events["stop"]:
            stop = stop_answer(name, callback(progress)) or stop
        return stop
