"""Agents that are provably strong, measured with ``rbtrainer.evaluation``.

    python benchmarks/strong_agents.py tictactoe [--seeds 0 1 2]
    python benchmarks/strong_agents.py connect_four [--seeds 0 1 2]
    python benchmarks/strong_agents.py robots [--seeds 0 1 2]

* ``tictactoe``: one DQN learner trained by self-play and against noisy minimax and random
  opponents, in both seats (env groups). Every 250 episodes ``KeepBest`` measures its greedy policy exactly
  (exploitability from both seats first, then the weaker seat's win probability against random as a
  ratio to its target, 99 % first and 90 % second) and keeps the
  best snapshot; that snapshot's exact figures are printed, and it plays 200 games per seat
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
* ``robots``: self-play DQN on the 2- and 3-player robot game, then a cross-play with the A*
  agent in every seat order: win shares and the mean game clock of wins.

``--save-dir DIR`` also saves the board games' kept snapshot as the checkpoint ``DIR/GAME_seedN.pt``,
which ``rbtrainer eval`` and ``rbtrainer play`` load. ``--recipe JSON`` changes a board game's recipe
for one run, e.g. ``--recipe '{"weights": {"random": [1, 2], "opportunist": [2, 6]}}'``.

Each prints one line per seed and a summary; ``--json FILE`` also writes the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from rbtrainer import (
    AStarDeliveryAgent,
    DecentralizedTrainer,
    DQNConfig,
    EnvGroup,
    EpsilonAgent,
    RandomAgent,
    dqn_agent,
)
from rbtrainer.agents.base import Agent
from rbtrainer.agents.learners import Learner, OffPolicyLearner
from rbtrainer.callbacks import EpsilonSchedule, KeepBest
from rbtrainer.checkpoint import save_agents
from rbtrainer.evaluation import (
    ConnectFourNegamax,
    ConnectFourOpportunist,
    ConnectFourStrong,
    TicTacToeMinimax,
    TournamentResult,
    connect_four_tactics,
    tictactoe_exploitability,
    tictactoe_vs_random,
    tournament,
)
from rbtrainer.plotting import plot_crossplay

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "configs")

# The recipe of the two board games: one learner in every group, learning in its own seats.
# Weights are the env groups' shares: self-play, and (first seat, second seat) against each opponent
# (connect four may add "opportunist": ConnectFourOpportunist, random play that never misses a win).
BOARD_RECIPES: dict[str, dict[str, Any]] = {
    "tictactoe": {
        "episodes": 30_000,
        "trainer": {"update_freq": 64, "update_per_step": 1.0, "batch_size": 128},
        "dqn": {
            "hidden_sizes": (256, 256),
            "lr": 5e-4,
            "gamma": 0.9,
            "target_update_freq": 500,
            "buffer_size": 200_000,
        },
        "bot": TicTacToeMinimax,
        "bot_epsilon": 0.3,
        "eps_end": 0.05,
        "eps_episodes": 15_000,
        "weights": {"self": 1.0, "random": (2.0, 2.0), "bot": (2.0, 2.0)},
        "test_freq": 250,
    },
    "connect_four": {
        "episodes": 60_000,
        "trainer": {"update_freq": 128, "update_per_step": 0.5, "batch_size": 128},
        "dqn": {
            "hidden_sizes": (256, 256),
            "lr": 5e-4,
            "gamma": 0.95,
            "n_step": 3,
            "target_update_freq": 1000,
            "buffer_size": 800_000,
            "mirror": True,
        },
        "bot": ConnectFourStrong,
        "bot_epsilon": 0.5,
        "eps_end": 0.02,
        "eps_episodes": 15_000,
        "weights": {"self": 1.0, "random": (3.0, 8.0), "bot": (4.0, 8.0)},
        "test_freq": 1000,
        "validation_games": {"random": 200, "bot": 50},
    },
}


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
        games = BOARD_RECIPES["connect_four"]["validation_games"]
        vs_random = tournament(trainer, {"dqn": agent, "random": RandomAgent()}, games["random"], seed=validation_seed)
        vs_strong = tournament(
            trainer, {"dqn": agent, "strong": ConnectFourStrong()}, games["bot"], seed=validation_seed
        )
        ratios = [r.wins / r.games / 0.95 for r in vs_random.seat_results("dqn").values()]
        ratios += [r.score / 0.6 for r in vs_strong.seat_results("dqn").values()]
        return min(ratios)

    return measure


def train_board_agent(
    game: str,
    seed: int,
    episodes: int | None,
    keep: Callable[[DecentralizedTrainer, int], Callable[[Agent], float]] | None = None,
    save_dir: str | None = None,
) -> tuple[DecentralizedTrainer, Agent, dict]:
    """Train the recipe of ``game``; returns the trainer, the agent and training figures.

    With ``keep`` (given the trainer and the seed, it returns the measure), the agent is the
    learner's snapshot of best measure over the test rounds;
    otherwise the learner as training left it. With ``save_dir``, that agent is also written there
    as the checkpoint ``{game}_seed{seed}.pt`` (``rbtrainer eval`` / ``play`` load it).
    """
    recipe = BOARD_RECIPES[game]
    total = episodes or recipe["episodes"]
    trainer = DecentralizedTrainer(
        {"game": game},
        num_train_envs=16,
        num_test_envs=16,
        episodes_per_train=total,
        episodes_per_test=16,
        test_freq=recipe.get("test_freq", max(1, total // 10)),
        seed=seed,
        progress_bar=False,
        **recipe["trainer"],
    )
    config = DQNConfig(**recipe["dqn"])
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=config, seed=seed)
    bot, noise, weights = recipe["bot"], recipe["bot_epsilon"], recipe["weights"]
    seeds = iter(range(1000 * seed + 1, 1000 * seed + 100))
    groups = [
        EnvGroup("self-play", [learner, learner], weights["self"], [True, True]),
        EnvGroup("vs random (first)", [learner, RandomAgent(seed=next(seeds))], weights["random"][0], [True, False]),
        EnvGroup("vs random (second)", [RandomAgent(seed=next(seeds)), learner], weights["random"][1], [False, True]),
        EnvGroup(
            "vs noisy bot (first)",
            [learner, EpsilonAgent(bot(seed=next(seeds)), noise, seed=next(seeds))],
            weights["bot"][0],
            [True, False],
        ),
        EnvGroup(
            "vs noisy bot (second)",
            [EpsilonAgent(bot(seed=next(seeds)), noise, seed=next(seeds)), learner],
            weights["bot"][1],
            [False, True],
        ),
    ]
    if "opportunist" in weights:  # connect four: random play that never misses a win
        first, second = weights["opportunist"]
        ahead, behind = ConnectFourOpportunist(seed=next(seeds)), ConnectFourOpportunist(seed=next(seeds))
        groups += [
            EnvGroup("vs opportunist (first)", [learner, behind], first, [True, False]),
            EnvGroup("vs opportunist (second)", [ahead, learner], second, [False, True]),
        ]
    trainer.train_fn = EpsilonSchedule(
        learners=[learner], start=1.0, end=recipe["eps_end"], episodes=min(recipe["eps_episodes"], total // 2)
    )
    keeper = KeepBest(learner, keep(trainer, seed)) if keep is not None else None
    trainer.test_fn = keeper
    stats = trainer.train(groups, [True, True], plot=False)
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
        path = os.path.join(save_dir, f"{game}_seed{seed}.pt")
        figures["checkpoint"] = save_self_play(path, learner, {"game": game}, config)
    return trainer, agent, figures


def save_self_play(path: str, learner: Learner, env: dict[str, Any], config: DQNConfig) -> str:
    """Write ``learner`` as a self-play checkpoint of ``env`` with the configuration that rebuilds it."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    metadata = {"env": env, "dqn": dataclasses.asdict(config)}
    return save_agents(path, [learner, learner], metadata)


