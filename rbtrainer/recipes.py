"""The self-play recipe as data: a TOML file's tables -> trainer, DQN learner, epsilon schedule.

A recipe file (what ``rbtrainer train --config`` reads) holds up to six tables, each checked by its
dataclass (an unknown key is an error naming it):

* ``[env]``: the game's arguments, ``game`` naming a registry game (default robot delivery);
* ``[trainer]``: :class:`~rbtrainer.trainer.TrainerConfig`;
* ``[dqn]``: :class:`~rbtrainer.agents.DQNConfig`, the one learner that takes every seat;
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

import ast
import copy
import dataclasses
import itertools
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from games import DEFAULT_GAME
from rbtrainer import DQNConfig, LeagueConfig, TrainerConfig, progress_hook
from rbtrainer.callbacks import EpsilonSchedule
from rbtrainer.evaluation.panel import PanelConfig, default_panel
from rbtrainer.validation import boolean, non_negative_int, number_in, positive_int

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

if TYPE_CHECKING:
    from rbtrainer.agents.base import Agent
    from rbtrainer.agents.learners import OffPolicyLearner
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

TABLES = ("env", "trainer", "dqn", "schedule", "league", "opponents", "panel")
"""The tables a recipe file may hold."""


@dataclass(kw_only=True)
class ScheduleConfig:
    """Exploration schedule and outputs of a ``train`` run."""

    eps_start: float = 1.0
    """Epsilon at the start of training."""
    eps_end: float = 0.05
    """Final epsilon."""
    eps_episodes: int = 1000
    """Episodes over which epsilon falls linearly from eps_start to eps_end."""
    checkpoint: str = "checkpoints/{game}_dqn.pt"
    """Where the agents of the best test round go ({game}: the game name); the final ones: same name + _last."""

    def __post_init__(self) -> None:
        number_in("eps_start", self.eps_start, 0.0, 1.0)
        number_in("eps_end", self.eps_end, 0.0, 1.0)
        positive_int("eps_episodes", self.eps_episodes)
        if not isinstance(self.checkpoint, str) or not self.checkpoint:
            raise TypeError(f"checkpoint must be a non-empty path, got {self.checkpoint!r}")
        try:
            self.checkpoint.format(game="game")
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(
                f"checkpoint {self.checkpoint!r} is not a valid path template ({type(err).__name__}: {err}); "
                "the only field it may use is {game} (write {{ and }} for literal braces)"
            ) from None


@dataclass(kw_only=True)
class LeagueOptions(LeagueConfig):
    """League self-play for train: the learner against frozen snapshots of itself and fixed opponents."""

    enabled: bool = False
    """Train in a league instead of plain self-play (a [league] table turns it on unless enabled = false)."""
    opponents: tuple[str, ...] = ("random",)
    """Fixed pool members: baselines (random, minimax, strong, opportunist, negamax[:DEPTH], astar) or
    checkpoint paths."""

    def __post_init__(self) -> None:
        super().__post_init__()
        boolean("enabled", self.enabled)
        if isinstance(self.opponents, str) or not all(isinstance(o, str) and o for o in self.opponents):
            raise TypeError(f'opponents must be a list of agent specs (e.g. ["random"]), got {self.opponents!r}')
        self.opponents = tuple(self.opponents)

    def config(self) -> LeagueConfig:
        """The :class:`~rbtrainer.league.LeagueConfig` part."""
        return LeagueConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(LeagueConfig)})


@dataclass(kw_only=True)
class Opponent:
    """A fixed opponent of an :class:`OpponentMix`, met with the learner in either seat."""

    spec: str
    """Agent spec: a baseline (random, minimax, strong, opportunist, negamax[:DEPTH]) or a checkpoint path."""
    epsilon: float = 0.0
    """Chance of a random legal move instead of the opponent's own (a noisy opponent; 0: none)."""
    first: float = 1.0
    """Share of the envs where the learner takes the first seat against it (0: none)."""
    second: float = 1.0
    """Share of the envs where the learner takes the second seat against it (0: none)."""

    def __post_init__(self) -> None:
        if not isinstance(self.spec, str) or not self.spec:
            raise TypeError(f"spec must be an agent spec such as 'random', got {self.spec!r}")
        number_in("epsilon", self.epsilon, 0.0, 1.0)
        number_in("first", self.first, 0.0, 1e6)
        number_in("second", self.second, 0.0, 1e6)


