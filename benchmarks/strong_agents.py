"""Agents that are provably strong, measured with ``rbtrainer.evaluation``.

    python benchmarks/strong_agents.py tictactoe [--seeds 0 1 2]
    python benchmarks/strong_agents.py connect_four [--seeds 0 1 2]
    python benchmarks/strong_agents.py robots [--settings 2 3 2b 3b] [--seeds 0 1 2] [--episodes N] [--json FILE]
    python benchmarks/strong_agents.py robots --evaluate DIR [--json FILE]   # saved snapshots, fresh games
    python benchmarks/strong_agents.py --render FILE    # the robots table of a JSON file, no training

The training settings are recipes in ``configs/`` (:class:`rbtrainer.recipes.Recipe`):
``tictactoe_strong.toml``, ``connect_four_strong.toml`` (``--config`` names another), and
``robot_delivery_2p.toml`` / ``robot_delivery_3p.toml`` (with battery: ``robots_2b.toml`` /
``robots_3b.toml``); this script adds what only it does: the
measures that keep the best snapshot and the evaluation.

* ``tictactoe``: one DQN learner trained by self-play and against noisy minimax and random
  opponents, in both seats (the recipe's ``[opponents]``). Every 250 episodes ``KeepBest``
  measures its greedy policy exactly (exploitability from both seats first, then the weaker seat's
  win probability against random as a ratio to its target, 99 % first and 90 % second) and keeps
  the best snapshot; that snapshot's exact figures are printed, and it plays 200 games per seat
  against minimax and 1000 games per seat against random.
* ``connect_four``: the same recipe against the rule-based bot, which plays a random move half of the
  time (gamma 0.95, 3-step returns, every transition also stored mirrored, 60,000 episodes, more
  games in the second seat than in the first: 8 to 3 against random, 8 to 4 against the bot).
  Every 1000 episodes ``KeepBest`` plays validation games per seat, 200 against random and 50
  against the rule-based bot, and keeps the
  snapshot whose weakest seat is nearest its target (95 % wins vs random, 60 % score vs the bot).
  The snapshot then plays fresh games (other seeds): 1000 per seat against random (counting the
  immediate wins it takes and the threats it blocks, ``connect_four_tactics``), 200 against the
  bot, and a cross-play tournament with the baselines (heat-map under ``--plot-dir``).
* ``robots``: for every seed, self-play DQN on each robot game of ``--settings``: 2 and 3 players
  without battery (600 and 800 episodes unless ``--episodes``), with battery (``2b``, ``3b``: 1,500
  episodes, 6 mails to win), and without battery with the recipes trained against A* (``2a``,
  ``3a``: 3,000 episodes, gamma 0.9, A* in either seat beside self-play with 2 players, the best
  test round by a panel against A*; ``2m`` and ``3m``: ``2a`` and ``3a`` with the mails waiting on the
  pick-up cells in view, 10,000 and 6,000 episodes); the snapshot of the best test round then plays the A* agent
  in every seat order, 100 games each (2 players: 2 orders; 3 players: 6, one side in two seats):
  wins, draws, the score with its Wilson 95 % interval and the mean game clock of wins. Its
  ``--json`` holds the command, commit, date and machine (taken when the sweep starts) and one
  row per run, rewritten after every run; ``--render FILE`` prints that file's Markdown table
  (:func:`robots_table`) without training. ``--evaluate DIR`` trains nothing: the snapshots a sweep
  saved in ``DIR`` (its ``--save-dir``) play A* again in every seat order, 100 games each, on
  fresh games (seed 1,000 + the seed), their training figures read from their metadata.

``--save-dir DIR`` also saves the kept snapshot as the checkpoint ``DIR/GAME_seedN.pt`` (robots:
``DIR/robot_delivery_SETTING_seedN.pt``, its metadata holding its row, the recipe's tables and the
commit), which ``rbtrainer eval`` and ``rbtrainer play`` load. ``--recipe JSON`` changes keys of the
recipe's tables for one run (robots: of every setting's), e.g. ``--recipe '{"dqn": {"prioritized": true}}'``;
the opponents are one key, ``--recipe '{"opponents": {"against": [{"spec": "opportunist"}]}}'``.

Each prints one line per seed (robots: per run) and a summary; ``--json FILE`` also writes the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from rbtrainer import DecentralizedTrainer, FrozenAgent, RandomAgent
from rbtrainer.agents.base import Agent
from rbtrainer.callbacks import KeepBest
from rbtrainer.checkpoint import Checkpoint
from rbtrainer.evaluation import (
    ConnectFourNegamax,
    ConnectFourStrong,
    TicTacToeMinimax,
    TournamentResult,
    agent_from_spec,
    connect_four_tactics,
    tictactoe_exploitability,
    tictactoe_vs_random,
    tournament,
    wilson_interval,
)
from rbtrainer.files import atomic_write
from rbtrainer.plotting import plot_crossplay
from rbtrainer.provenance import provenance, write_figures
from rbtrainer.recipes import Recipe

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CONFIGS = os.path.join(ROOT, "configs")

BOARD_CONFIGS = {
    "tictactoe": os.path.join(CONFIGS, "tictactoe_strong.toml"),
    "connect_four": os.path.join(CONFIGS, "connect_four_strong.toml"),
}
"""The recipe of each board game: one learner in every env group, learning in its own seats."""

VALIDATION_GAMES = {"random": 200, "bot": 50}
"""Connect four's KeepBest: validation games per seat against random and the rule-based bot."""


