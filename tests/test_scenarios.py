"""Game scenarios: trained agents must beat baselines by stated margins (marker ``learning``); and the
invariants of short real trainings (a frozen seat stays bit-identical, same seed same statistics),
which belong to the fast tier."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rbtrainer import DecentralizedTrainer, RandomAgent, dqn_agent, ppo_agent
from rbtrainer.callbacks import EpsilonSchedule
from rbtrainer.evaluation import RatingTracker


def seat0_return(rewards: np.ndarray) -> float:
    return float(np.mean(rewards[:, 0]))


def non_losing_rate(result, seat_name: str) -> float:
    losses = sum(1 for w in result.winners if w is not None and w != seat_name)
    return 1.0 - losses / result.num_episodes


@pytest.mark.learning
def test_tictactoe_dqn_beats_random(tmp_path):
    """DQN as player_1 against a random player_2: >= 90 % non-losing over 200 test games."""
    trainer = DecentralizedTrainer(
        {"game": "tictactoe"},
        num_train_envs=8,
        num_test_envs=8,
        episodes_per_train=3000,
        episodes_per_test=200,
        test_freq=1000,
        update_freq=64,
        update_per_step=0.25,
        reward_metric=seat0_return,
        seed=0,
        progress_bar=False,
        plot_dir=tmp_path,
    )
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=1, epsilon=0.5)
    trainer.train_fn = EpsilonSchedule(learners=[learner], start=0.5, end=0.05, episodes=2000)
    tracker = RatingTracker(trainer, learner, {"random": RandomAgent(seed=4)}, 50, name="dqn")
    trainer.test_fn = tracker
    stats = trainer.train([learner, RandomAgent(seed=2)], [True, False])
    assert stats.illegal_actions == 0
    result = trainer.test([learner, RandomAgent(seed=3)], eval_metrics=True)
    assert result.num_episodes == 200
    rate = non_losing_rate(result, "player_1")
    assert rate >= 0.90, f"non-losing rate {rate:.3f}"
    assert stats.plot_path is not None and (tmp_path / "tictactoe_training.png").exists()
    # measured with the evaluation tools: the learner's Elo against random, both seats, rises
    first, last = tracker.history[0], tracker.history[-1]
    assert last.rating - first.rating >= 150, [round(p.rating) for p in tracker.history]
    assert last.score_low > 0.5, last


@pytest.mark.learning
def test_tictactoe_ppo_with_masks(tmp_path):
    """Masked PPO never takes an illegal action and reaches >= 80 % non-losing against random."""
    trainer = DecentralizedTrainer(
        {"game": "tictactoe"},
        num_train_envs=8,
        num_test_envs=8,
        episodes_per_train=3000,
        episodes_per_test=200,
        test_freq=1000,
        update_freq=512,
        batch_size=128,
        reward_metric=seat0_return,
        seed=0,
        progress_bar=False,
        plot_dir=tmp_path,
    )
    learner = ppo_agent(trainer.observation_space(0), trainer.action_space(0), seed=1, lr=1e-3, hidden_sizes=(128, 128))
    stats = trainer.train([learner, RandomAgent(seed=2)], [True, False], plot=False)
    assert stats.illegal_actions == 0
    result = trainer.test([learner, RandomAgent(seed=3)], eval_metrics=True)
    assert result.illegal_actions == 0
    rate = non_losing_rate(result, "player_1")
    assert rate >= 0.80, f"non-losing rate {rate:.3f}"


@pytest.mark.learning
def test_connect_four_dqn_beats_random(tmp_path):
    """DQN as player_0 against a random player_1 wins >= 85 % of 200 test games."""
    trainer = DecentralizedTrainer(
        {"game": "connect_four"},
        num_train_envs=8,
        num_test_envs=8,
        episodes_per_train=4000,
        episodes_per_test=200,
        test_freq=1000,
        update_freq=64,
        update_per_step=0.25,
        reward_metric=seat0_return,
        seed=0,
        progress_bar=False,
        plot_dir=tmp_path,
    )
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=1, n_step=3, epsilon=0.5)
    trainer.train_fn = EpsilonSchedule(learners=[learner], start=0.5, end=0.05, episodes=3000)
    trainer.train([learner, RandomAgent(seed=2)], [True, False], plot=False)
    result = trainer.test([learner, RandomAgent(seed=3)], eval_metrics=True)
    win_rate = result.wins["player_0"] / result.num_episodes
    assert win_rate >= 0.85, f"win rate {win_rate:.3f}"


ROBOT_ARGS = {"robot_colors": ["r", "b"], "required_mail": 4, "max_step": 200}
ROBOT_MARGIN = 5.0


@pytest.mark.learning
def test_robot_delivery_self_play_beats_random(tmp_path):
    """Self-play DQN (one learner in both seats) beats random robots by >= 5 reward points."""
    trainer = DecentralizedTrainer(
        ROBOT_ARGS,
        num_train_envs=8,
        num_test_envs=8,
        episodes_per_train=200,
        episodes_per_test=32,
        test_freq=50,
        update_freq=100,
        update_per_step=0.25,
        seed=0,
        progress_bar=False,
        plot_dir=tmp_path,
    )
    learner = dqn_agent(
        trainer.observation_space(0), trainer.action_space(0), seed=1, n_step=3, lr=3e-3, dueling=True, epsilon=1.0
    )
    trainer.train_fn = EpsilonSchedule(learners=[learner], start=1.0, end=0.05, episodes=100)
    trainer.train([learner, learner], [True, True], plot=False)
    baseline = trainer.test([RandomAgent(seed=5), RandomAgent(seed=6)]).reward_metric
    trained = trainer.test([learner, learner]).reward_metric
    assert trained >= baseline + ROBOT_MARGIN, f"trained {trained:.2f} vs random {baseline:.2f}"


def test_robot_delivery_frozen_seat_stays_bit_identical(tmp_path):
    """With learning_mask [1, 0] the second learner never changes, while the first does."""
    trainer = DecentralizedTrainer(
        ROBOT_ARGS,
        num_train_envs=4,
        num_test_envs=4,
        episodes_per_train=8,
        episodes_per_test=4,
        test_freq=4,
        update_freq=64,
        seed=0,
        progress_bar=False,
    )
    learning = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=1, buffer_size=4096)
    frozen = dqn_agent(trainer.observation_space(1), trainer.action_space(1), seed=2, buffer_size=4096)
    before = {k: v.clone() for k, v in frozen.algorithm.state_dict().items() if isinstance(v, torch.Tensor)}
    learning_before = {k: v.clone() for k, v in learning.algorithm.state_dict().items() if isinstance(v, torch.Tensor)}
    stats = trainer.train([learning, frozen], [True, False], plot=False)
    assert stats.gradient_steps > 0
    after = {k: v for k, v in frozen.algorithm.state_dict().items() if isinstance(v, torch.Tensor)}
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert frozen.memory is None  # never given a memory: it has no learning seat
    changed = learning.algorithm.state_dict()
    assert any(not torch.equal(learning_before[k], changed[k]) for k in learning_before)


def _short_run(seed: int, tmp_path) -> tuple:
    trainer = DecentralizedTrainer(
        ROBOT_ARGS,
        num_train_envs=4,
        num_test_envs=4,
        episodes_per_train=12,
        episodes_per_test=8,
        test_freq=6,
        update_freq=64,
        seed=seed,
        progress_bar=False,
        plot_dir=tmp_path,
    )
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=seed, n_step=3, prioritized=True)
    stats = trainer.train([learner, learner], [True, True], plot=False)
    test = trainer.test([learner, learner])
    return (
        stats.reward_metric_history,
        stats.per_seat_rewards,
        stats.collected_steps,
        stats.collected_episodes,
        stats.gradient_steps,
        test.rewards.tolist(),
    )


def test_same_seed_same_statistics(tmp_path):
    first = _short_run(7, tmp_path)
    second = _short_run(7, tmp_path)
    assert first == second
    other = _short_run(8, tmp_path)
    assert other != first


@pytest.mark.learning
def test_trains_on_pettingzoo_tictactoe_through_env_fn(tmp_path):
    from pettingzoo.classic import tictactoe_v3

    trainer = DecentralizedTrainer(
        env_fn=tictactoe_v3.env,
        num_train_envs=4,
        num_test_envs=4,
        episodes_per_train=1500,
        episodes_per_test=100,
        test_freq=500,
        update_freq=64,
        update_per_step=0.25,
        reward_metric=seat0_return,
        seed=0,
        progress_bar=False,
        plot_dir=tmp_path,
    )
    assert trainer.seats == ("player_1", "player_2")
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=1, epsilon=0.5)
    trainer.train_fn = EpsilonSchedule(learners=[learner], start=0.5, end=0.05, episodes=1000)
    stats = trainer.train([learner, RandomAgent(seed=2)], [True, False])
    assert stats.illegal_actions == 0
    # PettingZoo's game reports no winner: the seat with the unique best return wins
    result = trainer.test([learner, RandomAgent(seed=3)], eval_metrics=True)
    assert result.wins["player_1"] > 3 * result.wins["player_2"]
    assert stats.reward_metric_history[-1] > stats.reward_metric_history[0] + 0.3
