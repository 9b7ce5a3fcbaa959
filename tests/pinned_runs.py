"""Short training runs whose statistics were recorded before the run layer was restructured.

``tests/data/pinned_stats.json`` holds what each run below returned on the code before that change
(written by ``python tests/pinned_runs.py --write``); ``test_pinned_stats.py`` checks that the
same seeds still give exactly those statistics. The runs use only the seed API and its keyword
extensions, so that the same file runs on both sides of the change.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from conftest import SMALL_ROBOT_GAME, SMALL_RUN

from rbtrainer import (
    DecentralizedTrainer,
    DQNConfig,
    EnvGroup,
    EpsilonAgent,
    League,
    LeagueConfig,
    PPOConfig,
    RandomAgent,
    dqn_agent,
    ppo_agent,
)
from rbtrainer.callbacks import EpsilonSchedule, KeepBest
from rbtrainer.evaluation import TicTacToeMinimax

HERE = os.path.dirname(os.path.abspath(__file__))
PINNED = os.path.join(HERE, "data", "pinned_stats.json")
OLD_STATE = os.path.join(HERE, "data", "state_format1.pt")
"""A training state written by the code before the change (format 1), at the second test round of
``tictactoe_dqn``."""

SETTINGS: dict[str, Any] = SMALL_RUN
TIMING = ("training_time", "test_time", "state_path", "plot_path")


def plain(value: Any) -> Any:
    """JSON-comparable ``value``: NaN as None, tuples as lists."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return plain(value.item())
    return value


def statistics(stats: Any) -> dict[str, Any]:
    fields = dataclasses.asdict(stats)
    return plain({k: v for k, v in fields.items() if k not in TIMING})


def tictactoe_dqn(tmp: str, **extra: Any) -> tuple[DecentralizedTrainer, list[Any], list[bool]]:
    """DQN against random on tic-tac-toe, epsilon schedule, the learner's own return as metric."""
    trainer = DecentralizedTrainer({"game": "tictactoe"}, plot_dir=tmp, **{**SETTINGS, **extra})
    learner = dqn_agent(
        trainer.observation_space(0),
        trainer.action_space(0),
        config=DQNConfig(hidden_sizes=(32,), buffer_size=2048),
        seed=5,
    )
    trainer.train_fn = EpsilonSchedule(learners=[learner], start=1.0, end=0.1, episodes=30)
    trainer.reward_metric = first_seat
    return trainer, [learner, RandomAgent(seed=7)], [True, False]


def first_seat(rewards: np.ndarray) -> float:
    return float(np.mean(rewards[:, 0]))


def all_seats(rewards: np.ndarray) -> float:
    return float(np.mean(rewards))


def robots_selfplay(tmp: str) -> tuple[DecentralizedTrainer, list[Any], list[bool]]:
    """Prioritized 3-step DQN in self-play on a short 2-robot game (the batch-native path)."""
    trainer = DecentralizedTrainer(SMALL_ROBOT_GAME, plot_dir=tmp, **SETTINGS)
    config = DQNConfig(buffer_size=4096, n_step=3, prioritized=True, target_update_freq=20)
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=config, seed=4)
    trainer.train_fn = EpsilonSchedule(learners=[learner], start=1.0, end=0.1, episodes=30)
    return trainer, [learner, learner], [True, True]


def opening_square(agent: Any) -> float:
    return float(agent.act(np.zeros((1, 3, 3, 2), np.float32), np.ones((1, 9), np.int8), np.zeros(1, bool))[0])


