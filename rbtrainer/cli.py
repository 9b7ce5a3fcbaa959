"""The ``rbtrainer`` command line: ``train``, ``test`` and ``demo``.

Options of ``train`` and ``test`` are generated from the configuration dataclasses
(:class:`~rbtrainer.trainer.TrainerConfig`, :class:`~rbtrainer.agents.DQNConfig`,
:class:`ScheduleConfig`), so their defaults and help texts have one source. A TOML file given
with ``--config`` may hold tables ``[env]`` (game arguments, ``game`` naming the game),
``[trainer]``, ``[dqn]`` and ``[schedule]``; command-line flags override it.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import itertools
import logging
import os
import sys
import textwrap
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ScheduleConfig", "build_parser", "main"]

__all__ = ["DEFAULT_TRAIN_CONFIG", "ScheduleConfig", "build_parser", "main"]

#: Base configuration of ``rbtrainer train`` when no ``--config`` is given.
DEFAULT_TRAIN_CONFIG = os.path.join(os.path.dirname(__file__), "default_train.toml")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


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
    """Where the agents of the best test round are saved ({game}: the game name); the final agents go
    to the same name with a _last suffix."""

    def __post_init__(self) -> None:
        from rbtrainer.validation import number_in, positive_int

        number_in("eps_start", self.eps_start, 0.0, 1.0)
        number_in("eps_end", self.eps_end, 0.0, 1.0)
        positive_int("eps_episodes", self.eps_episodes)


def _field_docs(cls: type) -> dict[str, str]:
    """Docstrings written under dataclass fields (read from the class source)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, nxt in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _add_dataclass_options(parser: argparse.ArgumentParser, cls: type, section: str, skip: Sequence[str] = ()) -> None:
    group = parser.add_argument_group(f"{section} options ([{section}] in --config)")
    docs = _field_docs(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else None
        help_text = f"{docs.get(f.name, '')} (default: {default})".replace("%", "%%")
        dest = f"{section}.{f.name}"
        args = typing.get_args(kind)
        if kind is bool:
            group.add_argument(
                flag, dest=dest, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text
            )
        elif typing.get_origin(kind) is tuple:
            group.add_argument(
                flag, dest=dest, nargs="+", type=args[0], default=argparse.SUPPRESS, help=help_text, metavar="N"
            )
        else:
            if typing.get_origin(kind) in (typing.Union, types.UnionType):
                kind = next(a for a in args if a is not type(None))
            group.add_argument(
                flag, dest=dest, type=kind, default=argparse.SUPPRESS, help=help_text, metavar=f.name.upper()
            )


def _env_pair(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--env expects KEY=VALUE, got {text!r}")
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value  # a bare word is a string
    return key.strip(), parsed


def _sections(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """TOML tables overridden by the flags given on the command line."""
    sections: dict[str, dict[str, Any]] = {"env": {}, "trainer": {}, "dqn": {}, "schedule": {}}
    config = args.config
    if config is None and args.command == "train":
        config = DEFAULT_TRAIN_CONFIG
    if config:
        with open(config, "rb") as handle:
            data = tomllib.load(handle)
        unknown = sorted(set(data) - set(sections))
        if unknown:
            raise ValueError(f"--config {config}: unknown table(s) {unknown}; use {sorted(sections)}")
        for name, table in data.items():
            if not isinstance(table, dict):
                raise ValueError(f"--config {config}: [{name}] must be a table")
            sections[name].update(table)
    for key, value in vars(args).items():
        if "." in key:
            section, name = key.split(".", 1)
            sections[section][name] = value
    cli_env = dict(args.env or [])
    if config == DEFAULT_TRAIN_CONFIG and cli_env.get("game", sections["env"].get("game")) != sections["env"].get(
        "game"
    ):
        sections["env"] = {}  # the built-in defaults describe the robot game only
    sections["env"].update(cli_env)
    return sections


def _setup(args: argparse.Namespace) -> tuple[Any, Any, Any, dict[str, Any]]:
    from rbtrainer.agents import DQNConfig
    from rbtrainer.trainer import TrainerConfig

    sections = _sections(args)
    trainer_cfg = TrainerConfig(**sections["trainer"])
    dqn_cfg = DQNConfig(**sections["dqn"])
    schedule = ScheduleConfig(**sections["schedule"])
    return trainer_cfg, dqn_cfg, schedule, sections["env"]


def _trainer(trainer_cfg: Any, env_args: dict[str, Any]) -> Any:
    from rbtrainer.trainer import DecentralizedTrainer

    fields = {f.name: getattr(trainer_cfg, f.name) for f in dataclasses.fields(trainer_cfg)}
    return DecentralizedTrainer(env_args, **fields)


def _self_play_agents(trainer: Any, dqn_cfg: Any, seed: int) -> list[Any]:
    from rbtrainer.agents import dqn_agent

    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=dqn_cfg, seed=seed)
    for seat in range(1, trainer.num_seats):
        learner.check_spaces(trainer.observation_space(seat), trainer.action_space(seat))
    return [learner] * trainer.num_seats


def _random_baseline(trainer: Any) -> Any:
    from rbtrainer.agents import RandomAgent

    return trainer.test([RandomAgent(seed=1000 + s) for s in range(trainer.num_seats)], eval_metrics=True)


def _print_result(label: str, result: Any) -> None:
    wins = ", ".join(f"{p}: {n}" for p, n in (result.wins or {}).items())
    print(
        f"{label:<14} reward metric {result.reward_metric:8.3f}   mean length {result.mean_episode_length:7.1f}   "
        f"wins {{{wins}}}  draws {result.draws}  mean time span {result.mean_time_span:.1f}"
    )


def _last_path(path: str) -> str:
    stem, ext = os.path.splitext(path)
    return f"{stem}_last{ext or '.pt'}"


def _train(args: argparse.Namespace) -> int:
    from rbtrainer.callbacks import EpsilonSchedule
    from rbtrainer.checkpoint import load_agents, save_agents

    trainer_cfg, dqn_cfg, schedule, env_args = _setup(args)
    with _trainer(trainer_cfg, env_args) as trainer:
        agents = _self_play_agents(trainer, dqn_cfg, seed=trainer.seed)
        trainer.train_fn = EpsilonSchedule(
            learners=[agents[0]], start=schedule.eps_start, end=schedule.eps_end, episodes=schedule.eps_episodes
        )
        game = env_args.get("game", "robot_delivery")
        path = schedule.checkpoint.format(game=game)
        metadata = {"env": env_args, "dqn": {f.name: getattr(dqn_cfg, f.name) for f in dataclasses.fields(dqn_cfg)}}
        last_path = _last_path(path)
        trainer.save_best_fn = lambda episodes: save_agents(path, agents, {**metadata, "episodes": episodes})
        trainer.save_last_fn = lambda: save_agents(last_path, agents, metadata)
        stats = trainer.train(agents, [True] * trainer.num_seats)
        print(
            f"trained {stats.collected_episodes} episodes / {stats.collected_steps} env steps / "
            f"{stats.gradient_steps} gradient steps in {stats.training_time:.0f} s "
            f"({stats.steps_per_second:.0f} env steps/s while collecting and learning)"
        )
        print(f"best test reward metric {stats.best_reward_metric:.3f} at {stats.best_episode} episodes")
        _print_result("final agents", trainer.test(agents, eval_metrics=True))
        load_agents(path, agents)
        _print_result("best agents", trainer.test(agents, eval_metrics=True))
        _print_result("random agents", _random_baseline(trainer))
        print(f"curve: {stats.plot_path}")
        print(f"checkpoint: {path} (best test round; final agents: {last_path})")
    return 0


def _test(args: argparse.Namespace) -> int:
    import torch

    from rbtrainer.agents import DQNConfig
    from rbtrainer.checkpoint import load_agents

    trainer_cfg, _, _, env_args = _setup(args)
    payload = torch.load(args.checkpoint, weights_only=True)
    metadata = payload.get("metadata", {}) if isinstance(payload, dict) else {}
    env_args = {**metadata.get("env", {}), **env_args}
    dqn_cfg = DQNConfig(**metadata.get("dqn", {}))
    with _trainer(trainer_cfg, env_args) as trainer:
        agents = _self_play_agents(trainer, dqn_cfg, seed=0)
        load_agents(args.checkpoint, agents)
        _print_result("trained", trainer.test(agents, eval_metrics=True))
        _print_result("random agents", _random_baseline(trainer))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from games.robot_delivery.demo import play_demo

    result = play_demo(
        robot_colors=args.players,
        num_robots_per_player=args.robots_per_player,
        required_mail=args.required_mail,
        with_battery=args.battery,
        max_step=args.max_step,
        seed=args.seed,
        out_dir=args.out_dir,
        gif=not args.no_gif,
    )
    print(
        f"winner: {result.winner}  steps: {result.num_steps}  game clock: {result.game_clock}  scores: {result.scores}"
    )
    print(f"picture: {result.picture}")
    if result.animation:
        print(f"animation: {result.animation}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from rbtrainer.agents import DQNConfig
    from rbtrainer.trainer import TrainerConfig

    parser = argparse.ArgumentParser(prog="rbtrainer", description="Train independent agents that play games together.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser(
        "train",
        help="train self-play DQN (default game: robot_delivery) and save curve and checkpoint",
    )
    test = sub.add_parser("test", help="evaluate a checkpoint against the random-agent baseline")
    for p in (train, test):
        p.add_argument(
            "--config",
            help="TOML file with [env], [trainer], [dqn], [schedule] tables "
            "(train: rbtrainer/default_train.toml if omitted)",
        )
        p.add_argument(
            "--env",
            action="append",
            type=_env_pair,
            metavar="KEY=VALUE",
            help="game argument, e.g. --env game=tictactoe",
        )
    test.add_argument("--checkpoint", required=True, help="checkpoint written by 'rbtrainer train'")
    _add_dataclass_options(train, TrainerConfig, "trainer")
    _add_dataclass_options(train, DQNConfig, "dqn")
    _add_dataclass_options(train, ScheduleConfig, "schedule")
    _add_dataclass_options(test, TrainerConfig, "trainer")
    demo = sub.add_parser("demo", help="play a scripted robot-delivery game and draw it under plots/")
    demo.add_argument("--players", nargs="+", default=["r", "b", "gr"], help="player colours (at least 2)")
    demo.add_argument("--robots-per-player", type=int, default=1)
    demo.add_argument("--required-mail", type=int, default=3)
    demo.add_argument("--battery", action="store_true", help="enable the battery rules")
    demo.add_argument("--max-step", type=int, default=600)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out-dir", default="plots")
    demo.add_argument("--no-gif", action="store_true", help="write only the final picture")
    demo.set_defaults(func=_demo)
    for p in (train, test, demo):
        p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log at INFO level")
    train.set_defaults(func=_train)
    test.set_defaults(func=_test)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args))
    except (ValueError, TypeError, OSError) as err:
        parser.exit(2, f"rbtrainer {args.command}: error: {err}\n")
