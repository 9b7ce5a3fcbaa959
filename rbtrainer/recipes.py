"""The self-play recipe as data: a TOML file's tables -> trainer, DQN learner, epsilon schedule.

A recipe file (what ``rbtrainer train --config`` reads) holds up to six tables, each checked by its
dataclass (an unknown key is an error naming it):

* ``[env]``: the game's arguments, ``game`` naming a registry game (default robot delivery);
* ``[trainer]``: :class:`~rbtrainer.trainer.TrainerConfig`;
* ``[dqn]``: :class:`~rbtrainer.agents.DQNConfig`, the one learner that takes every seat;
* ``[planning]``: :class:`~rbtrainer.config.PlanningOptions`, a planning learner
  (:mod:`rbtrainer.agents.planning`) in its place (the table turns it on unless ``enabled = false``);
* ``[planning]``: :class:`~rbtrainer.config.PlanningOptions`, a planning learner
  (:mod:`rbtrainer.agents.planning`) in its place (the table turns it on unless ``enabled = false``);
* ``[schedule]``: :class:`ScheduleConfig`, its epsilon schedule and where checkpoints go;
* ``[league]``: :class:`LeagueOptions`, league self-play (the table turns it on unless
  ``enabled = false``);
* ``[opponents]``: :class:`OpponentMix`, fixed opponents the learner also meets in each seat of a
  two-seat game, beside self-play.

:class:`Recipe` holds them; :meth:`Recipe.from_toml` reads a file (``overrides`` replace keys of
its tables), :meth:`Recipe.build` builds the trainer, the learner, its opponents and schedule as a
:class:`SelfPlayRun`, and :meth:`Recipe.run` trains it. ``rbtrainer train``, the search
(:mod:`rbtrainer.search`) and the benchmarks all build their runs here::

    recipe = Recipe.from_toml("configs/tictactoe_selfplay.toml", trainer={"seed": 1})
    stats = recipe.run(plot=False)
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from games import DEFAULT_GAME
from rbtrainer import progress_hook
from rbtrainer.callbacks import EpsilonSchedule
from rbtrainer.config import (  # the tables' classes and their reading live there, without torch
    TABLE_CLASSES,
    TABLES,
    DQNConfig,
    LeagueOptions,
    Opponent,
    OpponentMix,
    PanelOptions,
    PlanningOptions,
    ScheduleConfig,
    TrainerConfig,
    check_train_tables,
    checked_table,
    parse_env_pair,
    read_tables,
    read_toml,
    table_values,
)

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - Python 3.10
    pass

if TYPE_CHECKING:
    from rbtrainer.agents.base import Agent, Learner
    from rbtrainer.league import League
    from rbtrainer.run.loop import TrainingRun
    from rbtrainer.run.stats import Progress
    from rbtrainer.seating import EnvGroup
    from rbtrainer.trainer import DecentralizedTrainer, TrainStats

__all__ = [
    "TABLES",
    "BestSnapshot",
    "LeagueOptions",
    "Opponent",
    "OpponentMix",
    "PanelOptions",
    "Recipe",
    "RecipeSchedule",
    "ScheduleConfig",
    "SelfPlayRun",
    "check_train_tables",
    "parse_env_pair",
    "read_tables",
    "read_toml",
    "self_play_agents",
]

logger = logging.getLogger(__name__)


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


_NOT_RECORDED = frozenset({"device", "epsilon", "checkpoint"})
"""Recipe settings a resume may change freely: where the learner lives, the initial epsilon (the
schedule sets it before every phase) and where checkpoints go."""


@dataclass(kw_only=True)
class RecipeSchedule(EpsilonSchedule):
    """A recipe's epsilon schedule (its trainer's ``train_fn``), which also tells training states
    what the recipe trains: :meth:`run_settings` gives its ``[dqn]`` and ``[schedule]`` settings,
    which :class:`~rbtrainer.run.state.RunKey` records and compares on resume."""

    settings: dict[str, Any] = field(default_factory=dict)
    """The recipe's settings that change what is trained (``name -> value``)."""
    accept_changes: bool = False
    """Resume even if :attr:`settings` differ from the training state's (the resume is no longer exact)."""

    def run_settings(self) -> dict[str, Any]:
        """What training states record of this recipe (see :attr:`RunKey.recorded`)."""
        return copy.deepcopy(self.settings)