def seat_scores(result: TournamentResult, name: str) -> dict[str, dict[str, float]]:
    return {
        seat: {"games": r.games, "wins": r.wins, "draws": r.draws, "losses": r.losses, "score": r.score}
        for seat, r in result.seat_results(name).items()
    }


def tictactoe(seed: int, episodes: int | None, plot_dir: str, save_dir: str | None) -> dict[str, Any]:
    trainer, agent, figures = train_board_agent(
        "tictactoe", seed, episodes, keep=lambda *_: tictactoe_measure, save_dir=save_dir
    )
    exploit = tictactoe_exploitability(agent)
    exact_first, exact_second = tictactoe_vs_random(agent)
    vs_minimax = tournament(trainer, {"dqn": agent, "minimax": TicTacToeMinimax()}, 200, seed=seed)
    vs_random = tournament(trainer, {"dqn": agent, "random": RandomAgent()}, 1000, seed=seed)
    return {
        **figures,
        "exploitability_first": exploit.first,
        "exploitability_second": exploit.second,
        "exact_win_vs_random_first": round(exact_first.win, 4),
        "exact_win_vs_random_second": round(exact_second.win, 4),
        "vs_minimax": seat_scores(vs_minimax, "dqn"),
        "vs_random": seat_scores(vs_random, "dqn"),
    }


