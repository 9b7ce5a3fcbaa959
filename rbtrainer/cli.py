"""The ``rbtrainer`` command line: ``train``, ``test``, ``eval``, ``search``, ``play`` and ``demo``.

`tyro <https://brentyi.github.io/tyro/>`_ builds the command line from dataclasses: the options of
``train`` are the fields of :class:`~rbtrainer.trainer.TrainerConfig`,
:class:`~rbtrainer.agents.DQNConfig`, :class:`~rbtrainer.recipes.ScheduleConfig`, the league and
panel tables and the output options; ``test`` and ``eval`` offer the [trainer] settings they use
(:data:`TEST_OPTIONS`, :data:`EVAL_OPTIONS`). Their help texts are the docstrings under those fields,
shown as plain text (:func:`_plain_help`), so defaults and help have one source. A TOML file given
with ``--config`` (``train`` without one: the game's own in :data:`GAME_DEFAULT_CONFIGS`, else
:data:`DEFAULT_TRAIN_CONFIG`) is a recipe (:mod:`rbtrainer.recipes`): tables ``[env]`` (game
arguments, ``game`` naming the game), ``[trainer]``, ``[dqn]``, ``[schedule]``, ``[league]``
(league self-play, :mod:`rbtrainer.league`), ``[opponents]`` (fixed opponents beside self-play,
file only) and ``[panel]`` (the evaluation panel of the test rounds); its values become the defaults
(``--help`` shows them) and command-line flags override them. ``train`` runs the recipe. Every
command seeds with 0 unless ``--seed`` or the file says otherwise.
"""

# No ``from __future__ import annotations``: tyro reads the annotations of the classes that
# ``_command_line`` defines inside a function, which string annotations would hide.

import contextlib
import dataclasses
import functools
import io
import itertools
import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn, TypeVar

import tomllib

if TYPE_CHECKING:
    from rbtrainer.agents import DQNConfig
    from rbtrainer.metrics import TestResult
    from rbtrainer.recipes import Recipe
    from rbtrainer.trainer import DecentralizedTrainer, TrainerConfig

__all__ = ["DEFAULT_TRAIN_CONFIG", "GAME_DEFAULT_CONFIGS", "main"]

#: Base configuration of ``rbtrainer train`` when no ``--config`` is given.
DEFAULT_TRAIN_CONFIG = os.path.join(os.path.dirname(__file__), "default_train.toml")
#: Game-specific base configurations of ``rbtrainer train --env game=NAME`` without ``--config``.
GAME_DEFAULT_CONFIGS = {
    name: os.path.join(os.path.dirname(__file__), "defaults", f"{name}.toml") for name in ("tictactoe", "connect_four")
}

#: The commands of ``rbtrainer``.
COMMANDS = ("train", "test", "eval", "search", "demo", "play")

_C = TypeVar("_C")


@dataclass(kw_only=True)
class SearchCommand:
    """Hyper-parameter search with Optuna over a train config (the search extra); writes the best config as TOML."""

    config: str
    """Search file: the train tables plus [search] and [space] (see rbtrainer.search)."""
    trials: int | None = None
    """Trials to run (default: the file's [search] trials)."""
    jobs: int | None = None
    """Processes running trials side by side (default: the file's)."""
    storage: str | None = None
    """Optuna storage URL shared by several processes or machines, e.g. sqlite:///search.db (default: the file's)."""
    study_name: str | None = None
    """Study name in the storage (default: the file's)."""
    test: bool = False
    """A synthetic fitness from the settings, no training: checks the search set-up in seconds."""
    out_dir: str | None = None
    """Where best.toml and fitness.png go (default: the file's, else ./search)."""

    def run(self) -> int:
        from rbtrainer.search import load_search, run_search

        overrides = {
            name: value
            for name in ("trials", "jobs", "storage", "study_name", "out_dir")
            if (value := getattr(self, name)) is not None
        }
        if self.test:
            overrides["test"] = True
        result = run_search(load_search(self.config, **overrides))
        states = [state for _, state, _ in result.trials]
        print(
            f"{len(states)} trials: {states.count('COMPLETE')} complete, {states.count('PRUNED')} pruned, "
            f"{states.count('FAIL')} failed"
        )
        print(f"best fitness {result.best_value:.4g} with {result.best_params}")
        print(f"best config: {result.config_path} (rbtrainer train --config {result.config_path})")
        print(f"figure: {result.plot_path}")
        return 0


@dataclass(kw_only=True)
class DemoCommand:
    """Play a scripted robot-delivery game (A* robots) and draw it."""

    players: tuple[str, ...] = ("r", "b", "gr")
    """Player colours (at least 2), one robot team each."""
    robots_per_player: int = 1
    """Robots of each player."""
    required_mail: int = 3
    """Deliveries a player needs to win."""
    battery: bool = False
    """Enable the battery rules."""
    max_step: int = 600
    """Step limit of the game."""
    seed: int = 0
    """Seed of the game and the robots."""
    out_dir: str = "plots"
    """Where the final picture (robot_delivery_demo.png) and the animation go."""
    gif: bool = True
    """Also write an animated GIF (--no-gif: only the final picture)."""

    def run(self) -> int:
        from rbtrainer.demo import play_demo

        result = play_demo(
            robot_colors=self.players,
            num_robots_per_player=self.robots_per_player,
            required_mail=self.required_mail,
            with_battery=self.battery,
            max_step=self.max_step,
            seed=self.seed,
            out_dir=self.out_dir,
            gif=self.gif,
        )
        print(
            f"winner: {result.winner}  steps: {result.num_steps}  game clock: {result.game_clock}  "
            f"scores: {result.scores}"
        )
        print(f"picture: {result.picture}")
        if result.animation:
            print(f"animation: {result.animation}")
        return 0


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _field_docs(cls: type) -> dict[str, str]:
    """The docstrings under the fields of the dataclass ``cls`` and of the dataclasses it extends."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            docs.update(_module_field_docs(klass.__module__).get(klass.__qualname__, {}))
    return docs


@functools.cache
def _module_field_docs(module: str) -> dict[str, dict[str, str]]:
    """The field docstrings of every class in ``module``, by qualified name (its source parsed once)."""
    import ast
    import inspect

    try:
        tree = ast.parse(inspect.getsource(sys.modules[module]))
    except (KeyError, OSError, TypeError, SyntaxError):  # no source: tyro's own reading of the docstrings then
        return {}
    found: dict[str, dict[str, str]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                body, docs = child.body, found.setdefault(prefix + child.name, {})
                for field_, doc in itertools.pairwise(body):
                    if (
                        isinstance(field_, ast.AnnAssign)
                        and isinstance(field_.target, ast.Name)
                        and isinstance(doc, ast.Expr)
                        and isinstance(doc.value, ast.Constant)
                        and isinstance(doc.value.value, str)
                    ):
                        docs[field_.target.id] = inspect.cleandoc(doc.value.value)
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, f"{prefix}{child.name}.<locals>.")

    visit(tree, "")
    return found


_DEFAULT_NOTE = re.compile(r"\s*\((default\b[^()]*(?:\([^()]*\)[^()]*)*)\)")
"""A "(default ...)" remark in a docstring (one level of parentheses inside it allowed)."""


def _plain(text: str) -> str:
    """A docstring as plain text for --help: one line, reST markup dropped (``x`` and `x` as x,
    :class:`~a.b.C` as C, :mod:`a.b` as a.b); the docstrings stay reST for the API docs."""
    text = " ".join(text.split())
    text = re.sub(r":[\w:]+:`~(?:[\w.]*\.)?([^`.]+)`", r"\1", text)
    text = re.sub(r":[\w:]+:`([^`]+)`", r"\1", text)
    return re.sub(r"``(.+?)``|`([^`]+)`", lambda m: m.group(1) or m.group(2), text)


def _help(doc: str) -> tuple[str, Any]:
    """The help text of a field's docstring, and its default hint: a "(default ...)" remark in the
    docstring (which says what a default of None means) moves to where tyro shows the default, so
    the help says "(default: ...)" once; ``None``: tyro's own hint."""
    text = _plain(doc)
    found = _DEFAULT_NOTE.search(text)
    if found is None:
        return text, None
    text = (text[: found.start()] + text[found.end() :]).strip()
    meaning = re.sub(r"^default:?\s*", "", found.group(1))

    def hint(label: str) -> str:
        return f"(default: {meaning if label in ('None', '') else label})"

    return text, hint


