"""The agents shipped in ``pretrained/``: each loads from its agent spec on the game it records, says
what it was measured at (its benchmark row, the recipe's tables, the commit), and plays."""

from __future__ import annotations

import os

import pytest

from rbtrainer import DecentralizedTrainer, RandomAgent
from rbtrainer.agents.planning import PlanningLearner
from rbtrainer.checkpoint import Checkpoint
from rbtrainer.evaluation import agent_from_spec

PRETRAINED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pretrained")
BOARD = ["tictactoe_planning.pt", "connect_four_planning.pt"]
ROBOTS = {
    "robot_delivery_2p.pt": (2, False),
    "robot_delivery_3p.pt": (3, False),
    "robot_delivery_2p_battery.pt": (2, True),
    "robot_delivery_3p_battery.pt": (3, True),
    "robot_delivery_3p_station_mail.pt": (3, False),  # with the waiting mails in view (observe_station_mail)
}


def test_every_shipped_file_is_tested() -> None:
    assert sorted(os.listdir(PRETRAINED)) == sorted([*BOARD, *ROBOTS])


def _read(name: str) -> tuple[Checkpoint, dict]:
    checkpoint = Checkpoint.read(os.path.join(PRETRAINED, name))
    metadata = checkpoint.metadata
    assert metadata["git"]["commit"] and metadata["recipe"]["env"] == checkpoint.env_args
    return checkpoint, metadata["figures"]


@pytest.mark.parametrize("name", BOARD)
def test_the_planning_agents_play_with_the_budget_they_were_measured_at(name: str) -> None:
    checkpoint, figures = _read(name)
    assert checkpoint.game == figures["game"] and "planning" in checkpoint.metadata
    assert checkpoint.metadata["recipe"]["planning"]["enabled"]
    trainer = DecentralizedTrainer({"game": checkpoint.game}, num_test_envs=2, episodes_per_test=2, seed=0)
    learner = agent_from_spec(os.path.join(PRETRAINED, name), trainer)
    assert isinstance(learner, PlanningLearner) and learner.settings.play_simulations == figures["simulations"]
    result = trainer.test([learner, RandomAgent(seed=1)])
    assert result.rewards[:, 0].min() > 0  # it beats random play from the first seat


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_the_robot_agents_play_the_game_they_were_measured_on(name: str) -> None:
    checkpoint, figures = _read(name)
    players, battery = ROBOTS[name]
    env = checkpoint.env_args
    assert env is not None and len(env["robot_colors"]) == players and env.get("with_battery", False) is battery
    assert (figures["players"], figures["battery"]) == (players, battery)
    assert figures["dqn"]["games"] == figures["games"] > 0  # measured against A* in every seat order
    trainer = DecentralizedTrainer(env, num_test_envs=2, episodes_per_test=2, seed=0)
    agent = agent_from_spec(os.path.join(PRETRAINED, name), trainer)
    astar = agent_from_spec("astar", trainer, seed=0)  # built for the game's battery and view, as eval builds it
    result = trainer.test([agent] + [astar] * (players - 1))
    assert result.num_episodes == 2 and result.per_seat_rewards[0] > 5  # it delivers mail (+5 each)