def self_play_agents(trainer: DecentralizedTrainer, dqn: DQNConfig, seed: int | None) -> list[Agent]:
    """One DQN learner (``dqn``, seeded ``seed``) in every seat of ``trainer``'s game (checked to fit each)."""
    from rbtrainer.agents import dqn_agent

    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=dqn, seed=seed)
    for seat in range(1, trainer.num_seats):
        learner.check_spaces(trainer.observation_space(seat), trainer.action_space(seat))
    return [learner] * trainer.num_seats


@dataclass(kw_only=True)
class Recipe:
    """Self-play DQN as data: the game, the trainer's settings, the learner, its schedule and opponents.

    Nothing given is kept by reference: the tables are copied, so changing a recipe (use
    :meth:`replace`) never changes what the caller holds, and the other way round.
    """

    env: dict[str, Any] = field(default_factory=dict)
    """Game arguments (the ``[env]`` table); ``game`` names the game (default robot_delivery)."""
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    """Settings of the :class:`~rbtrainer.trainer.DecentralizedTrainer` (the ``[trainer]`` table)."""
    dqn: DQNConfig = field(default_factory=DQNConfig)
    """The learner that takes every seat (the ``[dqn]`` table)."""
    planning: PlanningOptions = field(default_factory=PlanningOptions)
    """A planning learner instead of DQN (the ``[planning]`` table; off unless ``enabled``)."""
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    """Its epsilon schedule and the checkpoint path (the ``[schedule]`` table)."""
    league: LeagueOptions = field(default_factory=LeagueOptions)
    """League self-play (the ``[league]`` table; off unless ``enabled``)."""
    opponents: OpponentMix = field(default_factory=OpponentMix)
    """Fixed opponents beside self-play (the ``[opponents]`` table; none by default)."""
    panel: PanelOptions = field(default_factory=PanelOptions)
    """The evaluation panel of the test rounds (the ``[panel]`` table; the game's default one by default)."""

    def __post_init__(self) -> None:
        if not isinstance(self.env, Mapping) or not all(isinstance(k, str) for k in self.env):
            raise TypeError(f"env must be a mapping of game arguments (str keys), got {self.env!r}")
        self.env = copy.deepcopy(dict(self.env))
        for name, cls in TABLE_CLASSES.items():
            value = getattr(self, name)
            if not isinstance(value, cls):
                raise TypeError(f"{name} must be a {cls.__name__}, got {type(value).__name__}")
            setattr(self, name, copy.deepcopy(value))
        if self.league.enabled and self.opponents.enabled:
            raise ValueError("a recipe trains in a league or against an opponent mix, not both")

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_tables(
        cls, tables: Mapping[str, Mapping[str, Any]], where: str = "recipe", **overrides: Mapping[str, Any]
    ) -> Recipe:
        """The recipe of ``tables`` (table name -> settings, as in a TOML file); each of ``overrides``
        (``trainer={"seed": 3}``) replaces keys of the table it names. Neither is mutated."""
        unknown = sorted((set(tables) | set(overrides)) - set(TABLES))
        if unknown:
            raise ValueError(f"{where}: unknown table(s) {unknown}; use {sorted(TABLES)}")
        merged: dict[str, dict[str, Any]] = {}
        for name in TABLES:
            table = tables.get(name, {})
            change = overrides.get(name, {})
            for what, value in ((f"[{name}]", table), (f"override {name}", change)):
                if not isinstance(value, Mapping):
                    raise ValueError(f"{where}: {what} must be a table (a mapping), got {value!r}")
            merged[name] = {**table, **change}
        for name in ("league", "planning"):  # the table turns it on
            if name in tables or name in overrides:
                merged[name] = {"enabled": True, **merged[name]}
        return cls(
            env=merged["env"],
            **{name: checked_table(name, merged[name], where) for name in TABLE_CLASSES},
        )

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str], **overrides: Mapping[str, Any]) -> Recipe:
        """The recipe of a TOML file (see the module docstring); each of ``overrides``
        (``trainer={"seed": 3}``) replaces keys of the table it names."""
        where = os.fspath(path)
        data = read_toml(path, where)
        return cls.from_tables(data, where, **overrides)

    def tables(self) -> dict[str, dict[str, Any]]:
        """The recipe as TOML-style tables, every field given (a new dict; ``from_tables`` reads it back)."""
        return {"env": copy.deepcopy(self.env), **{name: table_values(getattr(self, name)) for name in TABLE_CLASSES}}

    def replace(self, **changes: Mapping[str, Any]) -> Recipe:
        """A new recipe with the keys of ``changes`` (table name -> settings) replaced; ``env`` keys are
        updated like the others (give the whole table to drop keys: build a Recipe instead)."""
        return Recipe.from_tables(self.tables(), "replace", **changes)

    # ------------------------------------------------------------------ facts
    @property
    def game(self) -> str:
        """The game's registry name."""
        return str(self.env.get("game", DEFAULT_GAME))

    @property
    def checkpoint_path(self) -> str:
        """Where the best test round's agents go (the schedule's template, ``{game}`` and ``{learner}``, dqn or
        planning, filled in)."""
        return self.schedule.checkpoint.format(game=self.game, learner="planning" if self.planning.enabled else "dqn")

    @property
    def last_checkpoint_path(self) -> str:
        """Where the final agents go: the checkpoint path + ``_last``."""
        stem, ext = os.path.splitext(self.checkpoint_path)
        return f"{stem}_last{ext or '.pt'}"

    @property
    def default_state_path(self) -> str:
        """The training state beside the checkpoint (what ``rbtrainer train`` writes without ``state_path``)."""
        return f"{os.path.splitext(self.checkpoint_path)[0]}.state"

    def recorded_settings(self) -> dict[str, Any]:
        """The settings that change what is trained beyond the trainer's: the learner's table (``[dqn]``,
        or ``[planning]`` when it is on, as ``planning.<name>``) and the ``[schedule]`` values (not the
        device, the initial epsilon or the checkpoint path) and the ``[league]`` or ``[opponents]``
        table when it is on, which a training state records and a resume compares (:class:`RecipeSchedule`)."""
        if self.planning.enabled:
            learner = {f"planning.{name}": value for name, value in _fields(self.planning.config()).items()}
            learner.pop("planning.device")
        else:
            learner = _fields(self.dqn)
        values = {**learner, **_fields(self.schedule)}
        if self.league.enabled:
            values.update({f"league.{name}": value for name, value in _fields(self.league).items()})
        if self.opponents.enabled:
            values["opponents.self_play"] = self.opponents.self_play
            values["opponents.against"] = [_fields(opponent) for opponent in self.opponents.against]
        return {name: copy.deepcopy(value) for name, value in values.items() if name not in _NOT_RECORDED}

    def checkpoint_metadata(self) -> dict[str, Any]:
        """What the checkpoints record: the game arguments and the learner's settings (checked for saving)."""
        from rbtrainer.checkpoint import checkpoint_metadata

        if self.planning.enabled:
            return checkpoint_metadata({"env": self.env, "planning": _fields(self.planning.config())})
        return checkpoint_metadata({"env": self.env, "dqn": _fields(self.dqn)})

    # ------------------------------------------------------------------ building
    def build_trainer(self) -> DecentralizedTrainer:
        """The trainer of the game with the ``[trainer]`` settings."""
        from rbtrainer.trainer import DecentralizedTrainer

        return DecentralizedTrainer(self.env, **_fields(self.trainer), panel=self.panel.config(self.game))

    def self_play_agents(self, trainer: DecentralizedTrainer, seed: int | None = None) -> list[Agent]:
        """The learner in every seat (seeded ``seed``, default the trainer's seed): DQN, or the planning
        learner when ``[planning]`` is on."""
        seed = trainer.seed if seed is None else seed
        if not self.planning.enabled:
            return self_play_agents(trainer, self.dqn, seed)
        from rbtrainer.agents.planning import planning_agent, rules_from_game

        rules = rules_from_game(trainer.make_game)
        learner = planning_agent(
            rules, trainer.observation_space(0), trainer.action_space(0), config=self.planning.config(), seed=seed
        )
        for seat in range(1, trainer.num_seats):
            learner.check_spaces(trainer.observation_space(seat), trainer.action_space(seat))
        return [learner] * trainer.num_seats

    def epsilon_schedule(self, learner: Learner) -> RecipeSchedule:
        """``train_fn`` lowering the learner's epsilon as the ``[schedule]`` says (and recording the
        recipe's settings in training states); a planning learner explores by its search, and the
        schedule only records the settings."""
        from rbtrainer.agents.learners import OffPolicyLearner

        s = self.schedule
        return RecipeSchedule(
            learners=[learner] if isinstance(learner, OffPolicyLearner) else [],
            start=s.eps_start,
            end=s.eps_end,
            episodes=s.eps_episodes,
            settings=self.recorded_settings(),
        )

    def build_league(self, trainer: DecentralizedTrainer, learner: Learner) -> League | None:
        """The league of the ``[league]`` table (None when it is off), its opponents built from their specs."""
        if not self.league.enabled:
            return None
        from rbtrainer.evaluation import agent_from_spec
        from rbtrainer.league import League
        from rbtrainer.rng import spawn_seeds

        seeds = spawn_seeds(trainer.seed, len(self.league.opponents), stream=12)
        opponents = [agent_from_spec(spec, trainer, seed=s) for spec, s in zip(self.league.opponents, seeds)]
        return League(learner, opponents, self.league.config())

    def build_groups(self, trainer: DecentralizedTrainer, learner: Agent) -> list[EnvGroup] | None:
        """The env groups of the ``[opponents]`` mix (None when it names no opponent)."""
        if not self.opponents.enabled:
            return None
        from rbtrainer.agents import EpsilonAgent
        from rbtrainer.evaluation import agent_from_spec
        from rbtrainer.seating import EnvGroup

        if trainer.num_seats != 2:
            raise ValueError(
                f"[opponents] seats the learner against an opponent in two-seat games; "
                f"{trainer.game_name} has {trainer.num_seats} seats"
            )
        seeds = itertools.count(1000 * trainer.seed + 1)
        groups = [EnvGroup("self-play", [learner, learner], self.opponents.self_play, [True, True])]
        for opponent in self.opponents.against:
            label = opponent.spec if opponent.epsilon == 0 else f"noisy {opponent.spec}"
            seated: list[Agent] = []
            for _ in range(2):  # one for each seat order
                agent = agent_from_spec(opponent.spec, trainer, seed=next(seeds))
                if opponent.epsilon > 0:
                    agent = EpsilonAgent(agent, opponent.epsilon, seed=next(seeds))
                seated.append(agent)
            groups += [
                EnvGroup(f"vs {label} (first)", [learner, seated[0]], opponent.first, [True, False]),
                EnvGroup(f"vs {label} (second)", [seated[1], learner], opponent.second, [False, True]),
            ]
        groups = [group for group in groups if group.weight > 0]
        for setting in ("num_train_envs", "num_test_envs", "episodes_per_test"):
            if getattr(self.trainer, setting) < len(groups):
                raise ValueError(
                    f"[opponents] seats the learner in {len(groups)} env groups (self-play and each opponent in either "
                    f"seat), so {setting} must be at least {len(groups)}, got {getattr(self.trainer, setting)}"
                )
        return groups

    def build(self) -> SelfPlayRun:
        """The trainer, the learner in every seat, its league or opponent groups, and the epsilon
        schedule as the trainer's ``train_fn``; close the run (or use it as a context manager)."""
        trainer = self.build_trainer()
        try:
            agents = self.self_play_agents(trainer)
            learner: Learner = agents[0]  # type: ignore[assignment]
            league = self.build_league(trainer, learner)
            groups = self.build_groups(trainer, learner)
            schedule = self.epsilon_schedule(learner)
            trainer.train_fn = schedule
        except BaseException:
            trainer.close()
            raise
        return SelfPlayRun(
            recipe=self, trainer=trainer, learner=learner, league=league, groups=groups, schedule=schedule
        )

    def run(
        self,
        *,
        plot: bool = False,
        checkpoints: bool = False,
        resume: str | None = None,
        resume_changed: bool = False,
    ) -> TrainStats:
        """Build and train the recipe; returns the statistics. ``checkpoints``: save the best test
        round's agents and the final ones (:attr:`checkpoint_path`, :attr:`last_checkpoint_path`).
        ``resume_changed``: resume even with other ``[dqn]`` / ``[schedule]`` settings than the
        state's (:meth:`SelfPlayRun.train`)."""
        with self.build() as run:
            if checkpoints:
                run.save_checkpoints()
            return run.train(plot=plot, resume=resume, resume_changed=resume_changed)


