"""PettingZoo API and seeding conformance of the robot-delivery env, for every option combination."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from pettingzoo.test import api_test, seed_test

from games.robot_delivery import env as make_env
from games.robot_delivery import raw_env

PLAYER_SETUPS = [(["r", "b"], 1), (["r", "b", "gr"], 1), (["r", "b"], 2), (["r", "b", "gr", "p"], 3)]
OPTIONS = list(itertools.product(PLAYER_SETUPS, [False, True], [False, True]))


def _kwargs(setup, battery, random_steps):
    (players, per_player) = setup
    return {
        "robot_colors": players,
        "num_robots_per_player": per_player,
        "with_battery": battery,
        "random_num_steps": random_steps,
        "required_mail": 2,
        "max_step": 300,
    }


@pytest.mark.parametrize(("setup", "battery", "random_steps"), OPTIONS)
def test_api_and_seed(setup, battery, random_steps):
    kwargs = _kwargs(setup, battery, random_steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # naming/obs-space style hints, not failures
        api_test(make_env(**kwargs), num_cycles=300)
        seed_test(lambda: make_env(**kwargs), num_cycles=300)


@pytest.mark.parametrize(("setup", "battery", "random_steps"), OPTIONS)
def test_same_seed_same_game(setup, battery, random_steps):
    """Two envs with the same seed and the same actions produce identical trajectories."""
    kwargs = _kwargs(setup, battery, random_steps)
    traces = []
    for _ in range(2):
        env = raw_env(**kwargs)
        rng = np.random.default_rng(7)
        trace = []
        for episode in range(2):
            env.reset(seed=123 if episode == 0 else None)
            while not env.game.game_over:
                obs = env.observe(env.agent_selection)
                legal = np.flatnonzero(obs["action_mask"])
                action = int(rng.choice(legal)) if len(legal) else 0
                env.step(action)
                trace.append((env.agent_selection, obs["observation"].tobytes(), env.rewards.copy()))
            trace.append((env.winner, env.game_clock, env.num_steps))
        traces.append(trace)
    assert traces[0] == traces[1]


def test_cumulative_rewards_follow_aec_conventions():
    env = raw_env(robot_colors=["r", "b"], random_num_steps=True, max_step=200)
    env.reset(seed=1)
    while not env.game.game_over:
        agent = env.agent_selection
        env.step(0)
        assert env._cumulative_rewards[agent] == env.rewards[agent]
        assert all(r == 0.0 for a, r in env.rewards.items() if a != agent)


def test_dead_agent_protocol_after_the_end():
    env = make_env(robot_colors=["r", "b", "gr"], max_step=5)
    env.reset(seed=0)
    for _agent in env.agent_iter():
        _, _, term, trunc, _ = env.last()
        env.step(None if term or trunc else 0)
    assert env.agents == []
    with pytest.raises(Exception, match="reset"):
        env.unwrapped.step(0)


def test_api_and_seed_with_the_station_mail_in_view():
    kwargs = {**_kwargs((["r", "b", "gr"], 1), True, False), "observe_station_mail": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        api_test(make_env(**kwargs), num_cycles=300)
        seed_test(lambda: make_env(**kwargs), num_cycles=300)
