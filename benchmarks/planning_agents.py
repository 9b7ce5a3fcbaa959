"""The planning learner's strength on the board games, measured against the project's baselines.

    python benchmarks/planning_agents.py tictactoe [--seeds 0 1 2] [--json FILE] [--save-dir DIR]
    python benchmarks/planning_agents.py connect_four [--seeds 0 1 2] [--games 200] [--json FILE]
    python benchmarks/planning_agents.py league [--seeds 0 1 2] [--games 50] [--json FILE]
    python benchmarks/planning_agents.py connect_four --evaluate DIR [--play-simulations N] [--seeds 0 1 2]

The training settings are the recipes ``configs/tictactoe_planning.toml`` and
``configs/connect_four_planning.toml`` (``--config`` names another): one planning learner
(:mod:`rbtrainer.agents.planning`) in self-play. For every seed the recipe trains alone (one
process), then the final learner plays with its own search budget (the recipe's ``play_simulations``
per move, or ``simulations`` without it; stated in every row) and nothing else:

* ``tictactoe``: its greedy policy measured exactly (:mod:`rbtrainer.evaluation.exploitability`):
  what a perfect opponent gains against it from either seat, its first move, and its win
  probability against a uniformly random opponent from either seat (the table's last row: the best
  any policy that never loses can do, exactly).
* ``connect_four``: ``--games`` games per seat (fresh seeds) against random play, the depth-2 and
  the depth-4 negamax (``--opponents`` names fewer): wins, draws, losses and the score (win 1, draw
  1/2) with its Wilson 95 % interval. The learner plays deterministically, and the negamax players
  nearly so (they draw among equally scored moves only), so repeated games from the empty board
  would mostly repeat one game: the first ``--opening-moves`` moves of every game (2 by default, one
  per player) are uniformly random, for both sides alike, and the agents play from there.

* ``league``: connect four's quick recipe (``configs/connect_four_quick.toml``) against the same
  recipe in a league (``configs/connect_four_quick_league.toml``: the same learner, settings and
  budget of games), each trained alone; their final learners then play a cross-play tournament with
  random play and the two negamax players, ``--games`` per seat order (the first ``--opening-moves``
  moves random), rated by Bradley-Terry Elo with random play at 0. The row holds the ratings, the
  score matrix and both runs' figures.

``--json FILE`` writes the command, commit, date and machine (taken when the sweep starts) and one
row per seed, rewritten after every seed; ``--render FILE`` prints a file's table without training.
``--save-dir DIR`` saves each final learner as ``DIR/GAME_planning_seedN.pt`` (``rbtrainer eval``
and ``rbtrainer play`` load it), its metadata holding its row's figures, the recipe's tables and
the commit it was trained at (``pretrained/`` holds such files). ``--verbose`` logs each test round
(and each new best) while a learner trains.

``--evaluate DIR`` (connect four) trains nothing: the learners such a sweep saved in ``DIR`` play the
same opponents again on other fresh games (seed ``EVALUATION_SEED + seed``), with their own play
budget or ``--play-simulations N``; their training figures come from their metadata.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from rbtrainer import DecentralizedTrainer, RandomAgent
from rbtrainer.agents.base import Agent
from rbtrainer.checkpoint import Checkpoint
from rbtrainer.evaluation import agent_from_spec, tournament, wilson_interval
from rbtrainer.evaluation.exploitability import (
    tictactoe_best_vs_random,
    tictactoe_exploitability,
    tictactoe_vs_random,
)
from rbtrainer.provenance import provenance, write_figures
from rbtrainer.recipes import Recipe, SelfPlayRun

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {"tictactoe": "configs/tictactoe_planning.toml", "connect_four": "configs/connect_four_planning.toml"}
OPPONENTS = ("random", "negamax:2", "negamax:4")
"""Connect four's opponents, weakest first."""
SQUARES = ("corner", "edge", "corner", "edge", "centre", "edge", "corner", "edge", "corner")
"""Tic-tac-toe's squares 0-8 by kind."""
LEAGUE_CONFIGS = {"self-play": "configs/connect_four_quick.toml", "league": "configs/connect_four_quick_league.toml"}
"""The ``league`` mode's two recipes: the same learner and budget, in plain self-play and in a league."""
EVALUATION_SEED = 30_000
"""``--evaluate`` plays with seed ``EVALUATION_SEED + seed``: games the sweep's own measurement (``10_000 + seed``)
did not play."""