def connect_four(seed: int, episodes: int | None, plot_dir: str, save_dir: str | None) -> dict[str, Any]:
    trainer, learner, figures = train_board_agent(
        "connect_four", seed, episodes, keep=connect_four_measure, save_dir=save_dir
    )
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


class BestSnapshot:
    """``save_best_fn`` keeping a frozen snapshot of the learner at its best test round."""

    def __init__(self, learner: OffPolicyLearner) -> None:
        self.learner = learner
        self.agent: Agent = learner.frozen()
        self.episodes = 0

    def __call__(self, episodes: int) -> None:
        self.agent, self.episodes = self.learner.frozen(), episodes


def selfplay_run(
    config: dict[str, Any], seed: int, episodes: int
) -> tuple[DecentralizedTrainer, OffPolicyLearner, BestSnapshot]:
    """The trainer and DQN learner of a ``rbtrainer train`` TOML config (its ``[env]``, ``[trainer]``,
    ``[dqn]`` and ``[schedule]`` tables) for ``episodes`` episodes, with the epsilon schedule and a
    :class:`BestSnapshot` as ``save_best_fn``."""
    trainer_args = {**config["trainer"], "seed": seed, "progress_bar": False, "episodes_per_train": episodes}
    trainer_args.pop("plot_name", None)
    trainer = DecentralizedTrainer(config["env"], **trainer_args)
    learner = dqn_agent(
        trainer.observation_space(0), trainer.action_space(0), config=DQNConfig(**config["dqn"]), seed=seed
    )
    schedule = config["schedule"]
    trainer.train_fn = EpsilonSchedule(
        learners=[learner], start=schedule["eps_start"], end=schedule["eps_end"], episodes=schedule["eps_episodes"]
    )
    trainer.save_best_fn = best = BestSnapshot(learner)
    return trainer, learner, best


