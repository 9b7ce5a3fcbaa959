"""Env steps per second of the trainer's test and train loops (16 envs, dummy backend).

Loops measured per game configuration:
  * ``test/random``: ``trainer.test`` with random agents in every seat;
  * ``test/dqn``: ``trainer.test`` with one greedy DQN agent (hidden [64, 64]) in every seat;
  * ``train/dqn``: ``trainer.train`` self-play DQN, hidden [64, 64], an update every 200 env
    steps with 0.02 gradient steps per env step, batch 64 (test rounds excluded from the rate).
Imports and first-use costs (torch's lazy imports, allocations) are paid in a warm-up run before measuring;
each figure is the median (and range) of ``--repeats`` runs. Peak RSS is the process's maximum so far.

    python benchmarks/trainer_speed.py [--configs 3robots 12robots tictactoe] [--repeats 3] \\
        [--json benchmarks/data/trainer_speed.json] [--render JSON]
"""

from __future__ import annotations

import logging
import os
import resource
import time
from typing import Any

from rbtrainer import DecentralizedTrainer, RandomAgent, dqn_agent
from rbtrainer.provenance import benchmark_parser, median_range, provenance, table_of, write_figures

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

CONFIGS: dict[str, dict[str, Any]] = {
    "3robots": {"game": "robot_delivery", "robot_colors": ["r", "b", "gr"], "required_mail": 5, "max_step": 600},
    "12robots": {
        "game": "robot_delivery",
        "robot_colors": ["r", "b", "gr", "p"],
        "num_robots_per_player": 3,
        "required_mail": 10,
        "max_step": 1500,
    },
    "tictactoe": {"game": "tictactoe"},
}
TEST_EPISODES = {"3robots": 32, "12robots": 16, "tictactoe": 2000}
TRAIN_EPISODES = {"3robots": 48, "12robots": 16, "tictactoe": 2000}


def _trainer(env_args: dict[str, Any], episodes_train: int, episodes_test: int) -> DecentralizedTrainer:
    return DecentralizedTrainer(
        env_args,
        num_train_envs=16,
        num_test_envs=16,
        batch_size=64,
        update_freq=200,
        update_per_step=0.02,
        test_freq=10**9,
        episodes_per_train=episodes_train,
        episodes_per_test=episodes_test,
        seed=0,
        progress_bar=False,
    )


def _dqn(trainer: DecentralizedTrainer, seed: int = 1):
    return dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=seed, hidden_sizes=(64, 64))


def test_loop(trainer: DecentralizedTrainer, agents: list) -> float:
    start = time.perf_counter()
    result = trainer.test(agents)
    elapsed = time.perf_counter() - start
    return result.mean_episode_length * result.num_episodes / elapsed


def train_loop(trainer: DecentralizedTrainer) -> float:
    learner = _dqn(trainer)
    stats = trainer.train([learner] * trainer.num_seats, [True] * trainer.num_seats, plot=False)
    return stats.steps_per_second


def measure(name: str, repeats: int) -> dict[str, Any]:
    env_args = CONFIGS[name]
    trainer = _trainer(env_args, TRAIN_EPISODES[name], TEST_EPISODES[name])
    seats = trainer.num_seats
    randoms = [RandomAgent(seed=s) for s in range(seats)]
    greedy = [_dqn(trainer)] * seats
    # warm-up: pools, imports, first updates
    warm = _trainer(env_args, 2, 2)
    warm.test(randoms)
    learner = _dqn(warm)
    warm.train([learner] * seats, [True] * seats, plot=False)
    warm.close()
    row = {
        "config": name,
        "env_args": env_args,
        "test_random": median_range([test_loop(trainer, randoms) for _ in range(repeats)]),
        "test_dqn": median_range([test_loop(trainer, greedy) for _ in range(repeats)]),
        "train_dqn": median_range([train_loop(trainer) for _ in range(repeats)]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "repeats": repeats,
    }
    trainer.close()
    return row


def _cell(spread: dict[str, float]) -> str:
    return f"{spread['median']:,.0f} ({spread['min']:,.0f}-{spread['max']:,.0f})"


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of :func:`measure` rows: env steps/s, median (range)."""
    lines = [
        "| config | test loop, random agents | test loop, greedy DQN [64, 64] | train loop, DQN [64, 64] | "
        "peak RSS of the process, MB |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['config']} | {_cell(r['test_random'])} | {_cell(r['test_dqn'])} | {_cell(r['train_dqn'])} | "
            f"{r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.render:
        print(table_of(args.render, table))
        return
    logging.basicConfig(level=logging.WARNING)
    origin = provenance(ROOT)
    rows = [measure(name, args.repeats) for name in args.configs]
    print(f"env steps per second, 16 envs, median (range) of {args.repeats}")
    print(table(rows))
    if args.json:
        write_figures(args.json, origin, {"rows": rows})


if __name__ == "__main__":
    main()