def tictactoe_measure(agent: Agent) -> float:
    """Exact: minus the exploitability of both seats (dominant), plus the weaker seat's win probability
    vs random as a ratio to its target (99 % first, 90 % second)."""
    exploit = tictactoe_exploitability(agent)
    first, second = tictactoe_vs_random(agent)
    return -10.0 * (exploit.first + exploit.second) + min(first.win / 0.99, second.win / 0.90)


def connect_four_measure(trainer: DecentralizedTrainer, seed: int) -> Callable[[Agent], float]:
    """Validation games: the weakest seat's ratio to its target (wins vs random / 0.95, score vs the bot / 0.6)."""
    rounds = iter(range(10**6))

    def measure(agent: Agent) -> float:
        validation_seed = 10**6 * (seed + 1) + next(rounds)
        games = VALIDATION_GAMES
        vs_random = tournament(trainer, {"dqn": agent, "random": RandomAgent()}, games["random"], seed=validation_seed)
        vs_strong = tournament(
            trainer, {"dqn": agent, "strong": ConnectFourStrong()}, games["bot"], seed=validation_seed
        )
        ratios = [r.wins / r.games / 0.95 for r in vs_random.seat_results("dqn").values()]
        ratios += [r.score / 0.6 for r in vs_strong.seat_results("dqn").values()]
        return min(ratios)

    return measure


