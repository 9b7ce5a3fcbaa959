"""The Ray env pool: a short training on a local Ray runtime matches the dummy pool exactly."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from games.robot_delivery import RobotDeliveryEnv
from rbtrainer import DecentralizedTrainer, dqn_agent

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def _trainer(backend: str, env: dict, **settings: int) -> DecentralizedTrainer:
    sizes = {"num_train_envs": 2, "num_test_envs": 2, "episodes_per_train": 6, "episodes_per_test": 2, "test_freq": 3}
    return DecentralizedTrainer(
        env, update_freq=32, seed=5, backend=backend, progress_bar=False, **{**sizes, **settings}
    )


def _run(backend: str) -> tuple:
    trainer = _trainer(backend, {"robot_colors": ["r", "b"], "max_step": 40})
    try:
        learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=6, buffer_size=1024)
        stats = trainer.train([learner, learner], [True, True], plot=False)
        return stats.reward_metric_history, stats.per_agent_rewards, stats.collected_steps, stats.gradient_steps
    finally:
        trainer.close()


def test_ray_backend_trains_like_dummy(local_ray):
    assert _run("ray") == _run("dummy")


def _league_run(backend: str) -> tuple:
    from rbtrainer import League, LeagueConfig, RandomAgent

    # 3 envs on 2 workers: unequal blocks
    trainer = _trainer(backend, {"game": "tictactoe"}, num_train_envs=3, episodes_per_train=24, test_freq=8)
    try:
        learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=6, buffer_size=1024)
        league = League(learner, [RandomAgent(seed=7)], LeagueConfig(snapshot_every=6, seed=8))
        stats = trainer.train(league, [True, True], plot=False)
        assert stats.league is not None
        return stats.reward_metric_history, stats.league.test_score, stats.league.train_games, league.member_names
    finally:
        trainer.close()


def test_a_league_on_ray_plays_like_on_dummy(local_ray):
    assert _league_run("ray") == _league_run("dummy")


def test_unpickled_game_is_writable_and_equal():
    env = RobotDeliveryEnv()
    env.reset(seed=0)
    clone = pickle.loads(pickle.dumps(env))
    state = clone.game.__dict__.copy()
    state["_feat_NF"] = clone.game._feat_NF.copy()
    state["_feat_NF"].setflags(write=False)  # as an array arriving through Ray's object store
    clone.game.__setstate__(state)
    assert clone.game._feat_NF.flags.writeable
    for _ in range(6):
        action = int(np.flatnonzero(env.observe(env.agent_selection)["action_mask"])[0])
        env.step(action)
        clone.step(action)
    np.testing.assert_array_equal(clone.observe("r1")["observation"], env.observe("r1")["observation"])


def test_two_opponent_groups_on_ray(local_ray):
    from test_seating import check_two_groups, run_two_groups

    check_two_groups(run_two_groups("ray"))
