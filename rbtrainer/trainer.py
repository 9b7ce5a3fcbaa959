"""DecentralizedTrainer: independent learners playing a multi-agent game together.

Glossary of the loop's units:

* **seat**: one of the game's ``possible_agents``; ``agents[i]`` fills seat ``i``.
* **env step**: one call to the game's ``step``: one seat's action in a turn-based (AEC) game,
  one joint action in a parallel game. ``update_freq`` and collected steps count these.
* **tick**: every active env of a pool advances one env step (one batched ``act`` per agent).
* **episode**: one game from reset to its end; envs reset on their own when a game ends.
* **update**: after every ``update_freq`` collected env steps, each learner that has a learning
  seat learns: off-policy learners take ``round(steps * update_per_step)`` gradient steps
  (at least one) on ``batch_size`` minibatches; on-policy learners do one pass of their
  algorithm over what they collected and empty their memory.
* **test round**: after every ``test_freq`` collected training episodes (and once before
  training), ``episodes_per_test`` episodes on the test pool with no exploration; its episode
  returns ``rewards[num_episodes, num_seats]`` are reduced by ``reward_metric``.
* **training state**: everything needed to continue a run exactly (see
  :mod:`rbtrainer.run.state`), written to ``state_path`` every ``state_every`` test rounds
  and when :meth:`DecentralizedTrainer.request_stop` ends a run; ``train(..., resume=path)``
  continues from one.
* **budget**: ``train()`` ends once ``episodes_per_train`` episodes or ``max_env_steps`` env steps
  are collected (whichever comes first; either may be ``None``), or when a stop hook says so.

The trainer holds the game's facts, its parameters (:class:`~rbtrainer.params.TrainerParams`),
its env pools, ``test()`` and ``play()``; ``start()`` checks a run's arguments and hands them to
the training loop (:class:`~rbtrainer.run.loop.TrainingRun`), which owns its counters, records,
logs, plots and training states.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from rbtrainer.agents.base import Agent
from rbtrainer.envs import Episode, GameInfo, describe_game, game_factory
from rbtrainer.epoch_callbacks import TrainerCallbacks
from rbtrainer.evaluation.panel import EvaluationPanel, PanelConfig, default_panel
from rbtrainer.league import League
from rbtrainer.logs import TrainingLogger
from rbtrainer.metrics import RewardMetric, TestResult, mean_reward, summarize
from rbtrainer.overlap import check_overlap
from rbtrainer.params import TrainerConfig, TrainerHooks, TrainerParams, as_panel
from rbtrainer.rng import spawn_seeds
from rbtrainer.rollout import Engine, RolloutResult
from rbtrainer.rollout_workers import make_engine
from rbtrainer.run.loop import RunSetup, StopRequest, TrainingRun, torch_threads
from rbtrainer.run.state import RunKey, read_training_state
from rbtrainer.run.stats import GroupCurve, TrainStats
from rbtrainer.seat_checks import SeatChecker, as_mask, enough_envs, plan_of
from rbtrainer.seating import EnvGroup, Seating, SeatPlan, split_counts
from rbtrainer.validation import boolean, file_name, index, positive_int, writable_dir

__all__ = ["AgentsOrGroups", "DecentralizedTrainer", "GroupCurve", "TrainStats", "TrainerConfig"]

AgentsOrGroups = Sequence[Agent] | Sequence[EnvGroup]
"""One agent per seat for every env, or :class:`~rbtrainer.seating.EnvGroup` objects."""

logger = logging.getLogger(__name__)

TrainAgents = AgentsOrGroups | League
"""What ``train()`` seats: agents, env groups, or a :class:`~rbtrainer.league.League`."""


class _Part:
    """A trainer attribute that reads and writes a field of ``trainer.params`` (``hooks.train_fn``, ...)."""

    def __init__(self, part: str | None) -> None:
        self.part = part

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def _holder(self, trainer: Any) -> Any:
        return trainer.params if self.part is None else getattr(trainer.params, self.part)

    def __get__(self, trainer: Any, owner: type | None = None) -> Any:
        return self if trainer is None else getattr(self._holder(trainer), self.name)

    def __set__(self, trainer: Any, value: Any) -> None:
        setattr(self._holder(trainer), self.name, value)


class DecentralizedTrainer:
    """Trains independent agents, one per seat, that play a game together.

    ``env_args`` (not mutated) name a registry game under ``"game"`` (default
    ``games.DEFAULT_GAME``, robot delivery) plus its constructor arguments; or give ``env_fn``, any callable
    returning a PettingZoo AEC or Parallel env (called with ``env_args`` as keywords). The other
    arguments build :attr:`params`; the hooks and the logger may also be assigned later
    (``trainer.train_fn = ...``), and are checked when a run starts.
    """

    train_fn = _Part("hooks")
    test_fn = _Part("hooks")
    save_best_fn = _Part("hooks")
    save_last_fn = _Part("hooks")
    stop_fn = _Part("hooks")
    reward_metric = _Part("hooks")
    callbacks = _Part("hooks")
    logger = _Part(None)
    panel = _Part(None)

    def __init__(
        self,
        env_args: Mapping[str, Any] | None = None,
        num_train_envs: int = 16,
        num_test_envs: int = 16,
        batch_size: int = 64,
        update_freq: int = 100,
        test_freq: int = 100,
        episodes_per_train: int | None = 5000,
        episodes_per_test: int = 50,
        train_fn: Callable[[int, int], None] | None = None,
        test_fn: Callable[[int, int], None] | None = None,
        save_best_fn: Callable[[int], None] | None = None,
        save_last_fn: Callable[[], None] | None = None,
        stop_fn: Callable[[float, int], bool] | None = None,
        reward_metric: RewardMetric | None = None,
        shared_memory: bool = True,
        *,
        env_fn: Callable[..., Any] | None = None,
        seed: int | None = None,
        backend: str = "dummy",
        plot_dir: str | os.PathLike[str] = "plots",
        plot_name: str | None = None,
        progress_bar: bool | None = True,
        update_per_step: float = 0.1,
        torch_threads: int | None = 1,
        update_threads: int | None = None,
        state_path: str | os.PathLike[str] | None = None,
        state_every: int = 1,
        state_memory: bool | None = None,
        overlap: bool = False,
        batch_games: bool = True,
        rollout_workers: int = 0,
        check_finite: bool = True,
        step_timeout: float | None = 60.0,
        max_env_steps: int | None = None,
        logger: TrainingLogger | None = None,
        callbacks: TrainerCallbacks | None = None,
        panel: PanelConfig | Sequence[str] | Literal[False] | None = None,
    ) -> None:
        settings = {name: value for name, value in locals().items() if name in _SETTINGS}
        self.params = TrainerParams(
            settings=TrainerConfig(**settings),
            hooks=TrainerHooks(
                train_fn=train_fn,
                test_fn=test_fn,
                save_best_fn=save_best_fn,
                save_last_fn=save_last_fn,
                stop_fn=stop_fn,
                reward_metric=reward_metric,  # type: ignore[arg-type]  # None: the mean (TrainerHooks.check)
                callbacks=callbacks,
            ),
            logger=logger,
            panel=as_panel(panel),
        )
        """Settings, hooks, logger and panel (:class:`~rbtrainer.params.TrainerParams`)."""
        self.env_args = dict(env_args or {})
        self._factory = game_factory(env_args, env_fn)
        self.game: GameInfo = describe_game(self._factory)
        #: registry name of the game, or the env's ``metadata["name"]`` for ``env_fn`` games
        self.game_name: str = getattr(self._factory, "name", self.game.name)
        #: the game comes from the games registry (``env_args``), not from ``env_fn``
        self.from_registry: bool = env_fn is None
        self._seats = SeatChecker(self.game)
        cfg = self.config
        root = cfg.seed if cfg.seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        self._set_root_seed(root)
        self._train_engine: Engine | None = None
        self._test_engine: Engine | None = None
        self._stop = StopRequest()

    @property
    def config(self) -> TrainerConfig:
        """The settings (``params.settings``)."""
        return self.params.settings

    def _set_root_seed(self, root: int) -> None:
        self.seed = root
        self._train_seeds = spawn_seeds(root, self.config.num_train_envs, stream=0)
        self._test_seeds = spawn_seeds(root, self.config.num_test_envs, stream=1)

    def request_stop(self) -> None:
        """Ask a running ``train()`` to stop after its current collection phase.

        Safe to call from a signal handler. Training then writes its training state (when
        ``state_path`` is set), fires ``save_last_fn``, plots, and returns with
        ``TrainStats.interrupted`` set; the request is cleared when the next ``train()`` starts.
        """
        self._stop.requested = True

    # ------------------------------------------------------------ game facts
    @property
    def num_seats(self) -> int:
        return len(self.game.seats)

    @property
    def seats(self) -> tuple[str, ...]:
        return self.game.seats

    def observation_space(self, seat: int | str = 0) -> gym.Space:
        """Observation space of a seat (the ``observation`` part of dict observations)."""
        return self.game.observation_spaces[self._seat_index(seat)]

    def action_space(self, seat: int | str = 0) -> gym.Space:
        return self.game.action_spaces[self._seat_index(seat)]

    def make_game(self) -> Any:
        """A fresh instance of the game as the pools build it (the caller closes it)."""
        return self._factory()

    def _seat_index(self, seat: int | str) -> int:
        if isinstance(seat, str):
            if seat not in self.game.seats:
                raise ValueError(f"unknown seat {seat!r}; the game's seats are {list(self.game.seats)}")
            return self.game.seats.index(seat)
        return index("seat", seat, self.num_seats)

    # ----------------------------------------------------------------- pools
    def _engine(self, train: bool) -> Engine:
        # A pool closes itself when a game fails in it (rbtrainer.envs.GameError): build a fresh one.
        cfg = self.config
        engine = self._train_engine if train else self._test_engine
        if engine is None or engine.closed:
            engine = make_engine(self._factory, cfg.num_train_envs if train else cfg.num_test_envs, self.num_seats, cfg)
            setattr(self, "_train_engine" if train else "_test_engine", engine)
        engine.check_finite = cfg.check_finite
        return engine

    def close(self) -> None:
        """Close the env pools (worker processes for ``subproc`` / ``ray``)."""
        for engine in (self._train_engine, self._test_engine):
            if engine is not None:
                engine.close()
        self._train_engine = self._test_engine = None

    def __enter__(self) -> DecentralizedTrainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ test
    def test(self, agents: AgentsOrGroups, eval_metrics: bool = False) -> TestResult:
        """Play ``episodes_per_test`` games without exploration and summarize them.

        ``agents``: one agent per seat, or :class:`~rbtrainer.seating.EnvGroup` objects sharing
        the test envs and episodes by weight; then ``TestResult.groups`` holds each group's result.
        """
        self.params.check()
        boolean("eval_metrics", eval_metrics)
        cfg = self.config
        seatings, grouped = self._seats.seatings(agents, pools=[("num_test_envs", cfg.num_test_envs)])
        self._seats.check_test_episodes(seatings, cfg.episodes_per_test)
        with torch_threads(cfg.torch_threads):
            return self._test_round(plan_of(seatings, cfg.num_test_envs, grouped), eval_metrics)

    def _test_round(self, plan: SeatPlan, eval_metrics: bool) -> TestResult:
        per_group = split_counts(self.config.episodes_per_test, plan.group_weights, minimum=1)
        return self._summarize(self._run_test_plan(plan, per_group), plan, eval_metrics)

    def _run_test_plan(self, plan: SeatPlan, per_group: Sequence[int]) -> RolloutResult:
        """Play ``per_group[g]`` episodes in group ``g``'s test envs (shared out evenly), no exploration."""
        engine = self._engine(train=False)
        engine.start(self._test_seeds)
        if plan.rotation is not None:
            plan.rotation.begin(plan)
        quota = np.zeros(plan.num_envs, dtype=np.int64)
        for g, episodes in enumerate(per_group):
            envs = plan.envs_of_group(g)
            base, extra = divmod(episodes, len(envs))
            quota[envs] = base + (np.arange(len(envs)) < extra)
        return engine.run(plan, episodes_per_env=quota.tolist())

    def play(self, groups: Sequence[EnvGroup], episodes_per_group: int) -> dict[str, list[Episode]]:
        """Play ``episodes_per_group`` games of every group on the test pool, without exploration.

        Any number of groups: they are played in rounds of at most ``num_test_envs`` groups, each
        round restarting the test envs from their seeds, so the result depends only on the groups,
        the agents' own generators and the trainer's seed. Every group is checked before any game is
        played. Returns each group's finished episodes by group name, in env order. No hook fires and
        no statistics are kept: tournaments and leagues build on this.
        """
        positive_int("episodes_per_group", episodes_per_group)
        if isinstance(groups, EnvGroup) or not isinstance(groups, Sequence) or not groups:
            raise TypeError("groups must be a non-empty list of EnvGroup")
        if not all(isinstance(g, EnvGroup) for g in groups):
            raise TypeError("groups must hold only EnvGroup objects")
        seatings, _ = self._seats.seatings(groups)
        envs = self.config.num_test_envs
        played: dict[str, list[Episode]] = {}
        with torch_threads(self.config.torch_threads):
            for first in range(0, len(seatings), envs):
                chunk = seatings[first : first + envs]
                plan = plan_of(chunk, envs, grouped=True)
                result = self._run_test_plan(plan, [episodes_per_group] * len(chunk))
                ordered = sorted(result.episodes, key=lambda e: e.env_id)
                for g, name in enumerate(plan.group_names):
                    played[name] = [e for e in ordered if plan.group_of_env[e.env_id] == g]
        return played

    def _summarize(self, result: RolloutResult, plan: SeatPlan, eval_metrics: bool) -> TestResult:
        def reduce(episodes: list[Any], illegal: int) -> TestResult:
            return summarize(episodes, self.reward_metric, eval_metrics, self.game.players, illegal)

        total = reduce(result.episodes, result.illegal_actions)
        if not plan.grouped:
            return total
        groups = {}
        for g, name in enumerate(plan.group_names):
            episodes = [e for e in result.episodes if plan.group_of_env[e.env_id] == g]
            groups[name] = reduce(episodes, int(result.illegal_E[plan.envs_of_group(g)].sum()))
        return dataclasses.replace(total, groups=groups)

    # ----------------------------------------------------------------- train
    def train(
        self,
        agents: TrainAgents,
        learning_mask: Sequence[bool],
        exploration_mask: Sequence[bool] | None = None,
        plot: bool = True,
        resume: str | os.PathLike[str] | None = None,
        resume_changed: bool = False,
    ) -> TrainStats:
        """Train the learners of the learning seats; returns :class:`TrainStats`.

        The arguments are those of :meth:`start`; ``train()`` runs the :class:`TrainingRun` it
        returns to the end.
        """
        with self.start(agents, learning_mask, exploration_mask, plot, resume, resume_changed) as run:
            for _ in run:
                pass
        return run.stats

    def start(
        self,
        agents: TrainAgents,
        learning_mask: Sequence[bool],
        exploration_mask: Sequence[bool] | None = None,
        plot: bool = True,
        resume: str | os.PathLike[str] | None = None,
        resume_changed: bool = False,
    ) -> TrainingRun:
        """Check the arguments and begin a training run, to be advanced with :meth:`TrainingRun.step`.

        ``agents``: one agent per seat for every env, or :class:`~rbtrainer.seating.EnvGroup`
        objects seating different agents in shares of the envs (a group's own masks, when given,
        replace the two below in its envs), or a :class:`~rbtrainer.league.League`: then
        ``learning_mask`` names the seats its learner takes and the pool fills the others.
        ``exploration_mask=None`` means every seat explores while collecting (the reference's
        contract; a league's members never do); tests never explore. Neither list is modified.

        ``resume``: a training-state file of an earlier run of the same game, agents and settings
        (the budgets may be larger); training continues where that run stopped, and ends with the
        statistics an uninterrupted run would have had (same seed, same backend). A learner's
        settings (``run_settings()``: learning rate, discount...) or a hook's that differ from the
        state's are refused, unless ``resume_changed``: then this run's values are used and the
        resume is no longer exact.
        """
        state = None if resume is None else read_training_state(resume)  # before anything is built
        self.params.check()
        learning = as_mask("learning_mask", learning_mask, self.num_seats)
        exploring = (
            np.ones(self.num_seats, dtype=bool)
            if exploration_mask is None
            else as_mask("exploration_mask", exploration_mask, self.num_seats)
        )
        boolean("plot", plot)
        cfg = self.config
        if plot:  # before training, not after it
            writable_dir("plot_dir", cfg.plot_dir)
            if cfg.plot_name is not None:
                file_name("plot_name", cfg.plot_name)
        pools = [("num_train_envs", cfg.num_train_envs), ("num_test_envs", cfg.num_test_envs)]
        league = agents if isinstance(agents, League) else None
        seatings: list[Seating]
        if league is None:
            seatings, grouped = self._seats.seatings(agents, learning, exploring, pools=pools)
        else:
            seatings, grouped = league.seatings(self.seats, learning, exploring, self._seats.check_seat), True
            enough_envs(len(seatings), pools)
        self._seats.check_test_episodes(seatings, cfg.episodes_per_test)
        plan, learners = self._seats.learning_plan(seatings, grouped, cfg.num_train_envs, cfg.shared_memory)
        if cfg.overlap:
            check_overlap(learners, league is not None)
        key = RunKey.of(self, plan, learners, league is not None, boolean("resume_changed", resume_changed))
        if state is not None:
            problem = key.mismatch(state.key, os.fspath(resume or ""), seed_given=cfg.seed is not None)
            if problem is not None:
                raise ValueError(problem)
            if cfg.seed is None:  # the run continues with the seeds it was trained with
                self._set_root_seed(state.key.seed)
        for learner in learners:
            learner.attach_memory(plan.streams.streams_of(learner), cfg.update_freq, cfg.batch_size)
        test_plan = plan_of(seatings, cfg.num_test_envs, grouped)
        # one learner against itself, or a league's learner against its own snapshots and fixed members
        self_play = league is not None or (not grouped and bool(learning.all()) and len(learners) == 1)
        panel = self._panel(self_play)  # its opponents built and checked before any game
        if league is not None:
            league.bind(plan, test_plan, self.game, self.seed)
        self._stop.requested = False
        return TrainingRun(
            RunSetup(
                trainer=self,
                params=self.params,
                game=self.game,
                game_name=self.game_name,
                key=dataclasses.replace(key, seed=self.seed),
                train_seeds=self._train_seeds,
                engine=self._engine(train=True),
                test_round=self._test_round,
                stop=self._stop,
                plan=plan,
                learners=learners,
                test_plan=test_plan,
                state=state,
                state_file=None if resume is None else os.fspath(resume),
                plot=plot,
                panel=panel,
                constant_sum_self_play=self_play and bool(self.game.metadata.get("constant_sum")),
            )
        )

    def _panel(self, self_play: bool) -> EvaluationPanel | None:
        """The run's panel: the one given, else the game's default one in self-play without a reward metric."""
        config = self.params.panel
        if config is False:
            return None
        if config is None and self_play and self.params.hooks.reward_metric is mean_reward and self.from_registry:
            opponents = default_panel(self.game_name)
            if opponents is not None:
                config = PanelConfig(opponents=opponents)
                against = ", ".join(opponents)
                logger.info(
                    "self-play on %s: test rounds play it against %s (panel=False: not)", self.game_name, against
                )
        return None if config is None else EvaluationPanel(config, self)


_SETTINGS = frozenset(f.name for f in dataclasses.fields(TrainerConfig))
