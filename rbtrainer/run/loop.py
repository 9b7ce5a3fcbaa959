"""The training loop: one ``train()`` advanced a collection phase at a time.

:meth:`DecentralizedTrainer.start <rbtrainer.trainer.DecentralizedTrainer.start>` checks its
arguments as ``train()`` does and returns a :class:`TrainingRun`. Each :meth:`TrainingRun.step`
runs one *phase*: the ``train`` hooks, ``update_freq`` env steps of collection, the learners'
update, and the test round (with the ``test``, ``save_best`` and ``stop`` hooks and the training
state) when one is due; the first step also runs the test round before any training. Between
steps the caller's own code runs (plots in a notebook, a custom schedule, an evaluation). Stepping
to the end and closing gives exactly the statistics ``train()`` returns, since ``train()`` is this
loop.

The run owns the loop's counters, its test records, logging, plotting and its training state
(:mod:`rbtrainer.run.state`); the trainer hands it what it built in a :class:`RunSetup`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from rbtrainer.agents.base import Learner, unique_name
from rbtrainer.league import League
from rbtrainer.logs import panel_values, test_values
from rbtrainer.overlap import OverlappedUpdates
from rbtrainer.plotting import plot_training_curves
from rbtrainer.rng import generator_states, set_generator_states
from rbtrainer.run.hooks import RunHooks, TrainingContext
from rbtrainer.run.state import LoopPosition, RunKey, RunState, write_training_state
from rbtrainer.run.stats import GroupCurve, Progress, TrainStats

if TYPE_CHECKING:
    from rbtrainer.envs import GameInfo
    from rbtrainer.evaluation.panel import EvaluationPanel
    from rbtrainer.logs import TrainingLogger
    from rbtrainer.metrics import TestResult
    from rbtrainer.params import TrainerParams
    from rbtrainer.rollout import Engine
    from rbtrainer.seating import SeatPlan
    from rbtrainer.trainer import DecentralizedTrainer

__all__ = ["MEMORY_IN_STATE_LIMIT", "RunSetup", "StopRequest", "TrainingRun", "torch_threads"]

logger = logging.getLogger(__name__)

MEMORY_IN_STATE_LIMIT = 2**30
"""Replay memories above this many bytes (together) are left out of training states by default."""

CONSTANT_ROUNDS = 3
"""Test rounds after which a constant metric of constant-sum self-play is warned about."""


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run a block with ``count`` torch CPU threads, then restore the previous setting."""
    if count is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class StopRequest:
    """A flag a signal handler may set: the run stops after its current collection phase."""

    __slots__ = ("requested",)

    def __init__(self) -> None:
        self.requested = False


@dataclass(frozen=True, slots=True)
class RunSetup:
    """What the trainer hands a run: the checked plans, the parameters, the game and the engine."""

    trainer: DecentralizedTrainer
    """The trainer (callbacks see it in their :class:`~rbtrainer.run.hooks.TrainingContext`)."""
    params: TrainerParams
    game: GameInfo
    game_name: str
    key: RunKey
    """What identifies this run in its training states."""
    train_seeds: Sequence[int]
    """Seeds of the training envs."""
    engine: Engine
    """The rollout engine of the training pool."""
    test_round: Callable[[SeatPlan, bool], TestResult]
    """Plays a test round of a plan (``eval_metrics`` second) and summarizes it."""
    stop: StopRequest
    plan: SeatPlan
    learners: list[Learner]
    test_plan: SeatPlan
    state: RunState | None
    """The training state to resume from (``None``: a new run)."""
    state_file: str | None
    """The file ``state`` was read from (errors name it)."""
    plot: bool
    panel: EvaluationPanel | None = None
    """The evaluation panel of every test round (``None``: none)."""
    constant_sum_self_play: bool = False
    """One learner fills every seat of a constant-sum game (a mean-return metric stays constant)."""