def saved_learner(directory: str, game: str, seed: int) -> str:
    """Where a sweep's ``--save-dir`` keeps the final learner of ``game`` and ``seed``."""
    return os.path.join(directory, f"{game}_planning_seed{seed}.pt")


class RandomOpening(Agent):
    """``agent``, except that it plays a uniformly random legal move while fewer than ``moves`` pieces
    are on the board (board observations: one plane per player)."""

    def __init__(self, agent: Agent, moves: int, seed: int) -> None:
        self.agent, self.moves, self.name = agent, moves, agent.name
        self._random = RandomAgent(seed=seed)

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        opening = obs.reshape(len(obs), -1).sum(axis=1) < self.moves
        actions = np.empty(len(obs), dtype=np.int64)
        if opening.any():
            actions[opening] = self._random.act(obs[opening], mask[opening], explore[opening])
        if (~opening).any():
            actions[~opening] = self.agent.act(obs[~opening], mask[~opening], explore[~opening])
        return actions


def _seat_results(
    learner: Agent | str,
    env: dict[str, Any],
    games: int,
    seed: int,
    opening: int,
    opponents: tuple[str, ...] = OPPONENTS,
) -> dict[str, Any]:
    """``games`` games per seat against each opponent, on fresh seeds, the first ``opening`` moves of
    each random: the learner's counts by seat. ``learner``: an agent, or the spec of one."""
    trainer = DecentralizedTrainer(env, num_test_envs=min(games, 50), episodes_per_test=games, seed=seed)
    if isinstance(learner, str):
        learner = agent_from_spec(learner, trainer)
    out: dict[str, Any] = {}
    for k, spec in enumerate(opponents):
        opponent = RandomOpening(agent_from_spec(spec, trainer, seed=seed + k), opening, seed + 100 + k)
        player = RandomOpening(learner, opening, seed + 200 + k)
        for seat in range(2):
            agents = [player, opponent] if seat == 0 else [opponent, player]
            rewards = trainer.test(agents).rewards[:, seat]
            out[f"{spec}/{seat}"] = {
                "games": len(rewards),
                "wins": int((rewards > 0).sum()),
                "draws": int((rewards == 0).sum()),
                "losses": int((rewards < 0).sum()),
            }
    trainer.close()
    return out


def run_seed(
    game: str,
    config: str,
    seed: int,
    games: int,
    opening: int,
    save_dir: str | None,
    git: dict[str, Any],
    opponents: tuple[str, ...] = OPPONENTS,
) -> dict[str, Any]:
    """Train the recipe with ``seed``, then measure the final learner; one JSON row. ``git``: the commit
    the sweep started from (what a saved learner records)."""
    run, figures = train_recipe(config, seed)
    recipe, learner = run.recipe, run.learner
    row: dict[str, Any] = {"game": game, "seed": seed, **figures}
    if game == "tictactoe":
        empty = np.zeros((1, 3, 3, 2), dtype=np.float32)
        row["first_move"] = int(learner.act(empty, np.ones((1, 9), dtype=np.int8), np.zeros(1, dtype=bool))[0])
        exploit = tictactoe_exploitability(learner)
        first, second = tictactoe_vs_random(learner)
        row["exploitability"] = [exploit.first, exploit.second]
        row["vs_random_win"] = [first.win, second.win]
        row["vs_random_loss"] = [first.loss, second.loss]
    else:
        row["opening_moves"] = opening
        row["results"] = _seat_results(learner, recipe.env, games, 10_000 + seed, opening, opponents)
    if save_dir is not None:  # with what it was measured at, the recipe and the code it was trained with
        os.makedirs(save_dir, exist_ok=True)
        extra = {"figures": row, "recipe": recipe.tables(), "git": git}
        run.save(saved_learner(save_dir, game, seed), extra)
    return row