def _plain_help(cls: type[_C], overrides: dict[str, Any] | None = None) -> type[_C]:
    """A subclass of the dataclass ``cls`` whose options show its field docstrings as plain text
    (:func:`_help`); ``overrides``: annotations replacing those of some fields."""
    import typing

    from tyro.conf import arg

    hints = typing.get_type_hints(cls, include_extras=True)
    docs = _field_docs(cls)
    annotations: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in docs:
            text, hint = _help(docs[f.name])
            annotations[f.name] = Annotated[hints[f.name], arg(help=text, help_behavior_hint=hint)]
    annotations.update(overrides or {})

    class Plain(cls):  # type: ignore[valid-type, misc]
        pass

    Plain.__annotations__ = annotations
    Plain.__doc__ = cls.__doc__
    return Plain


_SEED_HELP = "Seed of the games, and of the agents (derived from it); the same in every command; None: drawn at random."


def _unchecked(
    cls: type[_C], table: str, terminal_default: bool = False, offered: Sequence[str] | None = None
) -> type[_C]:
    """``cls`` without its ``__post_init__`` checks, for tyro to fill in; only the fields in
    ``offered`` are options (default: all; the others keep their ``[table]`` values).

    tyro shows a ``ValueError`` raised while it builds an object in a box of its own; parsing into
    this subclass and building the real ``cls`` afterwards keeps every bad value on one error path
    (:func:`_fail`). The help of its options is its field docstrings as plain text.
    """
    import typing

    from tyro.conf import Suppress, arg

    hints = typing.get_type_hints(cls, include_extras=True)
    overrides: dict[str, Any] = {}
    if "progress_bar" in hints:
        # A flag pair (--progress-bar / --no-progress-bar) forcing the bar on or off; without either
        # (and without a TOML value) the default is the library's None, a bar only on a terminal,
        # resolved here because a flag pair needs a bool default (_trainer_defaults).
        hint = "(default: only when stderr is a terminal)" if terminal_default else None
        help_ = "Show a tqdm progress bar while training."
        overrides["progress_bar"] = Annotated[bool, arg(help=help_, help_behavior_hint=hint)]
    if table == "trainer":  # the command line's seed: 0 unless --config or --seed says otherwise (_trainer_defaults)
        overrides["seed"] = Annotated[int | None, arg(help=_SEED_HELP)]
        overrides["plot_dir"] = Annotated[str, arg(help="Where the figures go: train's curve, eval's heat-map.")]
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if offered is not None and f.name not in offered:
            overrides[f.name] = Annotated[hints[f.name], Suppress]
    plain = _plain_help(cls, overrides)

    class Unchecked(plain):  # type: ignore[valid-type, misc]
        def __post_init__(self) -> None:
            pass

    Unchecked.__doc__ = f"The [{table}] table of --config; flags override it."
    return Unchecked


def _trainer_defaults(table: dict[str, Any]) -> dict[str, Any]:
    """The ``[trainer]`` values as defaults of the options: without a ``progress_bar`` value (None),
    the bar is drawn only when stderr is a terminal (a log file or CI gets none); without a ``seed``
    the seed is 0, in every command (the library's None would draw one at random)."""
    table = dict(table)
    if table.get("progress_bar") is None:
        table["progress_bar"] = sys.stderr.isatty()
    if table.get("seed") is None:
        table["seed"] = 0
    return table


def _config_path(command: str, argv: Sequence[str]) -> str | None:
    """The ``--config`` file named on the command line (the last one wins, as in argparse)."""
    if command not in ("train", "test", "eval"):
        return None
    path = _default_config(argv) if command == "train" else None
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--config="):
            path = arg.partition("=")[2]
    return path


def _default_config(argv: Sequence[str]) -> str:
    """The base configuration of ``train`` without ``--config``: the named game's own, or the robot game's."""
    game = None
    for i, arg in enumerate(argv):
        if arg == "--env" and i + 1 < len(argv):
            text = argv[i + 1]
        else:
            text = arg.partition("=")[2] if arg.startswith("--env=") else ""
        if text.startswith("game="):
            game = text.partition("=")[2]
    return GAME_DEFAULT_CONFIGS.get(game or "", DEFAULT_TRAIN_CONFIG)


def _read_tables(path: str | None) -> dict[str, dict[str, Any]]:
    """The tables of the recipe file at ``path`` (all empty without one), each checked by its dataclass."""
    from rbtrainer.config import TABLES, read_tables

    if path is None:
        return {name: {} for name in TABLES}
    tables = read_tables(path, f"--config {path}")
    with open(path, "rb") as file:  # read_tables filled in every default: which did the file give?
        given = tomllib.load(file).get("trainer", {})
    if "progress_bar" not in given:
        tables["trainer"]["progress_bar"] = None  # the library's None: a bar only on a terminal
    return tables


