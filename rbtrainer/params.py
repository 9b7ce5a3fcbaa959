"""The typed parameters of a trainer: its settings, its hooks (with the callback objects) and its logger.

:class:`TrainerParams` is the one object a :class:`~rbtrainer.trainer.DecentralizedTrainer` is
made of besides its game; the seed's constructor arguments build it, and a training run reads it.
Each part checks its own fields; :meth:`TrainerParams.check` holds the checks across parts and
runs again when a run starts (hooks may be assigned after construction).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from rbtrainer.envs import BACKENDS
from rbtrainer.epoch_callbacks import TrainerCallbacks
from rbtrainer.evaluation.panel import PanelConfig
from rbtrainer.logs import TrainingLogger
from rbtrainer.metrics import RewardMetric, mean_reward
from rbtrainer.validation import (
    MAX_ENVS,
    boolean,
    file_name,
    non_negative_int,
    not_a_file,
    number_in,
    optional_callable,
    positive_int,
)

__all__ = ["HOOK_NAMES", "TrainerConfig", "TrainerHooks", "TrainerParams", "as_panel"]

HOOK_NAMES = ("train_fn", "test_fn", "save_best_fn", "save_last_fn", "stop_fn", "reward_metric")
"""The seed's hooks, in the order a training state lists their own states."""