def evaluate_seed(
    directory: str, seed: int, games: int, opening: int, simulations: int | None, opponents: tuple[str, ...]
) -> dict[str, Any]:
    """The connect-four learner a sweep saved as ``DIR/connect_four_planning_seedN.pt`` measured again on
    fresh games, with ``simulations`` per move (its own play budget when None); one JSON row."""
    path = saved_learner(directory, "connect_four", seed)
    metadata = Checkpoint.read(path).metadata
    trained, recipe = metadata["figures"], metadata["recipe"]
    spec = path if simulations is None else f"{path}@{simulations}"
    row = {key: value for key, value in trained.items() if key != "results"}
    row.update(
        simulations=simulations if simulations is not None else trained["simulations"],
        opening_moves=opening,
        results=_seat_results(spec, recipe["env"], games, EVALUATION_SEED + seed, opening, opponents),
        evaluation_seed=EVALUATION_SEED + seed,
        trained_at=metadata["git"],
    )
    return row


def train_recipe(config: str, seed: int) -> tuple[SelfPlayRun, dict[str, Any]]:
    """Train the recipe ``config`` with ``seed`` alone; the run (closed) and its training figures."""
    recipe = Recipe.from_toml(ROOT / config, trainer={"seed": seed, "progress_bar": False})
    start = time.perf_counter()
    with recipe.build() as run:
        stats = run.train(plot=False)
    figures = {
        "config": config,
        "episodes": stats.collected_episodes,
        "env_steps": stats.collected_steps,
        "gradient_steps": stats.gradient_steps,
        "train_seconds": round(time.perf_counter() - start, 1),
        "train_simulations": recipe.planning.simulations,
        "simulations": recipe.planning.play_simulations or recipe.planning.simulations,
    }
    return run, figures


def league_seed(seed: int, games: int, opening: int) -> dict[str, Any]:
    """Both recipes of :data:`LEAGUE_CONFIGS` with ``seed``, then a cross-play tournament of their final
    learners with random play and the depth-2 and depth-4 negamax (``games`` per seat order, fresh
    seeds, the first ``opening`` moves random), rated by Bradley-Terry Elo with random at 0: one row."""
    learners: dict[str, Agent] = {}
    runs: dict[str, dict[str, Any]] = {}
    for kind, config in LEAGUE_CONFIGS.items():
        run, runs[kind] = train_recipe(config, seed)
        learners[kind] = run.learner
    trainer = DecentralizedTrainer({"game": "connect_four"}, num_test_envs=min(games, 50), seed=20_000 + seed)
    players = {**learners, **{spec: agent_from_spec(spec, trainer, seed=seed + k) for k, spec in enumerate(OPPONENTS)}}
    entrants: dict[str, Agent] = {
        name: RandomOpening(agent, opening, 30_000 + 10 * seed + k) for k, (name, agent) in enumerate(players.items())
    }
    result = tournament(trainer, entrants, games, seed=40_000 + seed, anchor="random")
    trainer.close()
    print(result.table(), flush=True)
    names = list(result.names)
    return {
        "seed": seed,
        "games_per_seating": games,
        "opening_moves": opening,
        "runs": runs,
        "elo": {e.name: round(e.rating, 1) for e in result.entrants},
        "score": {
            a: {b: round(float(result.score_matrix[i, j]), 4) for j, b in enumerate(names) if j != i}
            for i, a in enumerate(names)
        },
    }


