"""Step-wise training: one ``train()`` advanced a collection phase at a time.

:meth:`DecentralizedTrainer.start <rbtrainer.trainer.DecentralizedTrainer.start>` checks its
arguments as ``train()`` does and returns a :class:`TrainingRun`. Each :meth:`TrainingRun.step`
runs one *phase*: the ``train_fn`` hook, ``update_freq`` env steps of collection, the learners'
update, and the test round (with ``test_fn``, ``save_best_fn``, ``stop_fn`` and the training
state) when one is due; the first step also runs the test round before any training. Between
steps the caller's own code runs (plots in a notebook, a custom schedule, an evaluation). Stepping
to the end and closing gives exactly the statistics ``train()`` returns, since ``train()`` is this
loop.

The run is the trainer's own loop and uses the trainer's internals (its engines, test rounds and
training states); it holds only the loop's position.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from rbtrainer.agents.base import Learner, unique_name
from rbtrainer.epoch_callbacks import EpochCallback, TrainingContext
from rbtrainer.league import League
from rbtrainer.overlap import OverlappedUpdates

if TYPE_CHECKING:
    from rbtrainer.seating import SeatPlan
    from rbtrainer.trainer import DecentralizedTrainer, TrainStats

__all__ = ["Progress", "TrainingRun"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a :class:`TrainingRun` stands after a step."""

    episodes: int
    """Training episodes collected so far."""
    env_steps: int
    """Env steps collected so far."""
    gradient_steps: int
    """Gradient steps taken so far."""
    episodes_per_train: int
    """The run's episode budget."""
    tested: bool
    """A test round ran during this step."""
    reward_metric: float | None
    """The reward metric of that test round (``None`` when none ran)."""
    done: bool
    """The run needs no further step (budget reached, ``stop_fn`` or a stop request)."""

    @property
    def fraction(self) -> float:
        """Share of the episode budget collected (at most 1)."""
        return min(1.0, self.episodes / self.episodes_per_train)


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

    def __init__(
        self,
        trainer: DecentralizedTrainer,
        plan: SeatPlan,
        learners: list[Learner],
        test_plan: SeatPlan,
        state: dict[str, Any] | None,
        plot: bool,
    ) -> None:
        from rbtrainer.trainer import TrainStats, torch_threads

        self._trainer = trainer
        self._plan = plan
        self._learners = learners
        self._test_plan = test_plan
        self._plot = plot
        self._closed = False
        self._step_began: float | None = None
        self._torch_threads = torch_threads
        cfg = trainer.config
        began = time.perf_counter()
        self._engine = trainer._engine(train=True)
        self.stats: TrainStats
        """The statistics so far (the same object :meth:`close` returns)."""
        self._owed = 0  # overlap: gradient steps owed for the last phase's steps
        if state is None:
            self.stats = TrainStats()
            self._engine.start(trainer._train_seeds)
            if plan.rotation is not None:
                plan.rotation.begin(plan)
                if isinstance(plan.rotation, League):
                    self.stats.league = plan.rotation.curve
            self._next_test, self._tests = cfg.test_freq, 0
        else:
            self.stats, self._next_test, self._tests, self._owed = trainer._restore(state, plan, learners, self._engine)
        self._overlap = OverlappedUpdates(plan, learners, trainer.seed) if cfg.overlap else None
        self._first_test_due = state is None
        self.context = TrainingContext(trainer, tuple(plan.agents), tuple(learners), self.stats)
        """What callback objects see (:mod:`rbtrainer.epoch_callbacks`)."""
        callbacks = trainer.callbacks
        self._train_callback = callbacks.epoch_train_callback if callbacks is not None else None
        self._test_callback = callbacks.epoch_test_callback if callbacks is not None else None
        setups: list[EpochCallback] = callbacks.all() if callbacks is not None else []
        for hook in (trainer.train_fn, trainer.test_fn, trainer.stop_fn):  # a callback object may serve as a hook
            if isinstance(hook, EpochCallback):
                setups.append(hook)
        for callback in dict.fromkeys(setups):  # once each, before any game is played
            callback.setup(self.context)
        self._log_names: list[str] = []  # learners by name in the logs, repeats numbered
        for learner in learners:
            self._log_names.append(unique_name(learner.name, self._log_names))
        if trainer.logger is not None:
            trainer.logger.begin(None if state is None else self.stats.collected_steps)
        show = cfg.progress_bar if cfg.progress_bar is not None else sys.stderr.isatty()
        self._bar = tqdm(total=cfg.episodes_per_train, disable=not show, unit="ep", desc="train")
        self._bar.update(min(self.stats.collected_episodes, cfg.episodes_per_train))
        self._elapsed = self.stats.training_time + time.perf_counter() - began

    # ------------------------------------------------------------------ state
    @property
    def done(self) -> bool:
        """No further step is needed: the budget is reached, ``stop_fn`` said stop, or a stop was requested."""
        stats = self.stats
        return (
            stats.collected_episodes >= self._trainer.config.episodes_per_train
            or stats.stopped_early
            or self._trainer._stop_requested
        )

    @property
    def closed(self) -> bool:
        return self._closed

    def _progress(self, metric: float | None) -> Progress:
        stats = self.stats
        return Progress(
            episodes=stats.collected_episodes,
            env_steps=stats.collected_steps,
            gradient_steps=stats.gradient_steps,
            episodes_per_train=self._trainer.config.episodes_per_train,
            tested=metric is not None,
            reward_metric=metric,
            done=self.done,
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
            with self._torch_threads(self._trainer.config.torch_threads):
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
        trainer, cfg, stats = self._trainer, self._trainer.config, self.stats
        metric: float | None = None
        if self._first_test_due:
            self._first_test_due = False
            metric = self._test_round()
        if trainer.train_fn is not None:
            trainer.train_fn(stats.collected_episodes, stats.collected_steps)
        if self._train_callback is not None:
            self._train_callback.callback(stats.collected_episodes, stats.collected_steps, self.context)
        t0 = time.perf_counter()
        overlap = self._overlap
        if overlap is None:
            result = self._engine.run(self._plan, max_steps=cfg.update_freq, explore=True, store=True)
        else:  # the update owed for the last phase runs while this one collects (see rbtrainer.overlap)
            overlap.follow(stats.collected_steps)
            if self._owed:
                overlap.launch(functools.partial(self._update, self._owed))
            result = self._engine.run(
                overlap.plan, max_steps=cfg.update_freq, explore=True, store=True, before_store=overlap.wait
            )
        t1 = time.perf_counter()
        stats.collected_steps += result.steps
        stats.collected_episodes += len(result.episodes)
        stats.illegal_actions += result.illegal_actions
        self._bar.update(min(len(result.episodes), max(0, cfg.episodes_per_train - self._bar.n)))
        gradient_steps = max(1, round(result.steps * cfg.update_per_step))
        finished = stats.collected_episodes >= cfg.episodes_per_train
        test_due = stats.collected_episodes >= self._next_test or finished
        if overlap is None:
            taken = self._update(gradient_steps)
        else:
            taken = overlap.taken()
            self._owed = gradient_steps
            if test_due:  # tests, stop_fn and states see learners that learned from every step
                taken += self._update(self._owed)
                self._owed = 0
        stats.gradient_steps += taken
        if trainer.logger is not None:
            env_rate = result.steps / max(t1 - t0, 1e-9)
            trainer._log_update(trainer.logger, stats, self._learners, self._log_names, env_rate, taken, t1)
        if test_due:
            while self._next_test <= stats.collected_episodes:
                self._next_test += cfg.test_freq
            metric = self._test_round()
            self._tests += 1
            self._bar.set_postfix(metric=f"{metric:.3f}", best=f"{stats.best_reward_metric:.3f}")
            if trainer._should_stop(metric, self.context):
                stats.stopped_early = True
            if cfg.state_path is not None and self._tests % cfg.state_every == 0 and not finished:
                self._save_state()
        return metric

    def _update(self, gradient_steps: int) -> int:
        """Every learner's update of ``gradient_steps``; returns the gradient steps taken."""
        cfg = self._trainer.config
        return sum(learner.update(cfg.batch_size, gradient_steps) for learner in self._learners)

    def _test_round(self) -> float:
        trainer, stats = self._trainer, self.stats
        if trainer.test_fn is not None:
            trainer.test_fn(stats.collected_episodes, stats.collected_steps)
        if self._test_callback is not None:
            self._test_callback.callback(stats.collected_episodes, stats.collected_steps, self.context)
        return trainer._record_test(self._test_plan, stats)

    def _save_state(self) -> None:
        elapsed = self._elapsed + (time.perf_counter() - self._step_began if self._step_began is not None else 0.0)
        self._trainer._save_state(
            self.stats, self._next_test, self._tests, self._plan, self._learners, self._engine, elapsed, self._owed
        )

    # ------------------------------------------------------------------- end
    def close(self, failed: bool = False) -> TrainStats:
        """End the run: training state if it stopped early, ``save_last_fn``, logs flushed, the curve plotted.

        ``failed``: the run ends because of an error (no curve is plotted). Closing again returns
        the same statistics.
        """
        if self._closed:
            return self.stats
        self._closed = True
        trainer, cfg, stats = self._trainer, self._trainer.config, self.stats
        try:
            stopped = stats.collected_episodes < cfg.episodes_per_train and not stats.stopped_early
            if not failed and stopped:
                stats.interrupted = True
                if cfg.state_path is not None:
                    self._save_state()
                logger.warning("training stopped on request after %d episodes", stats.collected_episodes)
        finally:
            if self._overlap is not None:
                self._overlap.close()
            self._bar.close()
            stats.training_time = self._elapsed
            if trainer.save_last_fn is not None:
                trainer.save_last_fn()
            if trainer.logger is not None:
                trainer.logger.flush()
        if self._plot and not failed:
            stats.plot_path = trainer._plot(stats)
        logger.info(
            "trained %d episodes, %d env steps, %d gradient steps in %.1f s; best metric %.3f",
            stats.collected_episodes,
            stats.collected_steps,
            stats.gradient_steps,
            stats.training_time,
            stats.best_reward_metric,
        )
        return stats

    def __enter__(self) -> TrainingRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(failed=exc_type is not None)
