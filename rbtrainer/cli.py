"""The ``rbtrainer`` command line."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

__all__ = ["main"]


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
    parser = argparse.ArgumentParser(prog="rbtrainer", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args))
    except (ValueError, TypeError) as err:
        parser.exit(2, f"rbtrainer {args.command}: error: {err}\n")
