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
  :mod:`rbtrainer.training_state`), written to ``state_path`` every ``state_every`` test rounds
  and when :meth:`DecentralizedTrainer.request_stop` ends a run; ``train(..., resume=path)``
  continues from one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from rbtrainer.agents.base import Agent, Learner
from rbtrainer.envs import BACKENDS, Episode, GameInfo, describe_game, game_factory, make_pool
from rbtrainer.epoch_callbacks import TrainerCallbacks, TrainingContext
from rbtrainer.league import League, LeagueCurve
from rbtrainer.logs import TrainingLogger, test_values
from rbtrainer.metrics import RewardMetric, TestResult, mean_reward, summarize
from rbtrainer.overlap import check_overlap
from rbtrainer.plotting import plot_training_curves
from rbtrainer.rng import generator_states, set_generator_states, spawn_seeds
from rbtrainer.rollout import RolloutEngine, RolloutResult
from rbtrainer.seating import EnvGroup, Seating, SeatPlan, split_counts
from rbtrainer.training_run import TrainingRun
from rbtrainer.training_state import read_training_state, write_training_state
from rbtrainer.validation import (
    MAX_ENVS,
    boolean,
    file_name,
    index,
    non_negative_int,
    not_a_file,
    number_in,
    optional_callable,
    positive_int,
    writable_dir,
)

__all__ = ["AgentsOrGroups", "DecentralizedTrainer", "GroupCurve", "TrainStats", "TrainerConfig"]

AgentsOrGroups = Sequence[Agent] | Sequence[EnvGroup]
"""One agent per seat for every env, or :class:`~rbtrainer.seating.EnvGroup` objects."""

TrainAgents = AgentsOrGroups | League
"""What ``train()`` seats: agents, env groups, or a :class:`~rbtrainer.league.League`."""

logger = logging.getLogger(__name__)

_MEMORY_IN_STATE_LIMIT = 2**30
"""Replay memories above this many bytes (together) are left out of training states by default."""


@dataclass(kw_only=True)
class TrainerConfig:
    """Settings of a :class:`DecentralizedTrainer` (everything but the game and the hooks)."""

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
    episodes_per_train: int = 5000
    """Training episodes to collect in ``train()``."""
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

    def __post_init__(self) -> None:
        for name in (
            "num_train_envs",
            "num_test_envs",
            "batch_size",
            "update_freq",
            "test_freq",
            "episodes_per_train",
            "episodes_per_test",
            "state_every",
        ):
            positive_int(name, getattr(self, name))
        if self.state_path is not None:
            if not isinstance(self.state_path, (str, os.PathLike)) or not os.fspath(self.state_path):
                raise TypeError(f"state_path must be a file path or None, got {self.state_path!r}")
            self.state_path = os.fspath(self.state_path)
        if self.state_memory is not None:
            boolean("state_memory", self.state_memory)
        boolean("overlap", self.overlap)
        boolean("batch_games", self.batch_games)
        number_in("update_per_step", self.update_per_step, 0.0, 1000.0)
        boolean("shared_memory", self.shared_memory)
        if self.progress_bar is not None:
            boolean("progress_bar", self.progress_bar)
        if self.seed is not None:
            non_negative_int("seed", self.seed)
        if self.torch_threads is not None:
            positive_int("torch_threads", self.torch_threads)
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
    """``stop_fn`` ended training before ``episodes_per_train``."""
    interrupted: bool = False
    """:meth:`DecentralizedTrainer.request_stop` ended training (a signal, in ``rbtrainer train``)."""
    state_path: str | None = None
    """The last training-state file written (``train(..., resume=...)`` continues from it)."""
    plot_path: str | None = None
    groups: dict[str, GroupCurve] = field(default_factory=dict)
    """Per env group (when ``train()`` was given :class:`~rbtrainer.seating.EnvGroup` objects)."""
    league: LeagueCurve | None = None
    """The league's pool and per-opponent scores (when ``train()`` was given a :class:`~rbtrainer.league.League`)."""

    @property
    def per_agent_rewards(self) -> list[list[float]]:
        """Old name of :attr:`per_seat_rewards` (the values are per seat)."""
        return self.per_seat_rewards

    @property
    def steps_per_second(self) -> float:
        """Collected env steps per second of training time (tests excluded)."""
        busy = self.training_time - self.test_time
        return self.collected_steps / busy if busy > 0 else 0.0


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