def _env_args(table: dict[str, Any], pairs: Sequence[str], config: str | None) -> dict[str, Any]:
    """Game arguments: the ``[env]`` table updated by the ``--env`` pairs."""
    from rbtrainer.config import parse_env_pair

    cli_env = dict(parse_env_pair(text) for text in pairs)
    env = dict(table)
    if config == DEFAULT_TRAIN_CONFIG and cli_env.get("game", env.get("game")) != env.get("game"):
        env = {}  # the built-in defaults describe the robot game only
    env.update(cli_env)
    return env


#: The [planning] settings ``train`` offers as --planning.* options (``enabled`` is --learner).
PLANNING_OPTIONS = (
    "simulations",
    "play_simulations",
    "c_puct",
    "dirichlet_alpha",
    "noise_fraction",
    "sample_moves",
    "random_moves",
    "solver",
    "trap_margin",
    "trap_depth",
    "trap_check_simulations",
    "channels",
    "blocks",
    "hidden",
    "lr",
    "weight_decay",
    "search_value_weight",
    "buffer_size",
    "mirror",
    "device",
)

#: The [trainer] settings ``test`` offers as options (the others train; a --config file's values are kept).
TEST_OPTIONS = (
    "num_test_envs",
    "episodes_per_test",
    "seed",
    "backend",
    "batch_games",
    "rollout_workers",
    "torch_threads",
    "check_finite",
    "step_timeout",
)
#: The [trainer] settings ``eval`` offers: its games are played on the test envs, --games of them per seating.
EVAL_OPTIONS = (*(name for name in TEST_OPTIONS if name != "episodes_per_test"), "plot_dir")