def robots(seed: int, episodes: int | None, plot_dir: str, save_dir: str | None) -> dict[str, Any]:
    del save_dir  # main() refuses --save-dir here: ``rbtrainer train`` saves robot checkpoints
    out: dict[str, Any] = {}
    for label, config_name, default_episodes in (
        ("2p", "robot_delivery_2p.toml", 600),
        ("3p", "robot_delivery_3p.toml", 800),
    ):
        with open(os.path.join(CONFIGS, config_name), "rb") as handle:
            config = tomllib.load(handle)
        trainer, learner, best = selfplay_run(config, seed, episodes or default_episodes)
        stats = trainer.train([learner] * trainer.num_seats, [True] * trainer.num_seats, plot=False)
        env = config["env"]
        astar = AStarDeliveryAgent(len(env["robot_colors"]), with_battery=env.get("with_battery", False), seed=seed)
        result = tournament(trainer, {"dqn": best.agent, "astar": astar}, 50, seed=seed)
        print(result.table())
        out[label] = {
            "episodes": stats.collected_episodes,
            "env_steps": stats.collected_steps,
            "train_seconds": round(stats.training_time, 1),
            "best_metric": round(stats.best_reward_metric, 2),
            "best_episode": best.episodes,
            **{
                name: {
                    "games": r.games,
                    "wins": r.wins,
                    "draws": r.draws,
                    "win_share": round(r.wins / r.games, 3),
                    "mean_winning_clock": round(r.mean_winning_span, 1),
                    "score": round(r.score, 3),
                }
                for name, r in ((e.name, e) for e in result.entrants)
            },
        }
    return out


MODES: dict[str, Callable[[int, int | None, str, str | None], dict[str, Any]]] = {
    "tictactoe": tictactoe,
    "connect_four": connect_four,
    "robots": robots,
}


def changed_recipe(recipe: dict[str, Any], changes: dict[str, Any], parser: argparse.ArgumentParser) -> dict[str, Any]:
    """``recipe`` with ``changes`` (a new dict): tables (dicts) are merged, other values replaced;
    JSON lists become tuples. An unknown key is a parser error."""
    out = dict(recipe)
    for key, value in changes.items():
        if key not in recipe:
            parser.error(f"--recipe: unknown key {key!r}; the recipe has {sorted(recipe)}")
        if isinstance(value, dict):
            if not isinstance(recipe.get(key), dict):
                parser.error(f"--recipe: {key!r} is not a table of the recipe")
            value = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
            out[key] = {**recipe[key], **value}
        else:
            out[key] = tuple(value) if isinstance(value, list) else value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, help="training episodes (default: the recipe's)")
    parser.add_argument("--plot-dir", default="plots")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument(
        "--save-dir",
        help="board games: also save the kept snapshot as the checkpoint DIR/GAME_seedN.pt (for rbtrainer eval/play)",
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
        help='board games: change the recipe, e.g. \'{"dqn": {"prioritized": true}}\' (tables merged one level deep)',
    )
    parser.add_argument("--verbose", action="store_true", help="log each new best test round")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.verbose:
        logging.getLogger("rbtrainer.callbacks").setLevel(logging.INFO)
    if args.save_dir and args.mode not in BOARD_RECIPES:
        parser.error(
            f"--save-dir applies to {sorted(BOARD_RECIPES)}; rbtrainer train saves the robot game's checkpoints"
        )
    if args.recipe is not None:
        if args.mode not in BOARD_RECIPES or not isinstance(args.recipe, dict):
            parser.error(f"--recipe takes a JSON object and applies to {sorted(BOARD_RECIPES)}")
        BOARD_RECIPES[args.mode] = changed_recipe(BOARD_RECIPES[args.mode], args.recipe, parser)
    if args.conv_channels:
        if args.mode not in BOARD_RECIPES:
            parser.error(f"--conv-channels applies to {sorted(BOARD_RECIPES)}, not {args.mode}")
        recipe = BOARD_RECIPES[args.mode]
        BOARD_RECIPES[args.mode] = {**recipe, "dqn": {**recipe["dqn"], "conv_channels": tuple(args.conv_channels)}}
    figures: dict[str, Any] = {}
    for seed in args.seeds:
        start = time.perf_counter()
        figures[str(seed)] = result = MODES[args.mode](seed, args.episodes, args.plot_dir, args.save_dir)
        result["wall_seconds"] = round(time.perf_counter() - start, 1)
        print(f"seed {seed}: {json.dumps(result, default=float)}", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2, default=float)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