def _as_mask(name: str, mask: Any, num_seats: int) -> np.ndarray:
    if isinstance(mask, (str, bytes, Mapping)) or not isinstance(mask, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a list of {num_seats} booleans (one per seat), got {mask!r}")
    values = list(mask)
    if len(values) != num_seats:
        raise ValueError(f"{name} has {len(values)} entries but the game has {num_seats} seats")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, np.integer)) and v in (0, 1)):
            out.append(bool(v))
        else:
            raise TypeError(f"{name}[{i}] must be a bool (or 0/1), got {v!r}")
    return np.array(out, dtype=bool)


def _stop_answer(hook: str, value: Any) -> bool:
    """What a stop hook returned, checked: a bool (``'no'`` would be truthy and stop training)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{hook} must return True or False, got {value!r}")
    return bool(value)


def _enough_envs(groups: int, pools: Sequence[tuple[str, int]]) -> None:
    for pool, envs in pools:
        if groups > envs:
            raise ValueError(f"{groups} env groups need at least as many envs, but {pool}={envs}")


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


class DecentralizedTrainer:
    """Trains independent agents, one per seat, that play a game together.

    ``env_args`` (not mutated) name a registry game under ``"game"`` (default
    ``"robot_delivery"``) plus its constructor arguments; or give ``env_fn``, any callable
    returning a PettingZoo AEC or Parallel env (called with ``env_args`` as keywords).
    """

    def __init__(
        self,
        env_args: Mapping[str, Any] | None = None,
        num_train_envs: int = 16,
        num_test_envs: int = 16,
        batch_size: int = 64,
        update_freq: int = 100,
        test_freq: int = 100,
        episodes_per_train: int = 5000,
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
        state_path: str | os.PathLike[str] | None = None,
        state_every: int = 1,
        state_memory: bool | None = None,
        overlap: bool = False,
        batch_games: bool = True,
        logger: TrainingLogger | None = None,
        callbacks: TrainerCallbacks | None = None,
    ) -> None:
        self.config = TrainerConfig(
            num_train_envs=num_train_envs,
            num_test_envs=num_test_envs,
            batch_size=batch_size,
            update_freq=update_freq,
            test_freq=test_freq,
            episodes_per_train=episodes_per_train,
            episodes_per_test=episodes_per_test,
            update_per_step=update_per_step,
            shared_memory=shared_memory,
            seed=seed,
            backend=backend,
            plot_dir=plot_dir,  # type: ignore[arg-type]  # validated and converted by TrainerConfig
            plot_name=plot_name,
            progress_bar=progress_bar,
            torch_threads=torch_threads,
            state_path=state_path,  # type: ignore[arg-type]  # validated and converted by TrainerConfig
            state_every=state_every,
            state_memory=state_memory,
            overlap=overlap,
            batch_games=batch_games,
        )
        self.train_fn = optional_callable("train_fn", train_fn)
        self.test_fn = optional_callable("test_fn", test_fn)
        self.save_best_fn = optional_callable("save_best_fn", save_best_fn)
        self.save_last_fn = optional_callable("save_last_fn", save_last_fn)
        self.stop_fn = optional_callable("stop_fn", stop_fn)
        self.reward_metric: RewardMetric = optional_callable("reward_metric", reward_metric) or mean_reward
        #: where test rounds and update phases are logged (:mod:`rbtrainer.logs`; None: nowhere)
        self.logger = _check_logger(logger)
        #: callback objects receiving a TrainingContext (:mod:`rbtrainer.epoch_callbacks`; None: none)
        self.callbacks = _check_callbacks(callbacks)
        self.env_args = dict(env_args or {})
        self._factory = game_factory(env_args, env_fn)
        self.game: GameInfo = describe_game(self._factory)
        #: registry name of the game, or the env's ``metadata["name"]`` for ``env_fn`` games
        self.game_name: str = getattr(self._factory, "name", self.game.name)
        #: the game comes from the games registry (``env_args``), not from ``env_fn``
        self.from_registry: bool = env_fn is None
        root = self.config.seed if self.config.seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        self._set_root_seed(root)
        self._train_engine: RolloutEngine | None = None
        self._test_engine: RolloutEngine | None = None
        self._stop_requested = False

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
        self._stop_requested = True

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
    def _engine(self, train: bool) -> RolloutEngine:
        # A pool closes itself when a game fails in it (rbtrainer.envs.GameError): build a fresh one.
        cfg = self.config
        if train:
            if self._train_engine is None or self._train_engine.pool.closed:
                pool = make_pool(self._factory, cfg.num_train_envs, cfg.backend, batch=cfg.batch_games)
                self._train_engine = RolloutEngine(pool, self.num_seats)
            return self._train_engine
        if self._test_engine is None or self._test_engine.pool.closed:
            pool = make_pool(self._factory, cfg.num_test_envs, cfg.backend, batch=cfg.batch_games)
            self._test_engine = RolloutEngine(pool, self.num_seats)
        return self._test_engine

    def close(self) -> None:
        """Close the env pools (worker processes for ``subproc`` / ``ray``)."""
        for engine in (self._train_engine, self._test_engine):
            if engine is not None:
                engine.pool.close()
        self._train_engine = self._test_engine = None

    def __enter__(self) -> DecentralizedTrainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ validation
    def _check_hooks(self) -> None:
        """Hooks may be assigned after construction: check them when train()/test() starts."""
        for name in ("train_fn", "test_fn", "save_best_fn", "save_last_fn", "stop_fn"):
            optional_callable(name, getattr(self, name))
        _check_logger(self.logger)
        _check_callbacks(self.callbacks)
        self.reward_metric = optional_callable("reward_metric", self.reward_metric) or mean_reward

    def _check_agents(self, agents: Any, where: str = "agents") -> tuple[Agent, ...]:
        if isinstance(agents, (Agent, str, bytes, Mapping)) or not isinstance(agents, Sequence):
            raise TypeError(
                f"{where} must be a list with one Agent per seat ({self.num_seats} seats) or a list of EnvGroup"
            )
        agents = list(agents)
        if len(agents) != self.num_seats:
            raise ValueError(
                f"{where} has {len(agents)} entries but the game has {self.num_seats} seats {list(self.game.seats)}"
            )
        for i, agent in enumerate(agents):
            if not isinstance(agent, Agent):
                raise TypeError(
                    f"{where}[{i}] must be an rbtrainer Agent (e.g. dqn_agent(...), RandomAgent()), got {agent!r}"
                )
            self._check_seat(agent, i, f"{where}[{i}]")
        return tuple(agents)

    def _check_seat(self, agent: Agent, seat: int, where: str) -> None:
        """The agent's own ``check_spaces`` for a seat, its error naming ``where`` and the seat."""
        try:
            agent.check_spaces(self.game.observation_spaces[seat], self.game.action_spaces[seat])
        except (TypeError, ValueError) as err:
            raise type(err)(f"{where} cannot play seat {self.game.seats[seat]!r}: {err}") from None

    def _seatings(
        self,
        agents: Any,
        learning: np.ndarray | None = None,
        exploring: np.ndarray | None = None,
        *,
        pools: Sequence[tuple[str, int]] = (),
    ) -> tuple[list[Seating], bool]:
        """Checked seatings and whether the caller gave groups; ``pools``: (name, envs) each group needs one of."""
        if isinstance(agents, League):
            raise TypeError(
                "a League is for train(); to test its learner, seat league.learner and its opponents in a list "
                "(or play a tournament of them)"
            )
        no_masks = np.zeros(self.num_seats, dtype=bool)
        learning = no_masks if learning is None else learning  # test(): nobody learns or explores
        exploring = no_masks if exploring is None else exploring
        given = list(agents) if isinstance(agents, Sequence) and not isinstance(agents, (str, bytes)) else None
        if not given or not any(isinstance(g, EnvGroup) for g in given):
            return [Seating("all", self._check_agents(agents), 1.0, learning, exploring)], False
        if not all(isinstance(g, EnvGroup) for g in given):
            raise TypeError(
                "agents mixes EnvGroup objects with other entries; give one Agent per seat or only EnvGroups"
            )
        seatings: list[Seating] = []
        for k, group in enumerate(given):
            if not isinstance(group.name, str) or not group.name:
                raise TypeError(f"agents[{k}]: EnvGroup name must be a non-empty string, got {group.name!r}")
            where = f"EnvGroup {group.name!r}"
            if any(s.name == group.name for s in seatings):
                raise ValueError(f"{where} appears twice; give each EnvGroup its own name")
            seatings.append(
                Seating(
                    group.name,
                    self._check_agents(group.agents, where=f"{where} agents"),
                    number_in(f"{where} weight", group.weight, 0.0, 1e9, low_open=True),
                    self._own_mask(group.learning_mask, learning, f"{where} learning_mask"),
                    self._own_mask(group.exploration_mask, exploring, f"{where} exploration_mask"),
                )
            )
        _enough_envs(len(seatings), pools)
        return seatings, True

    def _own_mask(self, mask: Sequence[bool] | None, default: np.ndarray, name: str) -> np.ndarray:
        """A group's own mask, or ``default`` (the one given to train()) when it has none."""
        return default if mask is None else _as_mask(name, mask, self.num_seats)

    def _plan(self, seatings: list[Seating], num_envs: int, grouped: bool) -> SeatPlan:
        return SeatPlan(seatings, split_counts(num_envs, [s.weight for s in seatings], minimum=1), grouped)

    def _learning_plan(self, seatings: list[Seating], grouped: bool) -> tuple[SeatPlan, list[Learner]]:
        for seating in seatings:
            prefix = f"EnvGroup {seating.name!r}: " if grouped else ""
            for i, agent in enumerate(seating.agents):
                if seating.learning[i] and not isinstance(agent, Learner):
                    raise ValueError(
                        f"{prefix}learning_mask[{i}] is True but agents[{i}] ({agent!r}) is a fixed policy that "
                        "cannot learn"
                    )
        if not any(s.learning.any() for s in seatings):
            raise ValueError("learning_mask has no learning seat; set it True for at least one seat with a learner")
        plan = self._plan(seatings, self.config.num_train_envs, grouped)
        learners = plan.route(self.config.shared_memory, self._fits)
        return plan, learners

    def _fits(self, learner: Learner, seat: int) -> bool:
        try:
            learner.check_spaces(self.game.observation_spaces[seat], self.game.action_spaces[seat])
        except (TypeError, ValueError):
            return False
        return True

    # ------------------------------------------------------------------ test
    def test(self, agents: AgentsOrGroups, eval_metrics: bool = False) -> TestResult:
        """Play ``episodes_per_test`` games without exploration and summarize them.

        ``agents``: one agent per seat, or :class:`~rbtrainer.seating.EnvGroup` objects sharing
        the test envs and episodes by weight; then ``TestResult.groups`` holds each group's result.
        """
        self._check_hooks()
        boolean("eval_metrics", eval_metrics)
        seatings, grouped = self._seatings(agents, pools=[("num_test_envs", self.config.num_test_envs)])
        self._check_test_episodes(seatings)
        with torch_threads(self.config.torch_threads):
            return self._test_round(self._plan(seatings, self.config.num_test_envs, grouped), eval_metrics)

    def _check_test_episodes(self, seatings: list[Seating]) -> None:
        if len(seatings) > self.config.episodes_per_test:
            raise ValueError(
                f"{len(seatings)} env groups need at least one test episode each, "
                f"but episodes_per_test={self.config.episodes_per_test}"
            )

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
        seatings, _ = self._seatings(groups)
        envs = self.config.num_test_envs
        played: dict[str, list[Episode]] = {}
        with torch_threads(self.config.torch_threads):
            for first in range(0, len(seatings), envs):
                chunk = seatings[first : first + envs]
                plan = self._plan(chunk, envs, grouped=True)
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
    ) -> TrainStats:
        """Train the learners of the learning seats; returns :class:`TrainStats`.

        The arguments are those of :meth:`start`; ``train()`` runs the :class:`TrainingRun` it
        returns to the end.
        """
        with self.start(agents, learning_mask, exploration_mask, plot, resume) as run:
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
    ) -> TrainingRun:
        """Check the arguments and begin a training run, to be advanced with :meth:`TrainingRun.step`.

        ``agents``: one agent per seat for every env, or :class:`~rbtrainer.seating.EnvGroup`
        objects seating different agents in shares of the envs (a group's own masks, when given,
        replace the two below in its envs), or a :class:`~rbtrainer.league.League`: then
        ``learning_mask`` names the seats its learner takes and the pool fills the others.
        ``exploration_mask=None`` means every seat explores while collecting (the reference's
        contract; a league's members never do); tests never explore. Neither list is modified.

        ``resume``: a training-state file of an earlier run of the same game, agents and settings
        (``episodes_per_train`` may be larger); training continues where that run stopped, and ends
        with the statistics an uninterrupted run would have had (same seed, same backend).
        """
        state = None if resume is None else read_training_state(resume)  # before anything is built
        self._check_hooks()
        learning = _as_mask("learning_mask", learning_mask, self.num_seats)
        exploring = (
            np.ones(self.num_seats, dtype=bool)
            if exploration_mask is None
            else _as_mask("exploration_mask", exploration_mask, self.num_seats)
        )
        boolean("plot", plot)
        cfg = self.config
        if plot:  # before training, not after it
            writable_dir("plot_dir", cfg.plot_dir)
            if cfg.plot_name is not None:
                file_name("plot_name", cfg.plot_name)
        pools = [("num_train_envs", cfg.num_train_envs), ("num_test_envs", cfg.num_test_envs)]
        league = agents if isinstance(agents, League) else None
        if league is None:
            seatings, grouped = self._seatings(agents, learning, exploring, pools=pools)
        else:
            seatings, grouped = league.seatings(self.seats, learning, exploring, self._check_seat), True
            _enough_envs(len(seatings), pools)
        self._check_test_episodes(seatings)
        plan, learners = self._learning_plan(seatings, grouped)
        if cfg.overlap:
            check_overlap(learners, league is not None)
        if state is not None:
            self._check_resume(os.fspath(resume), state, plan, learners, league is not None)  # type: ignore[arg-type]
        for learner in learners:
            learner.attach_memory(plan.streams.streams_of(learner), cfg.update_freq, cfg.batch_size)
        test_plan = self._plan(seatings, cfg.num_test_envs, grouped)
        if league is not None:
            league.bind(plan, test_plan, self.game, self.seed)

        self._stop_requested = False
        return TrainingRun(self, plan, learners, test_plan, state, plot)

    def _should_stop(self, metric: float, context: TrainingContext) -> bool:
        """Whether ``stop_fn`` or the stop callback ends training after a test round (both are asked)."""
        stop = self.stop_fn is not None and _stop_answer("stop_fn", self.stop_fn(metric, context.episodes))
        callback = self.callbacks.epoch_stop_callback if self.callbacks is not None else None
        if callback is not None:
            stop = _stop_answer("epoch_stop_callback.should_stop", callback.should_stop(metric, context)) or stop
        return stop

    def _log_update(
        self,
        log: TrainingLogger,
        stats: TrainStats,
        learners: list[Learner],
        names: list[str],
        env_rate: float,
        gradient_steps: int,
        updated_from: float,
    ) -> None:
        values = {
            "episodes": float(stats.collected_episodes),
            "env_steps_per_s": env_rate,
            "gradient_steps_per_s": gradient_steps / max(time.perf_counter() - updated_from, 1e-9),
        }
        for name, learner in zip(names, learners):
            values.update({f"{name}/{key}": value for key, value in learner.log_values.items()})
        log.log_update(stats.collected_steps, values)

    # -------------------------------------------------------- training state
    _HOOKS = ("train_fn", "test_fn", "save_best_fn", "save_last_fn", "stop_fn", "reward_metric")
    _SAME_SETTINGS = (
        "num_train_envs",
        "num_test_envs",
        "batch_size",
        "update_freq",
        "test_freq",
        "episodes_per_test",
        "update_per_step",
        "shared_memory",
        "overlap",
    )
    _SETTINGS_ADDED: ClassVar[dict[str, Any]] = {"overlap": False}
    """Settings newer than some training states, with the value those states were trained with."""

    def _stateful_hooks(self) -> dict[str, Any]:
        """Hooks that carry state of their own (``state_dict`` / ``load_state_dict``)."""
        return {
            name: hook
            for name in self._HOOKS
            if callable(getattr(hook := getattr(self, name), "state_dict", None))
            and callable(getattr(hook, "load_state_dict", None))
        }

    def _save_state(
        self,
        stats: TrainStats,
        next_test: int,
        tests: int,
        plan: SeatPlan,
        learners: list[Learner],
        engine: RolloutEngine,
        training_time: float,
        owed_gradient_steps: int = 0,
    ) -> None:
        cfg = self.config
        path = cfg.state_path
        if path is None:
            return
        memory = cfg.state_memory
        if memory is None:
            held = sum(learner.memory_bytes() for learner in learners)
            memory = held <= _MEMORY_IN_STATE_LIMIT
            if not memory:
                logger.warning(
                    "training state leaves out the replay memories (%.1f GiB; state_memory=True keeps them): a "
                    "resumed run starts with empty memories",
                    held / 2**30,
                )
        saved = dataclasses.replace(stats, training_time=training_time, state_path=path)
        state = {
            "game": {"name": self.game_name, "seats": list(self.game.seats), "env_args": repr(self.env_args)},
            "seed": self.seed,
            "settings": {name: getattr(cfg, name) for name in self._SAME_SETTINGS},
            "plan": {
                "groups": list(plan.group_names),
                "agents": [f"{type(a).__name__}:{a.name}" for a in plan.agents[: plan.num_given]],
                "learners": [plan.agents.index(learner) for learner in learners],
            },
            "stats": dataclasses.asdict(saved),
            "next_test": next_test,
            "tests": tests,
            "generators": [generator_states(agent) for agent in plan.agents],
            "learners": [learner.training_state(memory) for learner in learners],
            "hooks": {name: hook.state_dict() for name, hook in self._stateful_hooks().items()},
            "engine": engine.state(),
            "owed_gradient_steps": owed_gradient_steps,  # overlap: the update the next phase starts with
        }
        if isinstance(plan.rotation, League):
            state["league"] = plan.rotation.training_state()
        write_training_state(path, state)
        stats.state_path = path
        logger.info("training state written to %s at %d episodes", path, stats.collected_episodes)

    def _check_resume(
        self, path: str, state: dict[str, Any], plan: SeatPlan, learners: list[Learner], league: bool
    ) -> None:
        """Name what differs between the saved run and this one, before anything is loaded."""
        game = state["game"]
        if game["name"] != self.game_name or list(game["seats"]) != list(self.game.seats):
            raise ValueError(
                f"{path} is a training state of game {game['name']!r} with seats {game['seats']}, but this trainer "
                f"plays {self.game_name!r} with seats {list(self.game.seats)}"
            )
        if game["env_args"] != repr(self.env_args):
            raise ValueError(f"{path} was trained with env args {game['env_args']}, this trainer has {self.env_args!r}")
        saved_settings = {**self._SETTINGS_ADDED, **state["settings"]}
        differ = [
            f"{name}={saved_settings[name]!r} (now {getattr(self.config, name)!r})"
            for name in self._SAME_SETTINGS
            if saved_settings[name] != getattr(self.config, name)
        ]
        if self.config.seed is not None and self.config.seed != state["seed"]:
            differ.append(f"seed={state['seed']!r} (now {self.config.seed!r})")
        if differ:
            raise ValueError(f"{path} was trained with other settings: {', '.join(differ)}")
        saved_plan = state["plan"]
        agents = [f"{type(a).__name__}:{a.name}" for a in plan.agents[: plan.num_given]]
        if ("league" in state) != league:
            raise ValueError(
                f"{path} was trained {'with' if 'league' in state else 'without'} a League; resume it the same way"
            )
        if list(saved_plan["groups"]) != list(plan.group_names):
            raise ValueError(f"{path} was trained with env groups {saved_plan['groups']}, now {plan.group_names}")
        if list(saved_plan["agents"]) != agents:
            raise ValueError(
                f"{path} was trained with agents {saved_plan['agents']} (kind:name), now {agents}; give the same "
                "agents in the same seats"
            )
        if list(saved_plan["learners"]) != [plan.agents.index(learner) for learner in learners]:
            raise ValueError(f"{path} was trained with other learning seats; give the same learning_mask")
        missing = sorted(set(state["hooks"]) - set(self._stateful_hooks()))
        if missing:
            raise ValueError(f"{path} holds the state of hooks {missing}, which this trainer does not have")

    def _restore(
        self, state: dict[str, Any], plan: SeatPlan, learners: list[Learner], engine: RolloutEngine
    ) -> tuple[TrainStats, int, int, int]:
        if self.config.seed is None:
            self._set_root_seed(int(state["seed"]))
        league = plan.rotation if isinstance(plan.rotation, League) else None
        if league is not None:  # its snapshots join the plan before their generators are restored
            league.load_training_state(state["league"], plan)
        for agent, saved in zip(plan.agents, state["generators"]):
            set_generator_states(agent, saved)
        for learner, saved in zip(learners, state["learners"]):
            learner.load_training_state(saved)
        hooks = self._stateful_hooks()
        for name, saved in state["hooks"].items():
            hooks[name].load_state_dict(saved)
        engine.restore(state["engine"])
        fields = dict(state["stats"])
        groups = {name: GroupCurve(**curve) for name, curve in fields.pop("groups").items()}
        fields.pop("league", None)
        stats = TrainStats(**fields, groups=groups, league=None if league is None else league.curve)
        stats.interrupted, stats.state_path = False, None
        logger.info("resumed at %d episodes from %s", stats.collected_episodes, stats.state_path)
        return stats, int(state["next_test"]), int(state["tests"]), int(state.get("owed_gradient_steps", 0))

    def _record_test(self, plan: SeatPlan, stats: TrainStats) -> float:
        t0 = time.perf_counter()
        result = self._test_round(plan, eval_metrics=self.logger is not None)
        stats.test_time += time.perf_counter() - t0
        if self.logger is not None:
            self.logger.log_test(stats.collected_steps, test_values(result, self.game.seats, stats.collected_episodes))
        metric = result.reward_metric
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
        if plan.rotation is not None:
            plan.rotation.round_ended()
        logger.info("test at %d episodes: metric %.4f", stats.collected_episodes, metric)
        if metric > stats.best_reward_metric:
            stats.best_reward_metric = metric
            stats.best_episode = stats.collected_episodes
            if self.save_best_fn is not None:
                self.save_best_fn(stats.collected_episodes)
        return metric

    def _plot(self, stats: TrainStats) -> str:
        cfg = self.config
        name = cfg.plot_name or f"{self.game_name}_training.png"
        return plot_training_curves(
            os.path.join(cfg.plot_dir, name),
            stats.test_episodes,
            stats.reward_metric_history,
            np.array(stats.per_seat_rewards),
            list(self.game.seats),
            title=f"{self.game.name}: {len(self.game.seats)} seats, {stats.collected_steps} env steps",
            groups={name: curve.reward_metric_history for name, curve in stats.groups.items()},
            league=stats.league,
        )
