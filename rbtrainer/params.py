"""The typed parameters of a trainer: its settings, its hooks (with the callback objects) and its logger.

:class:`TrainerParams` is the one object a :class:`~rbtrainer.trainer.DecentralizedTrainer` is
made of besides its game; the seed's constructor arguments build it, and a training run reads it.
Each part checks its own fields; :meth:`TrainerParams.check` holds the checks across parts and
runs again when a run starts (hooks may be assigned after construction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from rbtrainer.config import TrainerConfig
from rbtrainer.epoch_callbacks import TrainerCallbacks
from rbtrainer.evaluation.panel import PanelConfig
from rbtrainer.logs import TrainingLogger
from rbtrainer.metrics import RewardMetric, mean_reward
from rbtrainer.validation import optional_callable

__all__ = ["HOOK_NAMES", "TrainerConfig", "TrainerHooks", "TrainerParams", "as_panel"]

HOOK_NAMES = ("train_fn", "test_fn", "save_best_fn", "save_last_fn", "stop_fn", "reward_metric")
"""The seed's hooks, in the order a training state lists their own states."""


def _check_callbacks(value: Any) -> TrainerCallbacks | None:
    if value is None:
        return None
    if not isinstance(value, TrainerCallbacks):
        raise TypeError(f"callbacks must be an rbtrainer.epoch_callbacks.TrainerCallbacks or None, got {value!r}")
    value.check()  # its fields may have been assigned since it was built
    return value


def _check_logger(value: Any) -> TrainingLogger | None:
    if value is not None and not isinstance(value, TrainingLogger):
        raise TypeError(
            f"logger must be an rbtrainer.logs.TrainingLogger (CSVLogger, TensorBoardLogger) or None, got {value!r}"
        )
    return value


@dataclass(kw_only=True)
class TrainerHooks:
    """What a run calls back: the seed's plain hooks and the callback objects.

    Every hook may be a plain function with the seed's signature or a
    :class:`~rbtrainer.run.hooks.ProgressHook`, which receives one
    :class:`~rbtrainer.run.stats.Progress` instead (see :mod:`rbtrainer.run.hooks`).
    """

    train_fn: Callable[..., Any] | None = None
    """``f(num_collected_episodes, num_collected_steps)`` before every collection phase."""
    test_fn: Callable[..., Any] | None = None
    """``f(num_collected_episodes, num_collected_steps)`` before every test round."""
    save_best_fn: Callable[..., Any] | None = None
    """``f(num_collected_episodes)`` when a test round's metric beats the best so far."""
    save_last_fn: Callable[..., Any] | None = None
    """``f()`` when training ends (also after an interruption)."""
    stop_fn: Callable[..., Any] | None = None
    """``f(reward_metric, num_collected_episodes) -> bool`` after each test round."""
    reward_metric: RewardMetric = mean_reward
    """``f(rewards[num_episodes, num_seats]) -> float`` reducing a test round's returns."""
    callbacks: TrainerCallbacks | None = None
    """Callback objects receiving a training context (:mod:`rbtrainer.epoch_callbacks`)."""

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Each field holds what it should (hooks may be assigned after construction: checked when a run starts)."""
        for name in HOOK_NAMES[:-1]:
            optional_callable(name, getattr(self, name))
        self.reward_metric = optional_callable("reward_metric", self.reward_metric) or mean_reward
        _check_callbacks(self.callbacks)

    def stateful(self) -> dict[str, Any]:
        """Hooks that carry state of their own (``state_dict`` / ``load_state_dict``), by name."""
        return {
            name: hook
            for name in HOOK_NAMES
            if callable(getattr(hook := getattr(self, name), "state_dict", None))
            and callable(getattr(hook, "load_state_dict", None))
        }


@dataclass(kw_only=True)
class TrainerParams:
    """Everything a trainer is besides its game: settings, hooks and logger."""

    settings: TrainerConfig = field(default_factory=TrainerConfig)
    """The settings."""
    hooks: TrainerHooks = field(default_factory=TrainerHooks)
    """The hooks and callback objects."""
    logger: TrainingLogger | None = None
    """Where test rounds and update phases are logged (:mod:`rbtrainer.logs`; None: nowhere)."""
    panel: PanelConfig | Literal[False] | None = None
    """The evaluation panel of every test round (:mod:`rbtrainer.evaluation.panel`); ``None``: the game's
    default panel when one learner plays every seat (self-play, or a league) and no reward metric is given, else none;
    ``False``: no panel, not even the default one."""

    def __post_init__(self) -> None:
        if not isinstance(self.settings, TrainerConfig):
            raise TypeError(f"settings must be a TrainerConfig, got {self.settings!r}")
        if not isinstance(self.hooks, TrainerHooks):
            raise TypeError(f"hooks must be a TrainerHooks, got {self.hooks!r}")
        self.check()

    def check(self) -> None:
        """The checks across parts, run at construction and again when a run or a test starts."""
        self.hooks.check()
        _check_logger(self.logger)
        self.panel = as_panel(self.panel)


def as_panel(value: Any) -> PanelConfig | Literal[False] | None:
    """A panel setting: a :class:`PanelConfig`, a list of agent specs (a panel with default settings), ``None``
    (the game's default panel where it applies) or ``False`` (none)."""
    if value is None or value is False or isinstance(value, PanelConfig):
        return value
    if isinstance(value, (list, tuple)):
        return PanelConfig(opponents=tuple(value))
    raise TypeError(
        f"panel must be a PanelConfig, a list of agent specs such as ['random'], None or False, got {value!r}"
    )