@dataclass(kw_only=True)
class TrainerConfig:
    """Settings of a :class:`~rbtrainer.trainer.DecentralizedTrainer` (everything but the game and the hooks)."""

    num_train_envs: int = 16
    """Games played side by side while training."""
    num_test_envs: int = 16
    """Games played side by side while testing."""
    batch_size: int = 64
    """Gradient minibatch size."""
    update_freq: int = 100
    """Env steps collected between two policy updates."""
    test_freq: int = 100
    """Training episodes between two test rounds."""
    episodes_per_train: int | None = 5000
    """Training episodes to collect in ``train()`` (``None``: no episode budget, ``max_env_steps`` is the budget)."""
    max_env_steps: int | None = None
    """Env steps to collect in ``train()`` (``None``: no step budget). With both budgets, the first one reached ends
    training; a run stops at the end of the collection phase that reaches it."""
    episodes_per_test: int = 50
    """Episodes per test round (spread evenly over the test envs)."""
    update_per_step: float = 0.1
    """Gradient steps per collected env step for off-policy learners."""
    shared_memory: bool = True
    """Learners also store the transitions of the other seats they are compatible with."""
    seed: int | None = None
    """Seed of the env pools (agents carry their own seeds); ``None``: drawn at random once."""
    backend: str = "dummy"
    """Env pool: ``dummy`` (this process), ``subproc`` (a process per env) or ``ray``."""
    batch_games: bool = True
    """On the ``dummy`` backend, step a registry game that has a batch-native twin (robot delivery)
    as arrays, many games in one call (same games, same statistics; see rbtrainer.envs.batch_pool)."""
    plot_dir: str = "plots"
    """Where ``train(plot=True)`` writes its figure."""
    plot_name: str | None = None
    """File name of the figure (default ``<game>_training.png``)."""
    progress_bar: bool | None = True
    """Show a tqdm progress bar while training (None: only when stderr is a terminal)."""
    torch_threads: int | None = 1
    """Torch CPU threads during train()/test(), restored afterwards (None: leave torch's setting)."""
    state_path: str | None = None
    """Training-state file, written every state_every test rounds and when a stop is requested (None: never)."""
    state_every: int = 1
    """Test rounds between two training-state files."""
    state_memory: bool | None = None
    """Put the learners' replay memories in training states (None: only while they hold at most 1 GiB together)."""
    overlap: bool = False
    """Collect each phase while the learners update on the previous one (off-policy learners, one
    collection phase of policy lag; see the module rbtrainer.overlap)."""
    check_finite: bool = True
    """Refuse NaN or infinite rewards and observations from the game: a :class:`~rbtrainer.envs.GameError`
    naming the game, the seat and the step, before anything reaches a memory (False: skip the check, about 3 %
    more env steps per second on robot delivery; see rbtrainer.rollout)."""

    step_timeout: float | None = 60.0
    """Seconds a worker of the ``subproc`` or ``ray`` backend may take to answer one step, reset or restore of its
    games; a worker stuck longer is killed and its games raise a :class:`~rbtrainer.envs.GameError` naming the envs
    and the worker (None: wait forever). Only worker backends honour it: on ``dummy`` the games run in this process,
    where a stuck game cannot be interrupted. Also bounds how long closing a pool waits for its workers (at most
    10 s)."""

    def __post_init__(self) -> None:
        for name in (
            "num_train_envs",
            "num_test_envs",
            "batch_size",
            "update_freq",
            "test_freq",
            "episodes_per_test",
            "state_every",
        ):
            positive_int(name, getattr(self, name))
        for name in ("episodes_per_train", "max_env_steps"):
            if getattr(self, name) is not None:
                positive_int(name, getattr(self, name))
        if self.episodes_per_train is None and self.max_env_steps is None:
            raise ValueError("episodes_per_train and max_env_steps are both None: give at least one training budget")
        if self.state_path is not None:
            if not isinstance(self.state_path, (str, os.PathLike)) or not os.fspath(self.state_path):
                raise TypeError(f"state_path must be a file path or None, got {self.state_path!r}")
            self.state_path = os.fspath(self.state_path)
        if self.state_memory is not None:
            boolean("state_memory", self.state_memory)
        boolean("overlap", self.overlap)
        boolean("check_finite", self.check_finite)
        if self.step_timeout is not None:
            week = 7 * 24 * 3600.0  # far past any game step
            number_in("step_timeout (seconds; None waits forever)", self.step_timeout, 0.0, week, low_open=True)
        boolean("batch_games", self.batch_games)
        number_in("update_per_step", self.update_per_step, 0.0, 1000.0)
        boolean("shared_memory", self.shared_memory)
        if self.progress_bar is not None:
            boolean("progress_bar", self.progress_bar)
        if self.seed is not None:
            non_negative_int("seed", self.seed)
        if self.torch_threads is not None:
            positive_int("torch_threads", self.torch_threads)
            cores = os.cpu_count() or 1
            # Threads beyond the cores only time-share them (8 per core is far past any speed-up), and a count
            # far beyond the machine aborts the whole process inside OpenMP at the first update. The floor of 64
            # keeps a config written on a larger machine usable here: 64 idle-ish threads cost only their stacks.
            most = max(64, 8 * cores)
            if self.torch_threads > most:
                raise ValueError(
                    f"torch_threads must be at most {most} on this machine ({cores} CPU cores: at most "
                    f"max(64, 8 per core)), got {self.torch_threads:,}; use about one per core, or None to leave "
                    "torch's own setting"
                )
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        for name in ("num_train_envs", "num_test_envs"):
            if getattr(self, name) > MAX_ENVS:
                raise ValueError(f"{name} must be at most {MAX_ENVS:,}, got {getattr(self, name):,}")
        if not isinstance(self.plot_dir, (str, os.PathLike)) or not os.fspath(self.plot_dir):
            raise TypeError(f"plot_dir must be a directory path, got {self.plot_dir!r}")
        self.plot_dir = not_a_file("plot_dir", os.fspath(self.plot_dir))  # writable: checked when a run plots
        if self.plot_name is not None:
            file_name("plot_name", self.plot_name)

    def budget_reached(self, episodes: int, env_steps: int) -> bool:
        """Whether a run that collected this much has met one of its budgets."""
        return (self.episodes_per_train is not None and episodes >= self.episodes_per_train) or (
            self.max_env_steps is not None and env_steps >= self.max_env_steps
        )


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