def _command_line(config: str | None, tables: dict[str, dict[str, Any]]) -> Any:
    """The dataclass tyro parses the command line into; ``tables`` give the defaults of the options.

    Built here, not at module level, because its defaults come from the ``--config`` file. The
    classes come from :mod:`rbtrainer.config`, which imports neither torch nor tianshou: this
    module imports them only when a command runs, so ``--help`` and parse errors are quick.
    """
    from tyro.conf import CascadeSubcommandArgs, FlagCreatePairsOff, OmitArgPrefixes, UseAppendAction, arg, subcommand

    from rbtrainer.config import (
        TABLES,
        DQNConfig,
        LeagueOptions,
        OpponentMix,
        PanelOptions,
        PlanningOptions,
        ScheduleConfig,
        TrainerConfig,
    )
    from rbtrainer.watch import PlayCommand

    trainer_table = _trainer_defaults(tables["trainer"])
    terminal = tables["trainer"].get("progress_bar") is None
    trainer_options = _unchecked(TrainerConfig, "trainer", terminal_default=terminal)
    test_options = _unchecked(TrainerConfig, "trainer", offered=TEST_OPTIONS)
    eval_options = _unchecked(TrainerConfig, "trainer", offered=EVAL_OPTIONS)
    dqn_options = _unchecked(DQNConfig, "dqn")
    schedule_options = _unchecked(ScheduleConfig, "schedule", offered=("eps_start", "eps_end", "eps_episodes"))
    league_flags: type = _unchecked(LeagueOptions, "league")
    planning_flags: type = _unchecked(PlanningOptions, "planning", offered=PLANNING_OPTIONS)
    default_learner: Literal["dqn", "planning"] = "planning" if tables["planning"].get("enabled") else "dqn"
    panel_flags: type = _unchecked(PanelOptions, "panel")
    listed = ", ".join(f"[{name}]" for name in TABLES)

    def config_option(help_: str, hint: str) -> Any:
        return Annotated[str | None, arg(metavar="PATH", help=help_, help_behavior_hint=hint)]

    @dataclass(kw_only=True)
    class GameOptions:
        config: str | None = None
        """Recipe file (TOML); its tables set the defaults of the options."""
        env: Annotated[tuple[str, ...], UseAppendAction, arg(metavar="KEY=VALUE")] = ()
        """Game argument over [env] (repeatable), e.g. --env game=tictactoe; VALUE: a Python literal or a word."""

        def game_args(self) -> dict[str, Any]:
            return _env_args(tables["env"], self.env, config)

    @dataclass(kw_only=True)
    class OutputOptions:
        """Where the run writes, and whether it replaces (--overwrite) or continues (--resume) an earlier run."""

        checkpoint: str = tables["schedule"].get("checkpoint", ScheduleConfig().checkpoint)
        """Where the agents of the best test round go ({game}: the game name, {learner}: dqn or planning; [schedule]
        checkpoint in --config);
        the final ones: the same name + _last, the training state: the same name + .state."""
        logdir: str = "runs"
        """CSV logs, and TensorBoard logs with the tensorboard extra, go to LOGDIR/<checkpoint name>; '' for none."""
        resume: Annotated[str | None, arg(metavar="STATE")] = None
        """Continue the run whose training state is STATE (written beside the checkpoint, and on Ctrl-C/SIGTERM);
        a run that reached its budget says so and changes nothing: give a larger budget to train it further."""
        overwrite: bool = False
        """Replace an earlier run's checkpoints, training state and logs (otherwise refused); they are kept aside
        until the new run has saved a checkpoint, and put back if it fails before."""
        resume_changed: bool = False
        """With --resume: accept [dqn]/[schedule] settings other than the state's (refused otherwise); the resume
        is then no longer exact, and the checkpoints record the changes."""

    output_options = _plain_help(OutputOptions)

    @dataclass(kw_only=True)
    class Train(GameOptions):
        """Train self-play DQN (default game: robot_delivery); save the learning curve and checkpoints."""

        output: Annotated[OutputOptions, OmitArgPrefixes, arg(constructor=output_options)] = field(
            default_factory=lambda: output_options()
        )
        trainer: Annotated[TrainerConfig, OmitArgPrefixes, arg(constructor=trainer_options)] = field(
            default_factory=lambda: trainer_options(**trainer_table)
        )
        learner: Literal["dqn", "planning"] = default_learner
        """The learner in every seat: DQN ([dqn] options), or the planning learner (search guided by a network,
        --planning.* options; tictactoe and connect_four); default: planning when --config has a [planning] table."""
        dqn: Annotated[DQNConfig, OmitArgPrefixes, arg(constructor=dqn_options)] = field(
            default_factory=lambda: dqn_options(**tables["dqn"])
        )
        planning: Annotated[PlanningOptions, arg(constructor=planning_flags)] = field(
            default_factory=lambda: planning_flags(**tables["planning"])
        )
        """The planning learner's settings (with --learner planning)."""
        schedule: Annotated[ScheduleConfig, OmitArgPrefixes, arg(constructor=schedule_options)] = field(
            default_factory=lambda: schedule_options(**tables["schedule"])
        )
        league: Annotated[LeagueOptions, arg(constructor=league_flags)] = field(
            default_factory=lambda: league_flags(**tables["league"])
        )
        """League self-play (rbtrainer.league): on with --league.enabled or a [league] table in --config."""
        panel: Annotated[PanelOptions, arg(constructor=panel_flags)] = field(
            default_factory=lambda: panel_flags(**tables["panel"])
        )
        """Evaluation panel of every test round (rbtrainer.evaluation.panel): its score picks the best checkpoint."""

        def opponents(self) -> OpponentMix:
            """The [opponents] table (from the file only); a game's built-in defaults drop theirs for a league."""
            if self.league.enabled and config in GAME_DEFAULT_CONFIGS.values():
                return OpponentMix()
            return OpponentMix(**tables["opponents"])

        def run(self) -> int:
            from rbtrainer.recipes import Recipe

            out = self.output
            recipe = Recipe(
                env=self.game_args(),
                trainer=TrainerConfig(**_fields(self.trainer)),
                dqn=DQNConfig(**_fields(self.dqn)),
                planning=PlanningOptions(**{**_fields(self.planning), "enabled": self.learner == "planning"}),
                schedule=ScheduleConfig(**{**_fields(self.schedule), "checkpoint": out.checkpoint}),
                league=LeagueOptions(**_fields(self.league)),
                opponents=self.opponents(),
                panel=PanelOptions(**_fields(self.panel)),
            )
            return _train(recipe, _RunOutputs(out.resume, out.logdir, out.overwrite, out.resume_changed))

    train_config = config_option(
        f"Recipe file (TOML) with tables {listed}; they set the defaults of the options.",
        "(default: the game's own recipe, rbtrainer/defaults/<game>.toml, for tictactoe and connect_four; else "
        "rbtrainer/default_train.toml)",
    )
    other_config = config_option(
        f"Recipe file (TOML; tables {listed}): its [env] and [trainer] tables set the defaults of the options.",
        "(default: none)",
    )

    @dataclass(kw_only=True)
    class Test(GameOptions):
        """Evaluate a checkpoint against the random-agent baseline."""

        checkpoint: Annotated[str, arg(metavar="PATH")]
        """Checkpoint written by 'rbtrainer train'."""
        device: str = "cpu"
        """Where the checkpoint's learners live: cpu, cuda, cuda:N, mps or auto (whatever they were trained on)."""
        trainer: Annotated[TrainerConfig, OmitArgPrefixes, arg(constructor=test_options)] = field(
            default_factory=lambda: test_options(**trainer_table)
        )

        def run(self) -> int:
            return _test(TrainerConfig(**_fields(self.trainer)), self.checkpoint, self.game_args(), self.device)

    @dataclass(kw_only=True)
    class Eval(GameOptions):
        """Cross-play tournament of checkpoints and baselines: prints the table and ratings, writes a heat-map.
        Without --env or --config the game is the one the first checkpoint entrant records."""

        agents: Annotated[tuple[str, ...], arg(metavar="SPEC")]
        """Entrants: checkpoint paths (PATH@N: a planning learner searching N simulations per move) or baselines
        (random, minimax, strong, opportunist, negamax[:DEPTH], astar, mcts[:N])."""
        games: int = 20
        """Games per seat assignment (two-seat games: each pair meets this often in each seat order)."""
        anchor: str | None = None
        """Entrant rated 0 Elo (default: the weakest)."""
        device: str = "cpu"
        """Where checkpoint entrants live: cpu, cuda, cuda:N, mps or auto."""
        tactics: bool = False
        """Connect four: also count each entrant's immediate wins taken and single threats blocked, per seat."""
        trainer: Annotated[TrainerConfig, OmitArgPrefixes, arg(constructor=eval_options)] = field(
            default_factory=lambda: eval_options(**trainer_table)
        )

        def run(self) -> int:
            from rbtrainer.evaluation.specs import specs_env

            cfg = TrainerConfig(**_fields(self.trainer))
            env_args = self.game_args() or specs_env(self.agents)  # no --env / [env]: the first checkpoint's game
            return _eval(cfg, self.agents, self.games, self.anchor, env_args, self.device, self.tactics)

    train = _plain_help(Train, {"config": train_config})
    test = _plain_help(Test, {"config": other_config})
    eval_ = _plain_help(Eval, {"config": other_config})
    search, demo, play = _plain_help(SearchCommand), _plain_help(DemoCommand), _plain_help(PlayCommand)

    @dataclass(kw_only=True)
    class CommandLine:
        """Train independent agents that play games together (rbtrainer --version: the version)."""

        command: Annotated[
            Annotated[train, subcommand("train")]  # type: ignore[valid-type]
            | Annotated[test, subcommand("test")]  # type: ignore[valid-type]
            | Annotated[eval_, subcommand("eval")]  # type: ignore[valid-type]
            | Annotated[search, subcommand("search")]  # type: ignore[valid-type]
            | Annotated[demo, subcommand("demo")]  # type: ignore[valid-type]
            | Annotated[play, subcommand("play")],  # type: ignore[valid-type]
            arg(name=""),
        ]
        verbose: Annotated[bool, arg(aliases=("-v",)), CascadeSubcommandArgs, FlagCreatePairsOff] = False
        """Log at INFO level."""

    return CommandLine


def _trainer(trainer_cfg: "TrainerConfig", env_args: dict[str, Any]) -> "DecentralizedTrainer":
    from rbtrainer.trainer import DecentralizedTrainer

    return DecentralizedTrainer(env_args, **_fields(trainer_cfg))


def _self_play_agents(trainer: "DecentralizedTrainer", dqn_cfg: "DQNConfig", seed: int) -> list[Any]:
    from rbtrainer.recipes import self_play_agents

    return self_play_agents(trainer, dqn_cfg, seed)


def _random_baseline(trainer: "DecentralizedTrainer") -> "TestResult":
    from rbtrainer.agents import RandomAgent

    return trainer.test([RandomAgent(seed=1000 + s) for s in range(trainer.num_seats)], eval_metrics=True)


def _print_result(label: str, result: "TestResult") -> None:
    import math

    wins = ", ".join(f"{p}: {n}" for p, n in (result.wins or {}).items())
    span = result.mean_time_span  # NaN when no game had a winner: nothing to average
    span_text = f"{span:.1f}" if span is not None and math.isfinite(span) else "n/a (no game was won)"
    print(
        f"{label:<14} reward metric {result.reward_metric:8.3f}   mean length {result.mean_episode_length:7.1f}   "
        f"wins {{{wins}}}  draws {result.draws}  mean time span {span_text}"
    )