def board_recipe(game: str, seed: int, episodes: int | None, config: str | None = None) -> Recipe:
    """The recipe of ``game`` (``config``: another file) for ``seed``; ``episodes`` shortens it
    (epsilon then falls over at most half of them)."""
    recipe = Recipe.from_toml(config or BOARD_CONFIGS[game], trainer={"seed": seed, "progress_bar": False})
    if episodes:
        eps_episodes = min(recipe.schedule.eps_episodes, episodes // 2)
        recipe = recipe.replace(trainer={"episodes_per_train": episodes}, schedule={"eps_episodes": eps_episodes})
    return recipe


def train_board_agent(
    recipe: Recipe,
    keep: Callable[[DecentralizedTrainer, int], Callable[[Agent], float]] | None = None,
    save_dir: str | None = None,
) -> tuple[DecentralizedTrainer, Agent, dict]:
    """Train ``recipe``; returns the trainer (open: the caller closes it), the agent and training figures.

    With ``keep`` (given the trainer and the seed, it returns the measure), the agent is the
    learner's snapshot of best measure over the test rounds;
    otherwise the learner as training left it. With ``save_dir``, that agent is also written there
    as the checkpoint ``{game}_seed{seed}.pt`` (``rbtrainer eval`` / ``play`` load it).
    """
    run = recipe.build()
    trainer, learner = run.trainer, run.learner
    keeper = KeepBest(learner, keep(trainer, trainer.seed)) if keep is not None else None
    trainer.test_fn = keeper
    stats = run.train(plot=False)
    figures: dict[str, Any] = {
        "episodes": stats.collected_episodes,
        "env_steps": stats.collected_steps,
        "gradient_steps": stats.gradient_steps,
        "train_seconds": round(stats.training_time, 1),
    }
    agent: Agent = learner
    if keeper is not None and keeper.best is not None:
        agent = keeper.best
        figures["kept_at_episode"] = keeper.best_episodes
        figures["kept_score"] = round(keeper.best_score, 4)
        if save_dir is not None:  # the learner is done training: it takes the kept weights to be saved
            learner.load_state_dict(keeper.state_dict()["best"])
    if save_dir is not None:
        path = os.path.join(save_dir, f"{recipe.game}_seed{trainer.seed}.pt")
        figures["checkpoint"] = run.save(path)  # with the recipe's game and learner settings
    return trainer, agent, figures


def seat_scores(result: TournamentResult, name: str) -> dict[str, dict[str, float]]:
    return {
        seat: {"games": r.games, "wins": r.wins, "draws": r.draws, "losses": r.losses, "score": r.score}
        for seat, r in result.seat_results(name).items()
    }


def tictactoe(recipe: Recipe, plot_dir: str, save_dir: str | None) -> dict[str, Any]:
    seed = recipe.trainer.seed
    trainer, agent, figures = train_board_agent(recipe, keep=lambda *_: tictactoe_measure, save_dir=save_dir)
    exploit = tictactoe_exploitability(agent)
    exact_first, exact_second = tictactoe_vs_random(agent)
    vs_minimax = tournament(trainer, {"dqn": agent, "minimax": TicTacToeMinimax()}, 200, seed=seed)
    vs_random = tournament(trainer, {"dqn": agent, "random": RandomAgent()}, 1000, seed=seed)
    trainer.close()
    return {
        **figures,
        "exploitability_first": exploit.first,
        "exploitability_second": exploit.second,
        "exact_win_vs_random_first": round(exact_first.win, 4),
        "exact_win_vs_random_second": round(exact_second.win, 4),
        "vs_minimax": seat_scores(vs_minimax, "dqn"),
        "vs_random": seat_scores(vs_random, "dqn"),
    }


def connect_four(recipe: Recipe, plot_dir: str, save_dir: str | None) -> dict[str, Any]:
    seed = recipe.trainer.seed
    assert seed is not None  # board_recipe sets it
    trainer, learner, figures = train_board_agent(recipe, keep=connect_four_measure, save_dir=save_dir)
    tactics = connect_four_tactics(trainer, learner, RandomAgent(), 1000, seed=seed)
    print(tactics.table())
    vs_random = tactics.result
    vs_strong = tournament(trainer, {"dqn": learner, "strong": ConnectFourStrong()}, 200, seed=seed)
    entrants: dict[str, Agent] = {
        "dqn": learner,
        "random": RandomAgent(),
        "strong": ConnectFourStrong(),
        "negamax:2": ConnectFourNegamax(2),
        "negamax:4": ConnectFourNegamax(4),
    }
    cross = tournament(trainer, entrants, 50, seed=seed, anchor="random")
    trainer.close()
    print(cross.table())
    heat_map = plot_crossplay(
        os.path.join(plot_dir, f"crossplay_connect_four_seed{seed}.png"),
        cross.names,
        cross.score_matrix,
        [e.rating for e in cross.entrants],
        title=f"connect four: DQN (seed {seed}) and the baselines, 50 games per seat order",
    )
    return {
        **figures,
        "vs_random": seat_scores(vs_random, "agent"),
        "tactics_vs_random": {
            seat: {**dataclasses.asdict(count), "win_rate": count.win_rate, "block_rate": count.block_rate}
            for seat, count in (("first", tactics.first), ("second", tactics.second))
        },
        "vs_strong": seat_scores(vs_strong, "dqn"),
        "elo": {e.name: round(e.rating, 1) for e in cross.entrants},
        "heat_map": heat_map,
    }


ROBOT_SETTINGS: dict[str, tuple[str, int]] = {
    "2": ("robot_delivery_2p.toml", 600),
    "3": ("robot_delivery_3p.toml", 800),
    "2b": ("robots_2b.toml", 1500),
    "3b": ("robots_3b.toml", 1500),
    "2a": ("robot_delivery_2p_vs_astar.toml", 3000),
    "3a": ("robot_delivery_3p_vs_astar.toml", 3000),
    "2m": ("robot_delivery_2p_station_mail.toml", 10000),
    "3m": ("robot_delivery_3p_station_mail.toml", 6000),
}
"""Setting (players, ``b``: with battery, ``a``: trained against A*, ``m``: the ``a`` recipe with the waiting
mails in view) -> its recipe and training episodes in this script (``--episodes`` overrides)."""

ROBOT_GAMES_PER_SEATING = 100
"""Games per seat order of the best snapshot against the A* agent."""
FRESH_SEED = 1_000
"""``--evaluate`` plays its games with seed ``FRESH_SEED + seed``: games the sweep's evaluation did not play."""


def _finite(value: float, digits: int) -> float | None:
    """``value`` rounded, or None when it is not finite (JSON has no NaN or infinity)."""
    return round(value, digits) if math.isfinite(value) else None


def _against_astar(result: TournamentResult) -> dict[str, Any]:
    """A tournament of the DQN snapshot against A*, as a robots row's figures."""
    return {
        "games_per_seating": ROBOT_GAMES_PER_SEATING,
        "games": len(result.games),
        **{
            e.name: {
                "games": e.games,
                "wins": e.wins,
                "draws": e.draws,
                "losses": e.losses,
                "score": round(e.score, 4),
                "score_low": round(e.score_low, 4),
                "score_high": round(e.score_high, 4),
                "mean_winning_clock": _finite(e.mean_winning_span, 1),
            }
            for e in result.entrants
        },
    }


def robots_evaluate(settings: list[str], seeds: list[int], directory: str, json_path: str | None) -> None:
    """The snapshots a sweep saved (``DIR/robot_delivery_<setting>_seedN.pt``, ``--save-dir``) against A*
    again, on fresh games: their training figures are read from their metadata, the games are new."""
    origin = provenance(ROOT)
    paths = {(s, n): os.path.join(directory, f"robot_delivery_{s}_seed{n}.pt") for n in seeds for s in settings}
    missing = [path for path in paths.values() if not os.path.isfile(path)]
    if missing:  # before any game is played
        raise SystemExit(f"--evaluate {directory}: no {', '.join(missing)}; give the --save-dir of a robots sweep")
    rows: list[dict[str, Any]] = []
    for (setting, seed), path in paths.items():
        began = time.perf_counter()
        checkpoint = Checkpoint.read(path)
        trained, recipe = checkpoint.metadata["figures"], checkpoint.metadata["recipe"]
        env = recipe["env"]  # the game the snapshot was trained and measured on
        with DecentralizedTrainer(
            env, num_test_envs=recipe["trainer"]["num_test_envs"], seed=FRESH_SEED + seed, progress_bar=False
        ) as trainer:
            astar = agent_from_spec("astar", trainer, seed=FRESH_SEED + seed)
            agents = {"dqn": agent_from_spec(path, trainer), "astar": astar}
            result = tournament(trainer, agents, ROBOT_GAMES_PER_SEATING, seed=FRESH_SEED + seed)
        row = {
            **trained,
            **_against_astar(result),
            "evaluation_seed": FRESH_SEED + seed,
            "trained_at": checkpoint.metadata["git"],
            "evaluation_seconds": round(time.perf_counter() - began, 1),
        }
        rows.append(row)
        print(f"robots {setting}, seed {seed}: {json.dumps(row)}", flush=True)
        if json_path:
            write_figures(json_path, origin, {"rows": rows})
    print(robots_table(rows))


def robot_recipe(setting: str, seed: int, episodes: int | None) -> Recipe:
    """The recipe of a robots setting, with this script's seed and episodes."""
    config_name, default_episodes = ROBOT_SETTINGS[setting]
    trainer_settings = {"seed": seed, "progress_bar": False, "episodes_per_train": episodes or default_episodes}
    return Recipe.from_toml(os.path.join(CONFIGS, config_name), trainer=trainer_settings)


def robots(setting: str, seed: int, recipe: Recipe, save_dir: str | None = None, git: Any = None) -> dict[str, Any]:
    """Self-play DQN with ``recipe`` (the setting's, :func:`robot_recipe`, perhaps changed) on a robot game,
    then its best snapshot against A*: one row. ``save_dir``: also save that snapshot as
    ``DIR/robot_delivery_<setting>_seedN.pt`` with the row, the recipe and ``git``."""
    began = time.perf_counter()
    config_name = ROBOT_SETTINGS[setting][0]
    env = recipe.env
    players, battery = len(env["robot_colors"]), bool(env.get("with_battery", False))
    with recipe.build() as run:
        trainer = run.trainer
        best = run.keep_best_snapshot()
        stats = run.train(plot=False)
        astar = agent_from_spec("astar", trainer, seed=seed)
        result = tournament(trainer, {"dqn": best.agent, "astar": astar}, ROBOT_GAMES_PER_SEATING, seed=seed)
        print(result.table())
        row = {
            "setting": setting,
            "players": players,
            "battery": battery,
            "seed": seed,
            "config": f"configs/{config_name}",
            "episodes": stats.collected_episodes,
            "env_steps": stats.collected_steps,
            "train_seconds": round(stats.training_time, 1),
            "best_metric": _finite(stats.best_reward_metric, 2),
            "best_episode": best.episodes,
            **_against_astar(result),
            "wall_seconds": round(time.perf_counter() - began, 1),
        }
        if save_dir is not None:  # the learner takes the best snapshot's weights to be saved
            if not isinstance(best.agent, FrozenAgent):
                raise TypeError(f"the best snapshot {best.agent!r} is not a DQN learner's; it cannot be saved")
            os.makedirs(save_dir, exist_ok=True)
            run.learner.load_state_dict(best.agent.state_dict())
            path = os.path.join(save_dir, f"robot_delivery_{setting}_seed{seed}.pt")
            run.save(path, {"figures": row, "recipe": recipe.tables(), "git": git})
    return row


def robots_table(rows: list[dict[str, Any]]) -> str:
    """The robots rows as a Markdown table, by players then seed.

    DQN's score is (wins + draws / 2) / games with its Wilson 95 % interval; the game clock counts
    legal moves. With 3 players one side takes two of the three seats (every seat order, balanced).
    """
    lines = [
        "| players | battery | recipe | seed | training episodes (best at) | games | DQN wins "
        "| A* wins | draws | DQN score [95 % CI] | mean clock of wins, DQN / A* | training wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def clock(side: dict[str, Any]) -> str:
        value = side.get("mean_winning_clock")
        return "-" if value is None else f"{value:.0f}"

    for r in sorted(rows, key=lambda r: (r.get("battery", False), r["players"], r["config"], r["seed"])):
        dqn, astar = r["dqn"], r["astar"]
        games = r.get("games", dqn["games"])
        if dqn["games"]:  # the score from the counts, so the interval needs nothing else
            value = (dqn["wins"] + dqn["draws"] / 2) / dqn["games"]
            low, high = wilson_interval(value, dqn["games"])
            score = f"{value:.3f} [{low:.3f}, {high:.3f}]"
        else:
            score = "-"
        lines.append(
            f"| {r['players']} | {'yes' if r.get('battery') else 'no'} | `{os.path.basename(r['config'])}` "
            f"| {r['seed']} "
            f"| {r['episodes']} ({r['best_episode']}) | {games} "
            f"| {dqn['wins']} | {astar['wins']} | {dqn['draws']} | {score} "
            f"| {clock(dqn)} / {clock(astar)} | {r['train_seconds']:.0f} |"
        )
    return "\n".join(lines)


BOARD_MODES: dict[str, Callable[[Recipe, str, str | None], dict[str, Any]]] = {
    "tictactoe": tictactoe,
    "connect_four": connect_four,
}


def changed_recipe(recipe: Recipe, changes: Any, parser: argparse.ArgumentParser) -> Recipe:
    """``recipe`` with ``changes`` (JSON: table name -> keys to replace); a bad table or key is a parser error."""
    if not isinstance(changes, dict) or not all(isinstance(v, dict) for v in changes.values()):
        parser.error('--recipe takes a JSON object of tables, e.g. \'{"dqn": {"prioritized": true}}\'')
    try:
        return recipe.replace(**changes)
    except (TypeError, ValueError) as err:
        parser.error(f"--recipe: {err}")


def robots_sweep(
    settings: list[str],
    seeds: list[int],
    episodes: int | None,
    json_path: str | None,
    save_dir: str | None,
    changes: Callable[[Recipe], Recipe] | None = None,
) -> None:
    """Every seed with each setting; ``json_path`` is rewritten after every run (with the command,
    commit, date and machine taken when the sweep starts), then the table is printed. ``changes``:
    applied to each setting's recipe (``--recipe``)."""
    origin = provenance(ROOT)  # the code the runs start from
    recipes = {(seed, setting): robot_recipe(setting, seed, episodes) for seed in seeds for setting in settings}
    if changes is not None:  # every recipe changed before any training, so a bad change stops the sweep at once
        recipes = {key: changes(recipe) for key, recipe in recipes.items()}
    rows: list[dict[str, Any]] = []
    for (seed, setting), recipe in recipes.items():
        row = robots(setting, seed, recipe, save_dir, origin["git"])
        rows.append(row)
        print(f"robots {setting}, seed {seed}: {json.dumps(row)}", flush=True)
        if json_path:  # an interrupted sweep keeps what it finished
            write_figures(json_path, origin, {"rows": rows})
    print(robots_table(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", choices=sorted([*BOARD_MODES, "robots"]))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, help="training episodes (default: the recipe's)")
    parser.add_argument("--config", help="board games: the recipe file (default: configs/<game>_strong.toml)")
    parser.add_argument("--plot-dir", default="plots")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument(
        "--render",
        metavar="JSON",
        help="robots: print the Markdown table of a JSON file the robots mode wrote; train nothing",
    )
    parser.add_argument(
        "--save-dir",
        help="also save the kept snapshot as the checkpoint DIR/GAME_seedN.pt (robots: "
        "DIR/robot_delivery_SETTING_seedN.pt) for rbtrainer eval/play",
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=list(ROBOT_SETTINGS),
        default=list(ROBOT_SETTINGS),
        help="robots: the games to train (players, b: with battery, a: trained against A*, m: the same with "
        "the waiting mails in view)",
    )
    parser.add_argument(
        "--conv-channels",
        type=int,
        nargs="+",
        help="board games: 3x3 convolutions of these widths before the hidden layers (DQNConfig.conv_channels)",
    )
    parser.add_argument(
        "--recipe",
        type=json.loads,
        metavar="JSON",
        help="change the recipe's tables (robots: every setting's), e.g. '{\"dqn\": {\"prioritized\": true}}'",
    )
    parser.add_argument(
        "--evaluate",
        metavar="DIR",
        help="robots: play the snapshots a sweep saved in DIR (its --save-dir) against A* again on fresh games; "
        "train nothing",
    )
    parser.add_argument("--verbose", action="store_true", help="log each new best test round")
    args = parser.parse_args()
    if args.render:
        if args.mode not in (None, "robots"):
            parser.error(f"--render applies to robots, not {args.mode}")
        with open(args.render) as handle:
            print(robots_table(json.load(handle)["rows"]))
        return
    if args.mode is None:
        parser.error("a mode is required (or --render JSON)")
    logging.basicConfig(level=logging.WARNING)
    if args.verbose:
        logging.getLogger("rbtrainer.callbacks").setLevel(logging.INFO)
    board = args.mode in BOARD_MODES
    for flag in ("conv_channels", "config"):
        if getattr(args, flag) is not None and not board:
            parser.error(f"--{flag.replace('_', '-')} applies to {sorted(BOARD_MODES)}, not {args.mode}")
    if args.evaluate and board:
        parser.error(f"--evaluate applies to robots, not {args.mode}")
    if args.evaluate:
        robots_evaluate(args.settings, args.seeds, args.evaluate, args.json)
        return
    if not board:
        robots_sweep(
            args.settings,
            args.seeds,
            args.episodes,
            args.json,
            args.save_dir,
            None if args.recipe is None else lambda recipe: changed_recipe(recipe, args.recipe, parser),
        )
        return
    figures: dict[str, Any] = {}
    for seed in args.seeds:
        start = time.perf_counter()
        recipe = board_recipe(args.mode, seed, args.episodes, args.config)
        if args.recipe is not None:
            recipe = changed_recipe(recipe, args.recipe, parser)
        if args.conv_channels:
            recipe = recipe.replace(dqn={"conv_channels": tuple(args.conv_channels)})
        result = BOARD_MODES[args.mode](recipe, args.plot_dir, args.save_dir)
        figures[str(seed)] = result
        result["wall_seconds"] = round(time.perf_counter() - start, 1)
        print(f"seed {seed}: {json.dumps(result, default=float)}", flush=True)
    if args.json:
        with atomic_write(args.json) as handle:
            handle.write(json.dumps(figures, indent=2, default=float).encode())


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