def league_table(rows: list[dict[str, Any]]) -> str:
    """The ``league`` rows as a Markdown table: per seed, each recipe's Elo and the league's margin."""
    lines = [
        "| seed | Elo, self-play | Elo, league | league - self-play | league vs self-play, score "
        "| Elo: negamax:2 / negamax:4 | training s, self-play / league | simulations per move (play) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: r["seed"]):
        elo, runs = r["elo"], r["runs"]
        lines.append(
            f"| {r['seed']} | {elo['self-play']:.0f} | {elo['league']:.0f} | {elo['league'] - elo['self-play']:+.0f} "
            f"| {r['score']['league']['self-play']:.3f} | {elo['negamax:2']:.0f} / {elo['negamax:4']:.0f} "
            f"| {runs['self-play']['train_seconds']:.0f} / {runs['league']['train_seconds']:.0f} "
            f"| {runs['league']['simulations']} |"
        )
    return "\n".join(lines)


def _score(counts: dict[str, int]) -> str:
    value = (counts["wins"] + counts["draws"] / 2) / counts["games"]
    low, high = wilson_interval(value, counts["games"])
    return f"{value:.3f} [{low:.2f}, {high:.2f}]"


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table: one row per game and seed."""
    lines = []
    tictactoe = [r for r in rows if r["game"] == "tictactoe"]
    connect_four = [r for r in rows if r["game"] == "connect_four"]
    if tictactoe:
        lines += [
            "| game | seed | episodes | training s | simulations per move (training / play) "
            "| exploitability (first / second) | first move | win vs random, first | win vs random, second |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in sorted(tictactoe, key=lambda r: r["seed"]):
            opening = SQUARES[r["first_move"]] if "first_move" in r else "-"
            lines.append(
                f"| tictactoe | {r['seed']} | {r['episodes']:,} | {r['train_seconds']:.0f} "
                f"| {r['train_simulations']} / {r['simulations']} "
                f"| {r['exploitability'][0]:+.0f} / {r['exploitability'][1]:+.0f} | {opening} "
                f"| {r['vs_random_win'][0]:.4f} | {r['vs_random_win'][1]:.4f} |"
            )
        corner, centre = tictactoe_best_vs_random(0, opening=0), tictactoe_best_vs_random(0, opening=4)
        lines.append(  # exact, over the whole game tree: what no policy that never loses can beat
            f"| tictactoe | best possible, never losing | | | | +0 / +0 | corner / centre "
            f"| {corner:.4f} / {centre:.4f} | {tictactoe_best_vs_random(1):.4f} |"
        )
    if connect_four:
        if lines:
            lines.append("")
        played = [spec for spec in OPPONENTS if any(f"{spec}/0" in r["results"] for r in connect_four)]
        head = " | ".join(f"{spec}, {seat}" for spec in played for seat in ("first", "second"))
        lines += [
            f"| game | seed | episodes | training s | simulations per move (training / play) | random opening moves "
            f"| {head} |",
            "|---|---|---|---|---|---|" + "---|" * (2 * len(played)),
        ]
        for r in sorted(connect_four, key=lambda r: r["seed"]):
            cells = " | ".join(
                _score(r["results"][f"{spec}/{seat}"]) if f"{spec}/{seat}" in r["results"] else "-"
                for spec in played
                for seat in range(2)
            )
            lines.append(
                f"| connect_four | {r['seed']} | {r['episodes']:,} | {r['train_seconds']:.0f} "
                f"| {r['train_simulations']} / {r['simulations']} | {r['opening_moves']} | {cells} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("game", nargs="?", choices=sorted([*CONFIGS, "league"]))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--config", help="the recipe file (default: configs/<game>_planning.toml)")
    parser.add_argument(
        "--games",
        type=int,
        help="connect_four: games per seat against each opponent (200); league: per seat order (50)",
    )
    parser.add_argument("--opening-moves", type=int, default=2, help="connect_four: random moves opening each game")
    parser.add_argument(
        "--opponents", nargs="+", default=list(OPPONENTS), choices=OPPONENTS, help="connect_four: the opponents played"
    )
    parser.add_argument("--json", help="write the figures to this JSON file (rewritten after every seed)")
    parser.add_argument("--render", metavar="JSON", help="print the table of a JSON file it wrote; train nothing")
    parser.add_argument("--save-dir", help="save each final learner as DIR/GAME_planning_seedN.pt")
    parser.add_argument(
        "--evaluate",
        metavar="DIR",
        help="connect_four: measure the learners a sweep saved in DIR (--save-dir) again on fresh games; train nothing",
    )
    parser.add_argument(
        "--play-simulations", type=int, help="with --evaluate: simulations per move (default: each learner's own)"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="log each test round and each new best while the learners train"
    )
    args = parser.parse_args()
    if args.render:
        with open(args.render, encoding="utf-8") as handle:
            saved = json.load(handle)["rows"]
        print(league_table(saved) if saved and "elo" in saved[0] else table(saved))
        return
    if args.game is None:
        parser.error("a game or league is required (or --render JSON)")
    if args.game == "league":
        for flag in ("config", "save_dir"):
            if getattr(args, flag) is not None:
                parser.error(f"--{flag.replace('_', '-')} does not apply to league")
    args.games = args.games if args.games is not None else (50 if args.game == "league" else 200)
    if args.games < 1:
        parser.error(f"--games must be >= 1, got {args.games}")
    if args.opening_moves < 0:
        parser.error(f"--opening-moves must be >= 0, got {args.opening_moves}")
    if args.evaluate is not None:
        if args.game != "connect_four":
            parser.error(f"--evaluate measures connect_four learners, not {args.game}")
        for flag in ("config", "save_dir"):
            if getattr(args, flag) is not None:
                parser.error(f"--{flag.replace('_', '-')} does not apply to --evaluate (it trains nothing)")
        paths = [saved_learner(args.evaluate, "connect_four", n) for n in args.seeds]
        missing = [path for path in paths if not os.path.isfile(path)]
        if missing:  # before any game is played
            parser.error(f"--evaluate {args.evaluate}: no {', '.join(missing)}; give the --save-dir of a sweep")
    elif args.play_simulations is not None:
        parser.error("--play-simulations applies to --evaluate (a sweep plays with the recipe's play_simulations)")
    if args.play_simulations is not None and args.play_simulations < 1:
        parser.error(f"--play-simulations must be >= 1, got {args.play_simulations}")
    logging.basicConfig(level=logging.WARNING)
    if args.verbose:  # a sweep trains for an hour: its test rounds show how far it is
        for name in ("rbtrainer.run.loop", "rbtrainer.callbacks"):
            logging.getLogger(name).setLevel(logging.INFO)
    origin = provenance(ROOT)
    rows: list[dict[str, Any]] = []
    if args.game == "league":
        for seed in args.seeds:
            rows.append(league_seed(seed, args.games, args.opening_moves))
            print(json.dumps(rows[-1]), flush=True)
            if args.json:
                write_figures(args.json, origin, {"rows": rows})
        print(league_table(rows))
        return
    if args.evaluate is not None:
        opponents = tuple(args.opponents)
        for seed in args.seeds:
            rows.append(
                evaluate_seed(args.evaluate, seed, args.games, args.opening_moves, args.play_simulations, opponents)
            )
            print(json.dumps(rows[-1]), flush=True)
            if args.json:
                write_figures(args.json, origin, {"rows": rows})
        print(table(rows))
        return
    for seed in args.seeds:
        config = args.config or CONFIGS[args.game]
        git = origin["git"]
        row = run_seed(
            args.game, config, seed, args.games, args.opening_moves, args.save_dir, git, tuple(args.opponents)
        )
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.json:
            write_figures(args.json, origin, {"rows": rows})
    print(table(rows))


if __name__ == "__main__":
    main()