@dataclass(kw_only=True)
class OpponentMix:
    """The ``[opponents]`` table: env groups of the learner against fixed opponents beside self-play.

    Two-seat games only. Each opponent plays in two groups, the learner first and the learner
    second, with the shares ``first`` and ``second``; the learner learns in its own seat there.
    Opponent ``k``'s agents are seeded ``1000 * seed + 1, + 2, ...`` in order (its noise after it).
    """

    self_play: float = 1.0
    """Share of the envs where the learner takes both seats (0: none)."""
    against: tuple[Opponent, ...] = ()
    """The fixed opponents, e.g. [{ spec = "minimax", epsilon = 0.3, first = 2.0, second = 2.0 }]."""

    def __post_init__(self) -> None:
        number_in("self_play", self.self_play, 0.0, 1e6)
        if isinstance(self.against, (str, Mapping)) or not isinstance(self.against, (list, tuple)):
            raise TypeError(f"against must be a list of opponent tables, got {self.against!r}")
        opponents = []
        for k, entry in enumerate(self.against):
            if isinstance(entry, Opponent):
                opponents.append(entry)
                continue
            if not isinstance(entry, Mapping):
                raise TypeError(f"against[{k}] must be a table such as {{ spec = 'random' }}, got {entry!r}")
            known = [f.name for f in dataclasses.fields(Opponent)]
            unknown = sorted(set(entry) - set(known))
            if unknown:
                raise ValueError(f"against[{k}] has unknown key(s) {unknown}; its keys are {known}")
            try:
                opponents.append(Opponent(**entry))
            except TypeError as err:
                raise TypeError(f"against[{k}]: {err}") from None
        self.against = tuple(opponents)
        if self.against and self.self_play + sum(o.first + o.second for o in self.against) <= 0:
            raise ValueError("the opponent mix gives no env a share: make self_play, first or second positive")

    @property
    def enabled(self) -> bool:
        """Whether the mix names any opponent (otherwise the run is plain self-play)."""
        return bool(self.against)


def read_toml(path: str | os.PathLike[str], where: str | None = None) -> dict[str, Any]:
    """A config file's TOML, its errors as one-line ``ValueError`` naming the file (or ``where``)."""
    where = where or f"--config {os.fspath(path)}"
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{where}: {err}") from None
    except OSError as err:
        raise ValueError(f"{where}: cannot read it ({err.strerror or err})") from None