@dataclass(frozen=True)
class _RunOutputs:
    """Where a ``train`` run writes besides its checkpoints, and whether it may replace an earlier run."""

    resume: str | None
    logdir: str
    overwrite: bool
    resume_changed: bool = False


_BACKUP = ".overwritten"
"""Suffix of the name an earlier run's file has while ``--overwrite`` keeps it aside (``.<name>.overwritten``)."""


def _backup_name(path: str) -> str:
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}{_BACKUP}")


@dataclass(frozen=True)
class _OutputPaths:
    """Every file and folder a ``train`` run writes (besides its figure)."""

    checkpoint: str
    last: str
    state: str
    log_dir: str | None

    @property
    def files(self) -> list[str]:
        return [self.checkpoint, self.last, self.state]

    @property
    def locked(self) -> list[str]:
        """The paths whose lock files (``<path>.lock``) guard the run: checkpoint, state, log folder."""
        paths = [self.checkpoint, self.state]
        return [*paths, self.log_dir] if self.log_dir else paths

    def earlier(self) -> list[str]:
        """The files of an earlier run in the way of this one."""
        logs = [os.path.join(self.log_dir, n) for n in ("tests.csv", "updates.csv")] if self.log_dir else []
        found = [p for p in [*self.files, *logs] if os.path.exists(p)]
        if self.log_dir and os.path.isdir(self.log_dir):
            found += sorted(os.path.join(self.log_dir, n) for n in os.listdir(self.log_dir) if _is_events(n))
        return found


def _is_events(name: str) -> bool:
    return name.startswith("events.out.tfevents")


def _check_outputs(paths: _OutputPaths, outputs: _RunOutputs) -> None:
    """Every check of the outputs that needs no file touched: names, locks, the resumed state, earlier results."""
    from rbtrainer.files import lock_holder, name_too_long

    for what, path in (("--checkpoint", paths.checkpoint), ("--checkpoint", paths.last), ("--state-path", paths.state)):
        problem = name_too_long(path)
        if problem is not None:
            raise ValueError(f"{what}: {problem}; choose a shorter name")
    for path in paths.locked:
        pid = lock_holder(f"{os.path.abspath(path)}.lock")
        if pid is not None:
            who = f"PID {pid}" if pid > 0 else "another process"
            raise OSError(
                f"{path} is in use by another rbtrainer train ({who}, lock {os.path.abspath(path)}.lock); wait for "
                "it to end, or give --checkpoint another path"
            )
    leftovers = [_backup_name(p) for p in paths.files if os.path.exists(_backup_name(p))]
    if leftovers:
        raise FileExistsError(
            f"an interrupted --overwrite left the earlier run's files aside: {', '.join(leftovers)}; "
            "move them back (drop the leading '.' and the .overwritten suffix) or remove them"
        )
    if outputs.resume_changed and outputs.resume is None:
        raise ValueError("--resume-changed accepts changed settings of a resumed run; give --resume STATE too")
    if outputs.resume is not None:
        if outputs.overwrite:
            raise ValueError("--overwrite and --resume: a resumed run continues its own files; drop --overwrite")
        if not os.path.exists(outputs.resume):
            raise FileNotFoundError(f"--resume {outputs.resume}: no such training state")
        if os.path.realpath(outputs.resume) != os.path.realpath(paths.state):
            raise ValueError(
                f"--resume {outputs.resume} is not the training state of this run's files (--checkpoint "
                f"{paths.checkpoint} keeps its state in {paths.state}): give the --checkpoint of the run that "
                f"wrote {outputs.resume} (or its --state-path); a resumed run never writes into another run's files"
            )
        return
    earlier = paths.earlier()
    if earlier and not outputs.overwrite:
        raise FileExistsError(
            f"an earlier run's results are in the way: {', '.join(earlier)}; pass --overwrite to replace them, "
            "--resume STATE to continue that run, or --checkpoint another path"
        )


class _OutputClaim:
    """A run's hold on its output paths: the lock, and with ``--overwrite`` the earlier run kept aside.

    :meth:`move_aside` renames the earlier run's files to ``.<name>.overwritten`` beside them, once
    the new run is built and checked. They are deleted when the new run has saved something of its
    own (a test round's checkpoint or a training state) or ends without an error (finished or
    interrupted); if it fails before that, its own files are removed and the earlier ones put back.
    """

    def __init__(self, paths: _OutputPaths) -> None:
        from rbtrainer.files import OutputLock

        self.paths = paths
        self.lock = OutputLock(paths.locked)
        self.moved: list[tuple[str, str]] = []
        self.saved = False

    def __enter__(self) -> "_OutputClaim":
        from rbtrainer.files import LockedError

        try:
            self.lock.acquire()
        except LockedError as err:
            who = f"PID {err.pid}" if err.pid else "another process"
            raise OSError(
                f"the outputs of this run are in use by another rbtrainer train ({who}, lock {err.lock}); wait for "
                "it to end, or give --checkpoint another path"
            ) from None
        return self

    def move_aside(self) -> None:
        try:
            for path in self.paths.earlier():
                backup = _backup_name(path)
                os.replace(path, backup)
                self.moved.append((path, backup))
        except OSError:
            self._put_back()
            raise

    def mark_saved(self) -> None:
        """The new run saved a file of its own: the earlier run's files are no longer needed."""
        if not self.saved:
            self.saved = True
            self._drop_backups()

    def _drop_backups(self) -> None:
        for _, backup in self.moved:
            with contextlib.suppress(FileNotFoundError):
                os.remove(backup)
        self.moved.clear()

    def _put_back(self) -> None:
        paths = self.paths
        if paths.log_dir and os.path.isdir(paths.log_dir):  # the new run's logs first
            for name in os.listdir(paths.log_dir):
                if name in ("tests.csv", "updates.csv") or _is_events(name):
                    os.remove(os.path.join(paths.log_dir, name))
        for path in paths.files:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        for path, backup in reversed(self.moved):
            os.replace(backup, path)
        self.moved.clear()

    def __exit__(self, exc_type: Any, *exc: object) -> None:
        try:
            if not self.moved:
                return
            if exc_type is None or self.saved or os.path.exists(self.paths.state):
                self._drop_backups()  # the new run stands: finished, interrupted, or resumable from its state
            else:
                logging.getLogger(__name__).warning("the run failed before saving anything: earlier run put back")
                self._put_back()
        finally:
            self.lock.release()


