"""`rbtrainer train` with the default settings on the board games: what its best checkpoint is worth.

    python benchmarks/default_train.py [--games tictactoe connect_four] [--seeds 0 1 2] \\
        [--eval-games 500] [--json benchmarks/data/default_train.json]

For each game and seed, in an empty directory: ``rbtrainer train --env game=GAME --seed SEED`` (the
game's own defaults, rbtrainer/defaults/GAME.toml: the best checkpoint is the test round that scores
best against the game's evaluation panel), then the best checkpoint plays random play on fresh games
(``--eval-games`` per seat, seed 100, as ``rbtrainer eval --agents CKPT random`` does) and its score
from each seat is set beside the panel's score of that round (from the checkpoint's metadata) and
the panel's 95 % interval. Prints a Markdown table; ``--json`` writes every figure with the command,
commit, date and machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from rbtrainer import DecentralizedTrainer, RandomAgent
from rbtrainer.checkpoint import Checkpoint
from rbtrainer.evaluation import agent_from_spec, tournament
from rbtrainer.provenance import benchmark_parser, provenance, table_of, write_figures

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TARGET = {"tictactoe": 0.9, "connect_four": 0.8}
"""Score against random play the best checkpoint must reach from both seats."""


def run(game: str, seed: int, eval_games: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as where:
        command = [sys.executable, "-m", "rbtrainer", "train", "--env", f"game={game}", "--seed", str(seed)]
        began = time.perf_counter()
        subprocess.run([*command, "--no-progress-bar", "--logdir", ""], cwd=where, check=True, capture_output=True)
        wall = time.perf_counter() - began
        path = os.path.join(where, "checkpoints", f"{game}_dqn.pt")
        metadata = Checkpoint.read(path).metadata
        with DecentralizedTrainer({"game": game}, num_test_envs=16, seed=100, progress_bar=False) as trainer:
            agent = agent_from_spec(path, trainer)
            table = tournament(trainer, {"best": agent, "random": RandomAgent()}, eval_games, seed=100)
            fresh = {seat: r.score for seat, r in table.seat_results("best").items()}
    panel = metadata["panel"]
    seats = {}
    for line in panel["lines"]:
        if line["opponent"] == "random":
            seats[line["seat"]] = {
                "panel": line["score"],
                "panel_low": line["score_low"],
                "panel_high": line["score_high"],
                "panel_games": line["games"],
                "fresh": fresh[line["seat"]],
                "fresh_games": eval_games,
            }
    return {
        "game": game,
        "seed": seed,
        "wall_seconds": round(wall, 1),
        "best_episode": metadata["episodes"],
        "panel_score": panel["scores"]["dqn"],
        "rating": panel["ratings"]["dqn"],
        "vs_random": seats,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| game | seed | best round (episodes) | panel score | rating | vs random, fresh games, by seat "
        "(panel's score and 95 % CI) | target | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = "; ".join(
            f"{seat} {s['fresh']:.3f} ({s['panel']:.2f} [{s['panel_low']:.2f}, {s['panel_high']:.2f}])"
            for seat, s in r["vs_random"].items()
        )
        met = all(s["fresh"] >= TARGET[r["game"]] for s in r["vs_random"].values())
        lines.append(
            f"| {r['game']} | {r['seed']} | {r['best_episode']} | {r['panel_score']:.3f} | {r['rating']:.0f} | "
            f"{cells} | >= {TARGET[r['game']]}: {'met' if met else 'not met'} | {r['wall_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = benchmark_parser(__doc__, "train nothing")
    parser.add_argument("--games", nargs="+", default=list(TARGET), choices=list(TARGET))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--eval-games", type=int, default=500)
    args = parser.parse_args()
    if args.render:
        print(table_of(args.render, table))
        return
    rows: list[dict[str, Any]] = []
    origin = provenance(ROOT)  # the code the runs start from
    for game in args.games:
        for seed in args.seeds:
            rows.append(run(game, seed, args.eval_games))
            if args.json:  # rewritten after every run: an interrupted sweep keeps what it finished
                write_figures(args.json, origin, {"rows": rows})
    print(table(rows))


if __name__ == "__main__":
    main()
