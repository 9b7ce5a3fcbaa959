"""Trainer features beyond the learning scenarios: backends, frozen and scripted agents, hooks."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from rbtrainer import AStarDeliveryAgent, DecentralizedTrainer, RandomAgent, dqn_agent, ppo_agent
from rbtrainer.callbacks import BetaSchedule, EpsilonSchedule, KeepBest, RewardThreshold, chain
from rbtrainer.checkpoint import load_agents, save_agents

SMALL = {
    "num_train_envs": 4,
    "num_test_envs": 4,
    "episodes_per_train": 12,
    "episodes_per_test": 8,
    "test_freq": 6,
    "update_freq": 64,
    "progress_bar": False,
}
ROBOTS = {"robot_colors": ["r", "b"], "max_step": 60}


def _run(backend: str, **settings: Any) -> tuple:
    trainer = DecentralizedTrainer(ROBOTS, seed=11, backend=backend, **{**SMALL, **settings})
    try:
        learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=4, buffer_size=4096)
        stats = trainer.train([learner, learner], [True, True], plot=False)
        return stats.reward_metric_history, stats.per_agent_rewards, stats.collected_steps, stats.gradient_steps
    finally:
        trainer.close()


def test_subproc_backend_gives_the_same_statistics():
    assert _run("subproc") == _run("dummy")


def test_subproc_workers_with_unequal_shares_of_the_envs():
    # 3 envs on 2 workers: blocks of 2 and 1 games, padded to one width for each step
    assert _run("subproc", num_train_envs=3, num_test_envs=3) == _run("dummy", num_train_envs=3, num_test_envs=3)


def test_frozen_agent_keeps_acting_like_the_snapshot():
    trainer = DecentralizedTrainer(ROBOTS, seed=1, **SMALL)
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=2, buffer_size=4096)
    frozen = learner.frozen()
    obs = np.random.default_rng(0).random((32, 6)).astype(np.float32)
    mask = np.ones((32, 5), dtype=np.int8)
    no_explore = np.zeros(32, dtype=bool)
    before = frozen.act(obs, mask, no_explore)
    np.testing.assert_array_equal(before, learner.act(obs, mask, no_explore))
    trainer.train([learner, frozen], [True, False], plot=False)
    np.testing.assert_array_equal(frozen.act(obs, mask, no_explore), before)
    with pytest.raises(ValueError, match="fixed policy"):
        trainer.train([learner, frozen], [True, True], plot=False)


def test_astar_agent_plays_and_wins_against_random():
    trainer = DecentralizedTrainer({"robot_colors": ["r", "b"], "max_step": 300}, seed=0, **SMALL)
    result = trainer.test([AStarDeliveryAgent(2, seed=1), RandomAgent(seed=2)], eval_metrics=True)
    assert result.wins["r"] >= 6 and result.wins["b"] == 0
    assert result.mean_time_span > 0


def test_hooks_fire_in_order_and_stop_early(tmp_path):
    calls: list[tuple] = []
    trainer = DecentralizedTrainer(
        ROBOTS,
        seed=3,
        train_fn=lambda ep, st: calls.append(("train", ep)),
        test_fn=lambda ep, st: calls.append(("test", ep)),
        save_best_fn=lambda ep: calls.append(("best", ep)),
        save_last_fn=lambda: calls.append(("last",)),
        stop_fn=lambda metric, ep: ep >= 6,
        plot_dir=tmp_path,
        **{**SMALL, "episodes_per_train": 1000},
    )
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=4, buffer_size=4096)
    stats = trainer.train([learner, learner], [True, True])
    assert stats.stopped_early and stats.collected_episodes < 1000
    assert calls[0] == ("test", 0) and calls[1] == ("best", 0) and calls[-1] == ("last",)
    assert sum(c[0] == "test" for c in calls) == len(stats.reward_metric_history)
    assert stats.plot_path == str(tmp_path / "robot_delivery_training.png")


def test_save_last_fn_runs_when_training_is_interrupted():
    saved = []

    def interrupt(episodes, steps):
        if steps > 0:
            raise KeyboardInterrupt

    trainer = DecentralizedTrainer(ROBOTS, seed=3, train_fn=interrupt, save_last_fn=lambda: saved.append(1), **SMALL)
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=4, buffer_size=4096)
    with pytest.raises(KeyboardInterrupt):
        trainer.train([learner, learner], [True, True], plot=False)
    assert saved == [1]


def test_schedules_and_reward_threshold():
    trainer = DecentralizedTrainer(ROBOTS, seed=3, **SMALL)
    learner = dqn_agent(
        trainer.observation_space(0), trainer.action_space(0), seed=4, buffer_size=4096, prioritized=True
    )
    eps = EpsilonSchedule(learners=[learner], start=1.0, end=0.1, episodes=10)
    beta = BetaSchedule(learners=[learner], start=0.4, end=1.0, episodes=10)
    hook = chain(eps, beta, None)
    hook(5, 0)
    assert learner.epsilon == pytest.approx(0.55)
    assert EpsilonSchedule(learners=[learner], start=1.0, end=0.05, decay=0.5).value(3) == pytest.approx(0.125)
    assert RewardThreshold(2.0)(2.5, 10) and not RewardThreshold(2.0)(1.0, 10)
    with pytest.raises(TypeError, match="OffPolicyLearner"):
        EpsilonSchedule(learners=[RandomAgent()])  # type: ignore[list-item]


def test_checkpoint_round_trip_and_layout_check(tmp_path):
    trainer = DecentralizedTrainer({"game": "tictactoe"}, seed=0, **SMALL)
    obs_space, act_space = trainer.observation_space(0), trainer.action_space(0)
    dqn, ppo = dqn_agent(obs_space, act_space, seed=1), ppo_agent(obs_space, act_space, seed=2)
    path = save_agents(tmp_path / "agents.pt", [dqn, ppo], metadata={"note": "x"})
    dqn2, ppo2 = dqn_agent(obs_space, act_space, seed=3), ppo_agent(obs_space, act_space, seed=4)
    assert load_agents(path, [dqn2, ppo2]) == {"note": "x"}
    obs = np.random.default_rng(0).random((8, 3, 3, 2)).astype(np.float32)
    mask = np.ones((8, 9), dtype=np.int8)
    np.testing.assert_array_equal(dqn.greedy(obs, mask), dqn2.greedy(obs, mask))
    with pytest.raises(ValueError, match="distinct learners"):
        load_agents(path, [dqn2, dqn2])
    with pytest.raises(ValueError, match="checkpoint holds a"):
        load_agents(path, [ppo2, dqn2])
    one = save_agents(tmp_path / "one.pt", [dqn, RandomAgent()])
    with pytest.raises(ValueError, match="seat layout"):
        load_agents(one, [RandomAgent(), dqn2])
    with pytest.raises(ValueError, match="no learner"):
        save_agents(tmp_path / "none.pt", [RandomAgent(), RandomAgent()])
    assert not list(tmp_path.glob(".*.tmp"))


def test_matrix_game_preset_through_env_args():
    trainer = DecentralizedTrainer({"game": "matrix_game", "preset": "stag_hunt", "num_rounds": 4}, seed=0, **SMALL)
    result = trainer.test([RandomAgent(seed=1), RandomAgent(seed=2)])
    assert result.rewards.shape == (8, 2)
    assert result.mean_episode_length == 4.0


@pytest.mark.parametrize("dueling", [False, True])
def test_dqn_fast_greedy_matches_the_tianshou_policy(dueling):
    from tianshou.data import Batch

    trainer = DecentralizedTrainer(ROBOTS, seed=0, **SMALL)
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=3, dueling=dueling)
    rng = np.random.default_rng(0)
    obs = rng.random((300, 6), dtype=np.float32)
    mask = (rng.random((300, 5)) < 0.5).astype(np.int8)
    mask[:5] = 0  # rows without a legal action
    expected = learner.policy(Batch(obs=Batch(obs=obs, mask=mask), info={})).act
    np.testing.assert_array_equal(learner.greedy(obs, mask), np.asarray(expected))


def test_keep_best_keeps_the_snapshot_of_the_best_test_round():
    trainer = DecentralizedTrainer(ROBOTS, seed=5, **{**SMALL, "episodes_per_train": 24})
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=6, buffer_size=4096)
    probe = np.random.default_rng(1).random((64, 6)).astype(np.float32)
    mask, no_explore = np.ones((64, 5), dtype=np.int8), np.zeros(64, dtype=bool)
    answers: list[np.ndarray] = []
    scores = iter([0.5, 2.0, 1.0, 2.0, 0.0])  # the second round is the best; the tie later keeps it

    def score(agent):
        answers.append(agent.act(probe, mask, no_explore))
        return next(scores)

    keeper = KeepBest(learner, score)
    trainer.test_fn = keeper
    trainer.train([learner, learner], [True, True], plot=False)
    assert [s for _, s in keeper.history] == [0.5, 2.0, 1.0, 2.0, 0.0]
    assert keeper.best_score == 2.0 and keeper.best_episodes == keeper.history[1][0] > 0
    np.testing.assert_array_equal(keeper.best.act(probe, mask, no_explore), answers[1])
    assert not np.array_equal(answers[1], answers[-1])  # the learner moved on; the snapshot did not


def test_keep_best_checks_its_arguments_and_the_score():
    learner = dqn_agent(gym.spaces.Box(0, 1, (6,), np.float32), gym.spaces.Discrete(5), seed=0, buffer_size=4096)
    with pytest.raises(TypeError, match="learner must be an rbtrainer Learner"):
        KeepBest(RandomAgent(), lambda agent: 0.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="score must be callable"):
        KeepBest(learner, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="score returned nan"):
        KeepBest(learner, lambda agent: float("nan"))(0, 0)
    with pytest.raises(ValueError, match="score returned 'high'"):
        KeepBest(learner, lambda agent: "high")(0, 0)  # type: ignore[arg-type,return-value]