def _deferred_logger(log_dir: str) -> Any:
    """The trainer's logger until the run holds its outputs: it remembers ``begin`` and opens the
    CSV and TensorBoard loggers (which create the log files) only when its ``open()`` is called."""
    from rbtrainer.logs import CSVLogger, MultiLogger, TensorBoardLogger, TrainingLogger, tensorboard_installed

    class DeferredLogger(TrainingLogger):
        def __init__(self) -> None:
            self.real: TrainingLogger | None = None
            self.begun: tuple[int | None] | None = None

        def open(self) -> None:
            loggers: list[TrainingLogger] = [CSVLogger(log_dir)]
            if tensorboard_installed():  # the tensorboard extra; without it the CSV tables only
                loggers.append(TensorBoardLogger(log_dir))
            self.real = MultiLogger(loggers)
            if self.begun is not None:
                self.real.begin(*self.begun)

        def _opened(self) -> TrainingLogger:
            if self.real is None:
                raise RuntimeError(f"the logs in {log_dir} are not open yet")
            return self.real

        def begin(self, resumed_at_step: int | None) -> None:
            self.begun = (resumed_at_step,)
            if self.real is not None:
                self.real.begin(resumed_at_step)

        def log_test(self, step: int, values: Any) -> None:
            self._opened().log_test(step, values)

        def log_update(self, step: int, values: Any) -> None:
            self._opened().log_update(step, values)

        def flush(self) -> None:
            if self.real is not None:
                self.real.flush()

        def close(self) -> None:
            if self.real is not None:
                self.real.close()

    return DeferredLogger()


def _resume_changes(recipe: "Recipe", state_path: str) -> dict[str, dict[str, Any]]:
    """The recorded settings of the state at ``state_path`` that ``recipe`` changes: name -> saved, now."""
    from rbtrainer.run.state import read_training_state

    saved = read_training_state(state_path).key.recorded
    now = recipe.recorded_settings()
    plain = lambda v: list(v) if isinstance(v, (list, tuple)) else v  # noqa: E731
    return {
        name: {"saved": saved[name], "now": value}
        for name, value in now.items()
        if name in saved and plain(saved[name]) != plain(value)
    }


def _complete_run(recipe: "Recipe", state_path: str, last_path: str) -> str | None:
    """Why resuming the run of the training state at ``state_path`` has nothing to train under
    ``recipe``'s budgets (``None``: it has). A resumed run whose budget is reached would still end
    itself: cut the logs back to the state, and write the state's agents over the final ones.

    The run is complete when the state already reached the budget, or when the final agents'
    checkpoint records that the run finished (:func:`rbtrainer.recipes._run_end`: a finished run
    writes no state at its last round, so its state is behind its end) with counts that reach it.
    A larger budget than the run's own is not reached: that run continues.
    """
    from rbtrainer.checkpoint import Checkpoint
    from rbtrainer.run.state import read_training_state

    budget = recipe.trainer
    stats = read_training_state(state_path).stats
    ended: tuple[int, int] | None = None
    if budget.budget_reached(stats.collected_episodes, stats.collected_steps):
        ended = (stats.collected_episodes, stats.collected_steps)
    elif os.path.exists(last_path):
        try:
            end = Checkpoint.read(last_path).metadata.get("run_end")
        except (OSError, ValueError):  # a damaged final checkpoint says nothing: the run continues and rewrites it
            end = None
        if isinstance(end, dict) and end.get("finished") and budget.budget_reached(end["episodes"], end["env_steps"]):
            ended = (int(end["episodes"]), int(end["env_steps"]))
    if ended is None:
        return None
    limits = [
        f"--{name.replace('_', '-')} {value}"
        for name, value in (("episodes_per_train", budget.episodes_per_train), ("max_env_steps", budget.max_env_steps))
        if value is not None
    ]
    return (
        f"rbtrainer train: the run of --resume {state_path} is complete ({ended[0]} episodes / {ended[1]} env steps "
        f"reach its budget {' or '.join(limits)}); nothing trained, no file changed. To train it further, resume "
        "with a larger budget"
    )