def parse_env_pair(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` (a game argument given on the command line) as ``(key, value)``; VALUE is a
    Python literal or, failing that, a bare word (a string)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--env expects KEY=VALUE, got {text!r}")
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value  # a bare word is a string
    return key.strip(), parsed


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
    lr: float | None = None
    """The learning rate the learners' optimisers use: set before each phase where it differs (a
    resumed optimiser would keep the saved one)."""
    accept_changes: bool = False
    """Resume even if :attr:`settings` differ from the training state's (the resume is no longer exact)."""

    def run_settings(self) -> dict[str, Any]:
        """What training states record of this recipe (see :attr:`RunKey.recorded`)."""
        return copy.deepcopy(self.settings)

    def __call__(self, episodes: int, steps: int) -> None:
        if self.lr is not None:
            for learner in self.learners:
                _set_learning_rate(learner, self.lr)
        super().__call__(episodes, steps)


def _set_learning_rate(learner: OffPolicyLearner, lr: float) -> None:
    """Set the learning rate of ``learner``'s optimiser (nothing is done where it already has it)."""
    optim = getattr(learner.algorithm, "optim", None)
    if optim is None or not callable(getattr(optim, "state_dict", None)):
        return
    state = optim.state_dict()
    if all(group.get("lr") == lr for group in state["param_groups"]):
        return
    logger.info(
        "%s: learning rate set to %g (the training state had %s)",
        learner.name,
        lr,
        sorted({group.get("lr") for group in state["param_groups"]}),
    )
    for group in state["param_groups"]:
        group["lr"] = lr
    optim.load_state_dict(state)


@dataclass(kw_only=True)
class PanelOptions:
    """The evaluation panel every test round plays the learner against (the ``[panel]`` table;
    :mod:`rbtrainer.evaluation.panel`)."""

    opponents: tuple[str, ...] = ()
    """Agent specs as 'rbtrainer eval --agents' takes them; empty: the game's default panel (random plus its
    strongest quick baseline: tic-tac-toe minimax, connect-four strong), none for other games."""
    games_per_seat: int = 50
    """Games against each opponent from each seat, every test round."""
    seed: int = 0
    """Seed of the opponents' generators."""
    metric: bool = True
    """The panel score is the test rounds' metric (the best checkpoint is the best-scoring round)."""
    off: bool = False
    """No panel at all: test rounds use the mean return over all seats."""

    def __post_init__(self) -> None:
        if isinstance(self.opponents, str):
            raise TypeError(f"opponents must be a list of agent specs, got {self.opponents!r}")
        self.opponents = tuple(self.opponents)
        boolean("off", self.off)
        if self.off and self.opponents:
            raise ValueError("[panel] off = true leaves no panel; drop opponents or off")
        if self.opponents:
            PanelConfig(
                opponents=self.opponents, games_per_seat=self.games_per_seat, seed=self.seed, metric=self.metric
            )
        positive_int("games_per_seat", self.games_per_seat)
        non_negative_int("seed", self.seed)
        boolean("metric", self.metric)

    def config(self, game: str) -> PanelConfig | Literal[False] | None:
        """The trainer's ``panel`` setting for ``game``: off, the given opponents, its default panel, or none."""
        if self.off:
            return False
        opponents = self.opponents or default_panel(game)
        if not opponents:
            return None
        return PanelConfig(opponents=opponents, games_per_seat=self.games_per_seat, seed=self.seed, metric=self.metric)


_CLASSES: dict[str, type] = {
    "trainer": TrainerConfig,
    "dqn": DQNConfig,
    "schedule": ScheduleConfig,
    "league": LeagueOptions,
    "opponents": OpponentMix,
    "panel": PanelOptions,
}


def _checked(name: str, table: Mapping[str, Any], where: str) -> Any:
    """The dataclass of table ``name`` built from ``table``; errors name the table and the key."""
    cls = _CLASSES[name]
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: [{name}] must be a table")
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ValueError(f"{where}: [{name}] has unknown key(s) {unknown}; its keys are {known}")
    try:
        return cls(**copy.deepcopy(dict(table)))
    except (ValueError, TypeError) as err:
        raise ValueError(f"{where}: [{name}] {err}") from None


def _table(obj: Any) -> dict[str, Any]:
    """A checked table as plain values (the opponent mix's opponents as tables)."""
    if isinstance(obj, OpponentMix):
        return {"self_play": obj.self_play, "against": [dataclasses.asdict(o) for o in obj.against]}
    return _fields(obj)


def check_train_tables(tables: Mapping[str, Mapping[str, Any]], where: str) -> dict[str, dict[str, Any]]:
    """The ``[trainer]``, ``[dqn]`` and ``[schedule]`` tables (and ``[league]``, ``[opponents]`` when
    there) checked by their dataclasses, with every field; other tables are copied as they are."""
    out = {name: dict(table) for name, table in tables.items()}
    for name in _CLASSES:
        if name in ("trainer", "dqn", "schedule") or name in tables:
            out[name] = _table(_checked(name, tables.get(name, {}), where))
    return out


def read_tables(path: str | os.PathLike[str], where: str | None = None) -> dict[str, dict[str, Any]]:
    """The tables of the recipe file at ``path``, each checked by its dataclass (every table in the
    result: empty ``[env]``, defaults elsewhere; a ``[league]`` table has ``enabled`` true unless it
    says otherwise)."""
    where = where or f"--config {os.fspath(path)}"
    data = read_toml(path, where)
    unknown = sorted(set(data) - set(TABLES))
    if unknown:
        raise ValueError(f"{where}: unknown table(s) {unknown}; use {sorted(TABLES)}")
    tables: dict[str, dict[str, Any]] = {name: {} for name in TABLES}
    for name, table in data.items():
        if not isinstance(table, dict):
            raise ValueError(f"{where}: [{name}] must be a table")
        tables[name] = table
    if "league" in data:
        tables["league"] = {"enabled": True, **data["league"]}  # the table turns the league on
    return check_train_tables(tables, where)


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
        for name, cls in _CLASSES.items():
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
        if "league" in tables or "league" in overrides:
            merged["league"] = {"enabled": True, **merged["league"]}  # the table turns the league on
        return cls(
            env=merged["env"],
            **{name: _checked(name, merged[name], where) for name in _CLASSES},
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
        return {"env": copy.deepcopy(self.env), **{name: _table(getattr(self, name)) for name in _CLASSES}}

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
        """Where the best test round's agents go (the schedule's template, ``{game}`` filled in)."""
        return self.schedule.checkpoint.format(game=self.game)

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
        """The settings that change what is trained beyond the trainer's: the ``[dqn]`` and
        ``[schedule]`` values (not the device, the initial epsilon or the checkpoint path), which a
        training state records and a resume compares (:class:`RecipeSchedule`)."""
        values = {**_fields(self.dqn), **_fields(self.schedule)}
        return {name: copy.deepcopy(value) for name, value in values.items() if name not in _NOT_RECORDED}

    def checkpoint_metadata(self) -> dict[str, Any]:
        """What the checkpoints record: the game arguments and the learner's settings (checked for saving)."""
        from rbtrainer.checkpoint import checkpoint_metadata

        return checkpoint_metadata({"env": self.env, "dqn": _fields(self.dqn)})

    # ------------------------------------------------------------------ building
    def build_trainer(self) -> DecentralizedTrainer:
        """The trainer of the game with the ``[trainer]`` settings."""
        from rbtrainer.trainer import DecentralizedTrainer

        return DecentralizedTrainer(self.env, **_fields(self.trainer), panel=self.panel.config(self.game))

    def self_play_agents(self, trainer: DecentralizedTrainer, seed: int | None = None) -> list[Agent]:
        """The learner in every seat (seeded ``seed``, default the trainer's seed)."""
        return self_play_agents(trainer, self.dqn, trainer.seed if seed is None else seed)

    def epsilon_schedule(self, learner: OffPolicyLearner) -> RecipeSchedule:
        """``train_fn`` lowering the learner's epsilon as the ``[schedule]`` says (and recording the
        recipe's settings in training states)."""
        s = self.schedule
        return RecipeSchedule(
            learners=[learner],
            start=s.eps_start,
            end=s.eps_end,
            episodes=s.eps_episodes,
            settings=self.recorded_settings(),
            lr=self.dqn.lr,
        )

    def build_league(self, trainer: DecentralizedTrainer, learner: OffPolicyLearner) -> League | None:
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
            learner: OffPolicyLearner = agents[0]  # type: ignore[assignment]
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


class BestSnapshot:
    """``save_best_fn`` keeping a frozen snapshot of the learner at its best test round."""

    def __init__(self, learner: OffPolicyLearner) -> None:
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
    learner: OffPolicyLearner
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
        self.trainer.save_last_fn = lambda: self.save(final_path, {}, base)

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