def ppo_groups(tmp: str) -> tuple[DecentralizedTrainer, list[Any], list[bool]]:
    """PPO in env groups (self-play, against a noisy minimax, against random), keeping its best snapshot."""
    trainer = DecentralizedTrainer({"game": "tictactoe"}, plot_dir=tmp, **{**SETTINGS, "num_train_envs": 6})
    learner = ppo_agent(trainer.observation_space(0), trainer.action_space(0), config=PPOConfig(), seed=5)
    groups = [
        EnvGroup("self", [learner, learner]),
        EnvGroup("vs bot", [learner, EpsilonAgent(TicTacToeMinimax(seed=6), 0.3, seed=7)], learning_mask=[True, False]),
        EnvGroup("vs random", [RandomAgent(seed=8), learner], learning_mask=[False, True]),
    ]
    trainer.test_fn = KeepBest(learner, opening_square)
    return trainer, groups, [True, True]


def overlap_connect_four(tmp: str) -> tuple[DecentralizedTrainer, list[Any], list[bool]]:
    """Overlapped collection and updates, DQN self-play on connect four with stop_fn and save_best_fn."""
    trainer = DecentralizedTrainer({"game": "connect_four"}, plot_dir=tmp, overlap=True, **SETTINGS)
    learner = dqn_agent(
        trainer.observation_space(0), trainer.action_space(0), config=DQNConfig(hidden_sizes=(32,)), seed=2
    )
    best: list[int] = []
    trainer.save_best_fn = best.append
    trainer.reward_metric = all_seats  # the default metric, given: no evaluation panel replaces it
    trainer.stop_fn = lambda metric, episodes: episodes >= 30
    return trainer, [learner, learner], [True, True]


def league_tictactoe(tmp: str) -> tuple[DecentralizedTrainer, Any, list[bool]]:
    """A DQN learner in a league (snapshots, a random member) on tic-tac-toe."""
    trainer = DecentralizedTrainer(
        {"game": "tictactoe"}, plot_dir=tmp, **{**SETTINGS, "num_train_envs": 6, "episodes_per_train": 60}
    )
    config = DQNConfig(hidden_sizes=(32,), buffer_size=4096, target_update_freq=20)
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=config, seed=1)
    trainer.reward_metric = all_seats  # the default metric, given: no evaluation panel replaces it
    league = League(
        learner,
        [RandomAgent(seed=3, name="random")],
        LeagueConfig(snapshot_every=15, max_snapshots=3, seed=5),
    )
    return trainer, league, [True, False]


RUNS: dict[str, Callable[[str], tuple[DecentralizedTrainer, Any, list[bool]]]] = {
    "tictactoe_dqn": tictactoe_dqn,
    "robots_selfplay": robots_selfplay,
    "ppo_groups": ppo_groups,
    "overlap_connect_four": overlap_connect_four,
    "league_tictactoe": league_tictactoe,
}


def run(name: str, tmp: str) -> dict[str, Any]:
    trainer, agents, learning = RUNS[name](tmp)
    with trainer:
        return statistics(trainer.train(agents, learning, plot=False))


class _StopAt:
    def __init__(self, trainer: DecentralizedTrainer, rounds: int) -> None:
        self.trainer, self.rounds, self.seen = trainer, rounds, 0

    def __call__(self, episodes: int, steps: int) -> None:
        self.seen += 1
        if self.seen == self.rounds:
            self.trainer.request_stop()


def write(tmp: str) -> None:
    values = {name: run(name, tmp) for name in RUNS}
    with open(PINNED, "w") as handle:
        json.dump(values, handle, indent=1, sort_keys=True)
        handle.write("\n")
    trainer, agents, learning = tictactoe_dqn(tmp, state_path=OLD_STATE, state_memory=True)
    trainer.test_fn = _StopAt(trainer, 2)
    with trainer:
        trainer.train(agents, learning, plot=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="record the runs' statistics (on the code before)")
    parser.add_argument("--tmp", default="/tmp/pinned_runs")
    args = parser.parse_args()
    os.makedirs(args.tmp, exist_ok=True)
    if args.write:
        write(args.tmp)
    else:
        json.dump({name: run(name, args.tmp) for name in RUNS}, sys.stdout, indent=1, sort_keys=True)