class _StopOnSignals:
    """SIGINT/SIGTERM while training: the first asks the trainer to stop after its collection phase
    (it then writes its training state, last agents and curve); a second exits at once (files are
    written atomically, so none is left half-written)."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self, trainer: "DecentralizedTrainer") -> None:
        self.trainer = trainer
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        import signal

        if self.received is not None:
            print(f"\nrbtrainer train: {signal.Signals(signum).name} again, exiting now", file=sys.stderr, flush=True)
            raise SystemExit(128 + signum)
        self.received = signum
        print(
            f"\nrbtrainer train: {signal.Signals(signum).name} received, stopping after this collection phase "
            "(send it again to exit at once)",
            file=sys.stderr,
            flush=True,
        )
        self.trainer.request_stop()

    def __enter__(self) -> "_StopOnSignals":
        import signal

        for name in self.SIGNALS:
            signum = getattr(signal, name)
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _train(recipe: "Recipe", outputs: _RunOutputs | None = None) -> int:
    """Run ``recipe``. Every check comes before the first file is touched: the output names and
    locks, the resumed state's path, then the recipe built (game, learner, league, opponents) and
    the run started (panel, the state's settings); only then does the run lock its outputs, move an
    earlier run aside (``--overwrite``) and open its logs."""
    from rbtrainer.checkpoint import load_agents

    outputs = outputs or _RunOutputs(None, "", False)
    path, last_path = recipe.checkpoint_path, recipe.last_checkpoint_path
    if recipe.trainer.state_path is None:
        recipe = recipe.replace(trainer={"state_path": recipe.default_state_path})
    state_path = recipe.trainer.state_path or recipe.default_state_path
    log_dir = os.path.join(outputs.logdir, os.path.splitext(os.path.basename(path))[0]) if outputs.logdir else None
    paths = _OutputPaths(path, last_path, state_path, log_dir)
    metadata = recipe.checkpoint_metadata()  # what the checkpoints will hold
    _check_outputs(paths, outputs)  # before anything is built
    if outputs.resume is not None:
        complete = _complete_run(recipe, outputs.resume, last_path)
        if complete is not None:
            print(complete)
            return 0
    if outputs.resume is not None and outputs.resume_changed:
        changes = _resume_changes(recipe, outputs.resume)
        if changes:
            metadata["resumed_with_changes"] = changes
            listed = ", ".join(f"{n} {c['saved']!r} -> {c['now']!r}" for n, c in changes.items())
            print(f"rbtrainer train: resuming with changed settings ({listed}): the resume is no longer exact")

    with recipe.build() as run:
        trainer, agents, league = run.trainer, run.agents, run.league
        run.check_outputs(path, last_path)
        logs = _deferred_logger(log_dir) if log_dir is not None else None
        trainer.logger = logs
        with _OutputClaim(paths) as claim:
            # the league's pool and scores travel with the agents; a test round's checkpoint: the new run stands
            run.save_checkpoints(path, last_path, metadata, on_best=claim.mark_saved)
            training = run.start(resume=outputs.resume, resume_changed=outputs.resume_changed)  # the last checks
            if outputs.resume is None:  # a resumed run continues its own files: nothing of it is "earlier"
                claim.move_aside()
            try:
                with training, _StopOnSignals(trainer) as signals:
                    if logs is not None:
                        logs.open()
                    for _ in training:
                        pass
            finally:
                if trainer.logger is not None:
                    trainer.logger.close()
            stats = training.stats
        print(
            f"trained {stats.collected_episodes} episodes / {stats.collected_steps} env steps / "
            f"{stats.gradient_steps} gradient steps in {stats.training_time:.0f} s "
            f"({stats.steps_per_second:.0f} env steps/s while collecting and learning)"
        )
        if stats.interrupted:
            print(f"interrupted: training state {stats.state_path}, last agents {last_path}, curve {stats.plot_path}")
            print(f"resume with the same options plus: --resume {stats.state_path}")
            return 128 + (signals.received or 0) if signals.received else 1
        best_round = [r for r in stats.panel if r.episodes == stats.best_episode]
        if best_round:  # the panel's score is the metric, or reported beside it
            print(f"best test round at {stats.best_episode} episodes, against the panel:\n{best_round[-1].table()}")
        print(f"best test reward metric {stats.best_reward_metric:.3f} at {stats.best_episode} episodes")
        if league is not None and stats.league is not None:
            print(
                f"league: {len(stats.league.snapshots)} snapshots taken, pool {league.member_names}, "
                f"score vs the pool in the last test round {stats.league.test_score[-1]:.3f}"
            )
        final = trainer.test(agents, eval_metrics=True)
        _print_result("final agents", final)
        if stats.best_episode == stats.collected_episodes:  # the last test round was the best: the same agents
            _print_result("best agents", final)
        else:
            load_agents(path, agents)
            _print_result("best agents", trainer.test(agents, eval_metrics=True))
        _print_result("random agents", _random_baseline(trainer))
        print(f"curve: {stats.plot_path}")
        print(f"checkpoint: {path} (best test round; final agents: {last_path})")
        if log_dir is not None:
            from rbtrainer.logs import tensorboard_installed

            if tensorboard_installed():
                print(f"logs: {log_dir} (tensorboard --logdir {outputs.logdir})")
            else:
                print(f'logs: {log_dir} (CSV; pip install "rbtrainer[tensorboard]" for TensorBoard event files)')
    return 0


def _test(trainer_cfg: "TrainerConfig", checkpoint: str, env_args: dict[str, Any], device: str = "cpu") -> int:
    from rbtrainer.agents import DQNConfig
    from rbtrainer.checkpoint import Checkpoint, load_agents

    saved = Checkpoint.read(checkpoint)
    asked = env_args.get("game", saved.game)
    hint = (
        f" (the game of --env / --config): leave the game out to test them on {saved.game!r}, "
        f"or give a checkpoint trained on {asked!r}"
    )
    env_args = saved.env_args_for(env_args, hint)
    dqn_cfg = DQNConfig(**{**saved.metadata.get("dqn", {}), "device": device})  # not the device it was trained on
    with _trainer(trainer_cfg, env_args) as trainer:
        agents = _self_play_agents(trainer, dqn_cfg, seed=0)
        try:
            load_agents(checkpoint, agents)
        except ValueError as err:
            origin = f"was trained on {saved.game!r} with env {saved.env_args}" if saved.game else "records no game"
            raise ValueError(
                f"checkpoint {checkpoint} {origin}; its agents do not fit {trainer.game_name!r} with env {env_args} "
                f"(use the game arguments it was trained with): {err}"
            ) from None
        _print_result("trained", trainer.test(agents, eval_metrics=True))
        _print_result("random agents", _random_baseline(trainer))
    return 0


def _eval(
    trainer_cfg: "TrainerConfig",
    specs: Sequence[str],
    games: int,
    anchor: str | None,
    env_args: dict[str, Any],
    device: str = "cpu",
    tactics: bool = False,
) -> int:
    from rbtrainer.agents.base import Agent, unique_name
    from rbtrainer.evaluation import TacticsRecorder, agent_from_spec, tactics_table, tournament
    from rbtrainer.evaluation.specs import spec_label
    from rbtrainer.plotting import plot_crossplay
    from rbtrainer.rng import spawn_seeds
    from rbtrainer.validation import positive_int

    positive_int("games", games)
    if len(specs) < 2:
        raise ValueError(f"--agents needs at least two entrants, got {len(specs)}")
    with _trainer(trainer_cfg, env_args) as trainer:
        if tactics and trainer.game_name != "connect_four":
            raise ValueError(f"--tactics counts connect-four tactics; this game is {trainer.game_name!r}")
        names: list[str] = []
        entrants: dict[str, Agent] = {}
        for spec, seed in zip(specs, spawn_seeds(trainer.seed, len(specs), stream=8)):
            name = unique_name(spec_label(spec), names)  # checkpoints by file
            names.append(name)
            agent = agent_from_spec(spec, trainer, seed=seed, device=device)
            entrants[name] = TacticsRecorder(agent) if tactics else agent
        if anchor is not None and anchor not in entrants:
            raise ValueError(f"--anchor {anchor!r} is not one of the entrants {names}")
        result = tournament(trainer, entrants, games, seed=trainer.seed, anchor=anchor)
        print(f"{trainer.game_name}: {len(result.games)} games, seed {trainer.seed}")
        print(result.table())
        print("\nscore of row against column:")
        width = max(len(n) for n in names)
        print(" " * width + "".join(f" {k:>6}" for k in range(len(names))))
        for k, name in enumerate(names):
            cells = "".join("      -" if k == j else f" {v:6.3f}" for j, v in enumerate(result.score_matrix[k]))
            print(f"{name:<{width}}{cells}   ({k})")
        print("\nscore by seat (games where the entrant sat in that seat; 95% CI):")
        for name in names:
            by_seat = result.seat_results(name)
            cells = "   ".join(
                f"{seat} {r.score:.3f} [{r.score_low:.3f}, {r.score_high:.3f}] of {r.games}"
                for seat, r in by_seat.items()
            )
            print(f"{name:<{width}}  {cells}")
        recorders = {name: agent for name, agent in entrants.items() if isinstance(agent, TacticsRecorder)}
        if recorders:
            print("\ntactics (immediate wins taken, single threats blocked; double threats cannot be blocked):")
            counts = {
                f"{name} {seat}": count
                for name, r in recorders.items()
                for seat, count in (("first", r.first), ("second", r.second))
            }
            print(tactics_table(counts))
        path = plot_crossplay(
            os.path.join(trainer.config.plot_dir, f"{trainer.game_name}_crossplay.png"),
            result.names,
            result.score_matrix,
            [e.rating for e in result.entrants],
            title=f"{trainer.game_name}: cross-play, {games} games per seating",
            rating_label="Elo" if result.rating_kind == "elo" else "openskill ordinal",
        )
        print(f"heat-map: {path}")
    return 0


def _prog(command: str) -> str:
    """``rbtrainer <command>`` for a known command, else ``rbtrainer`` (no stray space, no misspelt command)."""
    return f"rbtrainer {command}" if command in COMMANDS else "rbtrainer"


def _fail(command: str, err: Exception, status: int = 2) -> NoReturn:
    print(f"{_prog(command)}: error: {err}", file=sys.stderr)
    raise SystemExit(status)


def _parse(tyro: Any, spec: Any, command: str, args: list[str]) -> Any:
    """``tyro.cli``, with its parse errors cut to one line (:func:`_tyro_error_line`) and exit status 2."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            return tyro.cli(spec, prog="rbtrainer", args=args)
    except SystemExit as exit_:
        if exit_.code in (0, None):
            sys.stderr.write(captured.getvalue())
            raise
        line = _tyro_error_line(captured.getvalue())
        if command not in COMMANDS and not all(name in line for name in COMMANDS):  # tyro names them sometimes
            line += f"; the commands are {', '.join(COMMANDS)}"
        training = _training_flags(command, args)
        if training:  # tyro calls them misplaced and suggests train's flags: say what they are instead
            them = "it" if len(training) == 1 else "them"
            line = (
                f"{', '.join(training)}: {'an option' if len(training) == 1 else 'options'} of rbtrainer train, "
                f"which {command} does not use (it trains nothing); drop {them}"
            )
        print(f"{_prog(command)}: error: {line} (see {_prog(command)} --help)", file=sys.stderr)
        raise SystemExit(2) from None


def _training_flags(command: str, args: Sequence[str]) -> list[str]:
    """The flags in ``args`` that only ``train`` has, for ``test`` and ``eval`` (which offer the
    [trainer] settings in TEST_OPTIONS / EVAL_OPTIONS and no [dqn], [schedule], output, league or
    panel option); none for the other commands."""
    from rbtrainer.config import DQNConfig, ScheduleConfig, TrainerConfig

    if command not in ("test", "eval"):
        return []
    offered = {"test": (*TEST_OPTIONS, "checkpoint"), "eval": EVAL_OPTIONS}[command]
    names = {f.name for cls in (TrainerConfig, DQNConfig, ScheduleConfig) for f in dataclasses.fields(cls)}
    names |= {"logdir", "resume", "overwrite", "resume_changed"}
    names -= {*offered, "device"}  # test and eval have a --device of their own
    found = []
    for arg in args:
        flag = arg.partition("=")[0]
        if not flag.startswith("--"):
            continue
        name = flag[2:].removeprefix("no-")
        if name.replace("-", "_") in names or name.startswith(("league.", "panel.")):
            found.append(flag)
    return list(dict.fromkeys(found))


def _tyro_error_line(text: str) -> str:
    """The message of a tyro error box in one line.

    tyro (1.x) prints a parse error as a box (borderless where stderr is not a terminal): a title, the
    message, then sections between rules, each a head line and indented items with indented help.
    This keeps the title, the message, the items by name (flags: "Unrecognized options: --x, 3",
    "Missing from rbtrainer eval: --agents", "perhaps you meant --y or --z") and the available
    subcommands, and drops help text and the "For full helptext" pointer (the line ends with its own).
    Text in any other shape is returned whole, on one line.
    """
    rows = [line.rstrip().strip("│╭╮╰╯").rstrip() for line in text.splitlines()]
    sections: list[list[str]] = [[]]
    for row in rows:
        if row.strip() and set(row.strip()) <= set("─- "):
            sections.append([])
        elif row.strip():
            sections[-1].append(row)
    sections = [section for section in sections if section]
    if not sections:
        return " ".join(text.split())
    title = sections[0][0].strip().strip("─ ").strip()
    body = sections[0][1:] or (sections.pop(1) if len(sections) > 1 else [])
    message = _tyro_section(body) if body else ""
    parts = [f"{title}: {message}" if message and title.lower() not in message.lower() else message or title]
    parts += [part for section in sections[1:] if (part := _tyro_section(section))]
    return "; ".join(parts)


def _tyro_section(rows: list[str]) -> str:
    """One section of a tyro error box in a line: the head and the names of its items ('' to drop it)."""
    indent = [len(row) - len(row.lstrip()) for row in rows]
    head = " ".join(row.strip() for row, n in zip(rows, indent) if n == indent[0])
    deeper = [n for n in indent if n > indent[0]]
    items = [row.split()[0].rstrip(",") for row, n in zip(rows, indent) if deeper and n == min(deeper)]
    items = list(dict.fromkeys(items))
    if head.startswith(("For full helptext", "Argument helptext")):
        return ""
    if head.startswith("Perhaps you meant"):
        return f"perhaps you meant {' or '.join(items)}" if items else ""
    if head.startswith("Available subcommands"):
        return head.replace("Available subcommands", "the commands are")
    return f"{head} {', '.join(items)}" if items else head


def _version() -> str:
    """The installed package's version (without importing the package's heavy modules)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rbtrainer")
    except PackageNotFoundError:  # a source tree on sys.path, not installed
        from rbtrainer import __version__

        return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rbtrainer`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit status.

    Malformed command lines exit with tyro's message; bad values (checked by the configuration
    dataclasses), bad config files and unreadable files exit with status 2 and a one-line message;
    a file that cannot be written (full disk) with status 1 and a one-line message; a second
    SIGINT/SIGTERM while training with 128 + the signal's number.
    """
    import tyro

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["--version"], ["-V"]):
        print(f"rbtrainer {_version()}")
        return 0
    # Only flags may precede the command, so it is the first word; the --config file must be read
    # before parsing because its values are the defaults of the options.
    command = next((a for a in args if not a.startswith("-")), "")
    config = _config_path(command, args)
    try:
        tables = _read_tables(config)
    except (ValueError, TypeError, OSError) as err:
        _fail(command, err)
    parsed = _parse(tyro, _command_line(config, tables), command, args)
    logging.basicConfig(
        level=logging.INFO if parsed.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    from rbtrainer.files import WriteError

    try:
        return int(parsed.command.run())
    except WriteError as err:  # a full disk or a file system error while writing: not a usage error
        _fail(command, err, status=1)
    except (ValueError, TypeError, OSError, ImportError) as err:  # ImportError: a missing extra
        _fail(command, err)