class TrainingRun:
    """One training run, advanced by :meth:`step` (or by iterating over it) and ended by :meth:`close`.

    Use it as a context manager, so that an error inside a step still fires ``save_last_fn`` and
    flushes the logs::

        with trainer.start(agents, [True, False]) as run:
            for progress in run:
                if progress.tested:
                    print(progress.episodes, progress.reward_metric)
        stats = run.stats

    :meth:`close` before the run is done ends it as
    :meth:`~rbtrainer.trainer.DecentralizedTrainer.request_stop` does (training state written,
    ``TrainStats.interrupted`` set).
    """

    def __init__(self, setup: RunSetup) -> None:
        self._setup = setup
        self._cfg = setup.params.settings
        self._plan, self._learners, self._engine = setup.plan, setup.learners, setup.engine
        self._closed = False
        self._step_began: float | None = None
        began = time.perf_counter()
        self.stats: TrainStats
        """The statistics so far (the same object :meth:`close` returns)."""
        state = setup.state
        if state is None:
            self.stats = TrainStats()
            self._engine.start(setup.train_seeds)
            if self._plan.rotation is not None:
                self._plan.rotation.begin(self._plan)
                if isinstance(self._plan.rotation, League):
                    self.stats.league = self._plan.rotation.curve
            self._position = LoopPosition(next_test=self._cfg.test_freq, tests=0)
        else:
            self._restore(state)
        self._overlap = OverlappedUpdates(self._plan, self._learners, setup.key.seed) if self._cfg.overlap else None
        self._first_test_due = state is None
        self._untrained_best: Progress | None = None
        """With a panel metric, the round before training: "best" only if no other round follows."""
        self.context = TrainingContext(setup.trainer, tuple(self._plan.agents), tuple(self._learners), self.stats)
        """What callback objects see (:mod:`rbtrainer.epoch_callbacks`)."""
        self._hooks = RunHooks.build(setup.params.hooks, self.context)
        self._hooks.setup(self.context)  # once each, before any game is played
        self._log_names: list[str] = []  # learners by name in the logs, repeats numbered
        for learner in self._learners:
            self._log_names.append(unique_name(learner.name, self._log_names))
        if setup.params.logger is not None:
            setup.params.logger.begin(None if state is None else self.stats.collected_steps)
        self._bar = self._progress_bar()
        self._elapsed = self.stats.training_time + time.perf_counter() - began

    def _restore(self, state: RunState) -> None:
        plan = self._plan
        league = plan.rotation if isinstance(plan.rotation, League) else None
        if league is not None:  # its snapshots join the plan before their generators are restored
            if state.league is None:
                raise ValueError("this training state holds no league (checked by RunKey.mismatch)")
            league.load_training_state(state.league, plan)
        for agent, saved in zip(plan.agents, state.generators):
            set_generator_states(agent, saved)
        accept = self._setup.key.accept_changes
        for learner, saved in zip(self._learners, state.learners):
            settings = learner.run_settings() if accept else None
            try:
                learner.load_training_state(saved)
            except ValueError as err:  # e.g. other network shapes: say which file
                raise ValueError(f"{self._setup.state_file}: {err}") from None
            if settings is not None:  # this run's values, not those the state brought back (lr)
                learner.apply_run_settings(settings)
        hooks = self._setup.params.hooks.stateful()
        for name, saved in state.hooks.items():
            hooks[name].load_state_dict(saved)
        self._engine.restore(state.engine)
        self.stats = dataclasses.replace(state.stats, league=None if league is None else league.curve)
        self.stats.interrupted, self.stats.state_path = False, None
        self._position = dataclasses.replace(state.position)
        logger.info("resumed at %d episodes", self.stats.collected_episodes)

    def _progress_bar(self) -> Any:
        cfg, stats = self._cfg, self.stats
        show = cfg.progress_bar if cfg.progress_bar is not None else sys.stderr.isatty()
        if cfg.episodes_per_train is not None:
            bar = tqdm(total=cfg.episodes_per_train, disable=not show, unit="ep", desc="train")
            bar.update(min(stats.collected_episodes, cfg.episodes_per_train))
        else:
            bar = tqdm(total=cfg.max_env_steps, disable=not show, unit="step", desc="train")
            bar.update(min(stats.collected_steps, cfg.max_env_steps or 0))
        return bar

    # ------------------------------------------------------------------ state
    @property
    def done(self) -> bool:
        """No further step is needed: a budget is reached, ``stop_fn`` said stop, or a stop was requested."""
        stats = self.stats
        return self._budget_reached or stats.stopped_early or self._setup.stop.requested

    @property
    def _budget_reached(self) -> bool:
        return self._cfg.budget_reached(self.stats.collected_episodes, self.stats.collected_steps)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def position(self) -> LoopPosition:
        """Where the loop stands (next test round, test rounds run, gradient steps owed with overlap): a copy."""
        return dataclasses.replace(self._position)

    def _progress(self, metric: float | None, tested: bool | None = None) -> Progress:
        stats = self.stats
        return Progress(
            episodes=stats.collected_episodes,
            env_steps=stats.collected_steps,
            gradient_steps=stats.gradient_steps,
            episodes_per_train=self._cfg.episodes_per_train,
            tested=metric is not None if tested is None else tested,
            reward_metric=metric,
            done=self.done,
            max_env_steps=self._cfg.max_env_steps,
            stats=stats,
        )

    # ------------------------------------------------------------------- loop
    def step(self) -> Progress:
        """Run one phase (collection, update, and the test round when due); returns where the run stands."""
        if self._closed:
            raise RuntimeError("this training run is closed; start another with trainer.start(...)")
        if self.done:
            raise RuntimeError("this training run is done (check run.done before step()); close() returns its stats")
        self._step_began = time.perf_counter()
        try:
            with torch_threads(self._cfg.torch_threads):
                metric = self._phase()
        finally:
            self._elapsed += time.perf_counter() - self._step_began
            self._step_began = None
            self.stats.training_time = self._elapsed
        return self._progress(metric)

    def __iter__(self) -> Iterator[Progress]:
        while not self.done and not self._closed:
            yield self.step()

    def _phase(self) -> float | None:
        cfg, stats, position = self._cfg, self.stats, self._position
        metric: float | None = None
        if self._first_test_due:
            self._first_test_due = False
            metric = self._test_round()
        self._hooks.fire("train", self._progress(None))
        t0 = time.perf_counter()
        overlap = self._overlap
        if overlap is None:
            result = self._engine.run(self._plan, max_steps=cfg.update_freq, explore=True, store=True)
        else:  # the update owed for the last phase runs while this one collects (see rbtrainer.overlap)
            overlap.follow(stats.collected_steps)
            if position.owed_gradient_steps:
                overlap.launch(functools.partial(self._update, position.owed_gradient_steps))
            result = self._engine.run(
                overlap.plan, max_steps=cfg.update_freq, explore=True, store=True, before_store=overlap.wait
            )
        t1 = time.perf_counter()
        stats.collected_steps += result.steps
        stats.collected_episodes += len(result.episodes)
        stats.illegal_actions += result.illegal_actions
        self._advance_bar(len(result.episodes), result.steps)
        gradient_steps = max(1, round(result.steps * cfg.update_per_step))
        finished = self._budget_reached
        test_due = stats.collected_episodes >= position.next_test or finished
        if overlap is None:
            taken = self._update(gradient_steps)
        else:
            taken = overlap.taken()
            position.owed_gradient_steps = gradient_steps
            if test_due:  # tests, stop hooks and states see learners that learned from every step
                taken += self._update(position.owed_gradient_steps)
                position.owed_gradient_steps = 0
        stats.gradient_steps += taken
        if self._setup.params.logger is not None:
            self._log_update(self._setup.params.logger, result.steps / max(t1 - t0, 1e-9), taken, t1)
        if test_due:
            while position.next_test <= stats.collected_episodes:
                position.next_test += cfg.test_freq
            metric = self._test_round()
            position.tests += 1
            self._bar.set_postfix(metric=f"{metric:.3f}", best=f"{stats.best_reward_metric:.3f}")
            if self._hooks.should_stop(self._progress(metric)):
                stats.stopped_early = True
            if cfg.state_path is not None and position.tests % cfg.state_every == 0 and not finished:
                self._save_state()
        return metric

    def _advance_bar(self, episodes: int, steps: int) -> None:
        bar, cfg = self._bar, self._cfg
        if cfg.episodes_per_train is not None:
            self._bar.update(min(episodes, max(0, cfg.episodes_per_train - bar.n)))
        else:
            self._bar.update(min(steps, max(0, (cfg.max_env_steps or 0) - bar.n)))

    def _update(self, gradient_steps: int) -> int:
        """Every learner's update of ``gradient_steps`` (on ``update_threads``); returns the gradient steps taken."""
        with torch_threads(self._cfg.update_threads):
            return sum(learner.update(self._cfg.batch_size, gradient_steps) for learner in self._learners)

    def _log_update(self, log: TrainingLogger, env_rate: float, gradient_steps: int, updated_from: float) -> None:
        stats = self.stats
        values = {
            "episodes": float(stats.collected_episodes),
            "env_steps_per_s": env_rate,
            "gradient_steps_per_s": gradient_steps / max(time.perf_counter() - updated_from, 1e-9),
        }
        for name, learner in zip(self._log_names, self._learners):
            values.update({f"{name}/{key}": value for key, value in learner.log_values.items()})
        log.log_update(stats.collected_steps, values)

    # ------------------------------------------------------------ test rounds
    def _test_round(self) -> float:
        """The ``test`` hooks, a test round on the test plan, its records and the ``save_best`` hooks."""
        stats, setup = self.stats, self._setup
        self._hooks.fire("test", self._progress(None))
        log, panel = setup.params.logger, setup.panel
        t0 = time.perf_counter()
        result = setup.test_round(setup.test_plan, log is not None)
        metric = result.reward_metric
        if panel is not None:  # its games count as test time, not as collected steps or episodes
            round_ = panel.play(
                dict(zip(self._log_names, self._learners)), stats.collected_episodes, stats.collected_steps
            )
            stats.panel.append(round_)
            if panel.config.metric:
                metric = round_.score
            logger.info(
                "panel at %d episodes: score %.3f, ratings %s", stats.collected_episodes, round_.score, round_.ratings
            )
        stats.test_time += time.perf_counter() - t0
        if log is not None:
            values = test_values(result, setup.game.seats, stats.collected_episodes)
            log.log_test(stats.collected_steps, {**values, **(panel_values(stats.panel[-1]) if panel else {})})
        stats.reward_metric_history.append(metric)
        stats.test_episodes.append(stats.collected_episodes)
        stats.test_steps.append(stats.collected_steps)
        stats.per_seat_rewards.append([float(v) for v in result.per_seat_rewards])
        stats.mean_episode_lengths.append(result.mean_episode_length)
        for name, group in result.groups.items():
            curve = stats.groups.setdefault(name, GroupCurve())
            curve.reward_metric_history.append(group.reward_metric)
            curve.per_seat_rewards.append([float(v) for v in group.per_seat_rewards])
            curve.mean_episode_lengths.append(group.mean_episode_length)
        if setup.test_plan.rotation is not None:
            setup.test_plan.rotation.round_ended()
        logger.info("test at %d episodes: metric %.4f", stats.collected_episodes, metric)
        self._check_constant_metric()
        if stats.collected_episodes == 0 and self._panel_metric:
            self._untrained_best = self._progress(metric)
        elif metric > stats.best_reward_metric:
            stats.best_reward_metric = metric
            stats.best_episode = stats.collected_episodes
            self._hooks.fire("save_best", self._progress(metric))
        return metric

    @property
    def _panel_metric(self) -> bool:
        """The panel's score is the test rounds' metric."""
        return self._setup.panel is not None and self._setup.panel.config.metric

    def _check_constant_metric(self) -> None:
        """Warn once when a constant-sum self-play run's metric has not moved in its first test rounds."""
        history = self.stats.reward_metric_history
        if (
            self._setup.constant_sum_self_play
            and self._setup.panel is None
            and len(history) == CONSTANT_ROUNDS
            and len(set(history)) == 1
        ):
            logger.warning(
                "the test reward metric has been %s in all of the first %d test rounds: one learner plays every seat "
                "of a constant-sum game, so a metric over all seats' returns cannot change and no later round can "
                "beat the first (save_best_fn keeps the untrained agent); give a panel (panel=['random', ...]) or a "
                "metric of one seat",
                history[0],
                CONSTANT_ROUNDS,
            )

    # --------------------------------------------------------- training state
    def _save_state(self) -> None:
        path, cfg, stats = self._cfg.state_path, self._cfg, self.stats
        if path is None:
            return
        elapsed = self._elapsed + (time.perf_counter() - self._step_began if self._step_began is not None else 0.0)
        memory = cfg.state_memory
        if memory is None:
            held = sum(learner.memory_bytes() for learner in self._learners)
            memory = held <= MEMORY_IN_STATE_LIMIT
            if not memory:
                logger.warning(
                    "training state leaves out the replay memories (%.1f GiB; state_memory=True keeps them): a "
                    "resumed run starts with empty memories",
                    held / 2**30,
                )
        plan = self._plan
        league = plan.rotation if isinstance(plan.rotation, League) else None
        state = RunState(
            key=self._setup.key,
            position=dataclasses.replace(self._position),
            stats=dataclasses.replace(stats, training_time=elapsed, state_path=path),
            generators=[generator_states(agent) for agent in plan.agents],
            learners=[learner.training_state(memory) for learner in self._learners],
            hooks={name: hook.state_dict() for name, hook in self._setup.params.hooks.stateful().items()},
            engine=self._engine.state(),
            league=None if league is None else league.training_state(),
        )
        log = self._setup.params.logger
        if log is not None:  # what the state counts as logged is in the log files before the state says so
            log.flush()
        write_training_state(path, state)
        stats.state_path = path
        logger.info("training state written to %s at %d episodes", path, stats.collected_episodes)

    # ------------------------------------------------------------------- end
    def close(self, failed: bool = False) -> TrainStats:
        """End the run: training state if it stopped early, ``save_last_fn``, logs flushed, the curve plotted.

        ``failed``: the run ends because of an error (no curve is plotted). Closing again returns
        the same statistics.
        """
        if self._closed:
            return self.stats
        self._closed = True
        cfg, stats, log = self._cfg, self.stats, self._setup.params.logger
        try:
            if not failed and not self._budget_reached and not stats.stopped_early:
                stats.interrupted = True
                if cfg.state_path is not None:  # before the untrained round below: a resumed run ignores it too
                    self._save_state()
                logger.warning("training stopped on request after %d episodes", stats.collected_episodes)
            untrained = self._untrained_best
            if untrained is not None and untrained.reward_metric is not None and math.isinf(stats.best_reward_metric):
                stats.best_reward_metric = untrained.reward_metric  # the only round (the agents saved are today's)
                self._hooks.fire("save_best", untrained)
        finally:
            if self._overlap is not None:
                self._overlap.close()
            self._bar.close()
            stats.training_time = self._elapsed
            self._hooks.fire("save_last", self._progress(None))
            if log is not None:
                log.flush()
        if self._setup.plot and not failed:
            stats.plot_path = self._plot()
        logger.info(
            "trained %d episodes, %d env steps, %d gradient steps in %.1f s; best metric %.3f",
            stats.collected_episodes,
            stats.collected_steps,
            stats.gradient_steps,
            stats.training_time,
            stats.best_reward_metric,
        )
        return stats

    def _plot(self) -> str:
        cfg, stats, game, game_name = self._cfg, self.stats, self._setup.game, self._setup.game_name
        name = cfg.plot_name or f"{game_name}_training.png"
        return plot_training_curves(
            os.path.join(cfg.plot_dir, name),
            stats.test_episodes,
            stats.reward_metric_history,
            np.array(stats.per_seat_rewards),
            list(game.seats),
            # the registry name, as the command line and the file name say it (game.name is the env's, e.g. *_v0)
            title=f"{game_name}: {len(game.seats)} seats, {stats.collected_steps} env steps",
            # a group's own metric is its reward metric, not on the panel score's scale
            groups={} if self._panel_metric else {n: c.reward_metric_history for n, c in stats.groups.items()},
            league=stats.league,
            metric_name="panel score" if self._panel_metric else "test reward metric",
            panel=stats.panel,
        )

    def __enter__(self) -> TrainingRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(failed=exc_type is not None)