def _best_round(progress: Progress) -> dict[str, Any]:
    """What a best checkpoint records of its round: the episodes, and the panel's results when there is one."""
    stats = progress.stats
    panel = {"panel": stats.panel[-1].summary()} if stats is not None and stats.panel else {}
    return {"episodes": progress.episodes, **panel}


def _run_end(progress: Progress) -> dict[str, Any]:
    """What the final agents' checkpoint records of the run's end (metadata ``"run_end"``): the
    episodes and env steps collected, and whether the run finished (its budget reached, or its stop
    hook ended it) rather than being interrupted or failing. ``rbtrainer train --resume`` reads it
    to tell a complete run from one to continue."""
    stats = progress.stats
    finished = progress.fraction >= 1.0 or (stats is not None and stats.stopped_early)
    return {"run_end": {"episodes": progress.episodes, "env_steps": progress.env_steps, "finished": finished}}


class BestSnapshot:
    """``save_best_fn`` keeping a frozen snapshot of the learner at its best test round."""

    def __init__(self, learner: Learner) -> None:
        self.learner = learner
        self.agent: Agent = learner.frozen()
        """The snapshot (the learner as it was built until a test round is the best)."""
        self.episodes = 0
        """Collected training episodes at the best test round."""

    def __call__(self, episodes: int) -> None:
        self.agent, self.episodes = self.learner.frozen(), episodes


@dataclass(slots=True, eq=False)
class SelfPlayRun:
    """A built recipe: the trainer and the learner with its opponents, ready to train."""

    recipe: Recipe
    """What it was built from."""
    trainer: DecentralizedTrainer
    """The trainer (``train_fn``: the epsilon schedule)."""
    learner: Learner
    """The learner that takes every seat."""
    league: League | None = None
    """Its league (``[league]`` on), else None."""
    groups: list[EnvGroup] | None = None
    """Its env groups (``[opponents]`` names opponents), else None."""
    schedule: RecipeSchedule | None = None
    """Its epsilon schedule (the trainer's ``train_fn`` as built)."""

    @property
    def agents(self) -> list[Agent]:
        """The learner in every seat (what a checkpoint holds)."""
        return [self.learner] * self.trainer.num_seats

    @property
    def train_agents(self) -> Any:
        """What ``train()`` is given: the league, the groups or the self-play agents."""
        if self.league is not None:
            return self.league
        if self.groups is not None:
            return self.groups
        return self.agents

    def save_checkpoints(
        self,
        path: str | None = None,
        last_path: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        on_best: Callable[[], Any] | None = None,
    ) -> None:
        """Save the best test round's agents at ``path`` and the final ones at ``last_path`` (default:
        the recipe's paths) with ``metadata`` (default: the recipe's); the league's state travels along.
        ``on_best``: called after each best checkpoint is written. The names are checked first
        (:meth:`check_outputs`)."""
        best_path = self.recipe.checkpoint_path if path is None else path
        final_path = self.recipe.last_checkpoint_path if last_path is None else last_path
        self.check_outputs(best_path, final_path)
        base = dict(self.recipe.checkpoint_metadata() if metadata is None else metadata)  # checked now

        def save_best(progress: Progress) -> None:
            self.save(best_path, _best_round(progress), base)
            if on_best is not None:
                on_best()

        self.trainer.save_best_fn = progress_hook(save_best)
        self.trainer.save_last_fn = progress_hook(lambda progress: self.save(final_path, _run_end(progress), base))

    def save(self, path: str, extra: Mapping[str, Any] | None = None, metadata: Mapping[str, Any] | None = None) -> str:
        """Write the learner in every seat to ``path`` now, with ``metadata`` (default: the recipe's),
        ``extra`` and the league's state; returns the path."""
        from rbtrainer.checkpoint import save_agents

        base = self.recipe.checkpoint_metadata() if metadata is None else metadata
        league = {} if self.league is None else {"league": self.league.state_dict()}
        save_agents(path, self.agents, {**base, **(extra or {}), **league})
        return path

    def check_outputs(self, path: str | None = None, last_path: str | None = None) -> None:
        """``ValueError`` if a file the run will write has a name its file system cannot hold (the
        checkpoints, the training state, and the temporary names they are written through)."""
        from rbtrainer.files import name_too_long

        best_path = self.recipe.checkpoint_path if path is None else path
        final_path = self.recipe.last_checkpoint_path if last_path is None else last_path
        for what, file in (
            ("checkpoint", best_path),
            ("final agents' checkpoint", final_path),
            ("training state", self.trainer.config.state_path),
        ):
            problem = None if file is None else name_too_long(file)
            if problem is not None:
                raise ValueError(f"the {what} cannot be written: {problem}; choose a shorter checkpoint name")

    def keep_best_snapshot(self) -> BestSnapshot:
        """Keep a frozen snapshot of the learner at its best test round (it becomes ``save_best_fn``)."""
        best = BestSnapshot(self.learner)
        self.trainer.save_best_fn = best
        return best

    def start(
        self, *, plot: bool = True, resume: str | os.PathLike[str] | None = None, resume_changed: bool = False
    ) -> TrainingRun:
        """Check everything and begin the training run (nothing is played or written yet), to be
        advanced by iterating over it; see :meth:`train`."""
        if self.schedule is not None:
            self.schedule.accept_changes = bool(resume_changed)
        return self.trainer.start(self.train_agents, [True] * self.trainer.num_seats, plot=plot, resume=resume)

    def train(
        self, *, plot: bool = True, resume: str | os.PathLike[str] | None = None, resume_changed: bool = False
    ) -> TrainStats:
        """Train the learner in every seat (in its league or groups when it has them).

        ``resume``: the training state to continue. Its ``[dqn]`` and ``[schedule]`` settings
        must equal the recipe's (a ``ValueError`` names the setting, the saved and the new value)
        unless ``resume_changed``: then the new values are used (the learning rate too) and a
        warning says the resume is no longer exact.
        """
        with self.start(plot=plot, resume=resume, resume_changed=resume_changed) as run:
            for _ in run:
                pass
        return run.stats

    def close(self) -> None:
        self.trainer.close()

    def __enter__(self) -> SelfPlayRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
