"""``DQNConfig.mirror``: every transition stored a second time, mirrored left to right."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rbtrainer import DecentralizedTrainer, RandomAgent, dqn_agent
from rbtrainer.agents.learners import OffPolicyLearner
from rbtrainer.agents.mirror import ColumnMirror
from rbtrainer.checkpoint import learner_from_checkpoint
from rbtrainer.cli import main


@pytest.fixture(scope="module")
def connect_four() -> DecentralizedTrainer:
    return DecentralizedTrainer(
        {"game": "connect_four"},
        num_train_envs=2,
        num_test_envs=2,
        episodes_per_train=6,
        episodes_per_test=2,
        test_freq=6,
        update_freq=16,
        batch_size=16,
        seed=5,
        progress_bar=False,
    )


def test_the_mirror_of_a_board_reads_its_columns_right_to_left() -> None:
    mirror = ColumnMirror(gym.spaces.Box(0, 1, (6, 7, 2), dtype=np.int8), 7)
    board = np.zeros((1, 6, 7, 2), dtype=np.int8)
    board[0, 5, 0, 0] = 1  # bottom row, leftmost column, first player's plane
    board[0, 4, 2, 1] = 1
    flipped = mirror.observations(board)
    assert flipped.shape == board.shape
    assert flipped[0, 5, 6, 0] == 1 and flipped[0, 4, 4, 1] == 1 and flipped.sum() == 2
    flat = mirror.observations(board.reshape(1, -1))  # memories hold flat rows: the same cells
    assert np.array_equal(flat, flipped.reshape(1, -1))
    np.testing.assert_array_equal(mirror.masks(np.array([[1, 1, 0, 0, 0, 0, 0]])), [[0, 0, 0, 0, 0, 1, 1]])
    np.testing.assert_array_equal(mirror.actions(np.array([0, 3, 6])), [6, 3, 0])
    assert np.array_equal(mirror.observations(flipped), board)  # twice: the board itself


def test_the_learner_stores_each_transition_and_its_mirror_in_streams_of_their_own(connect_four) -> None:
    spaces = connect_four.observation_space(0), connect_four.action_space(0)
    learner = dqn_agent(*spaces, hidden_sizes=(16,), buffer_size=4000, n_step=2, mirror=True, seed=1)
    plain = dqn_agent(*spaces, hidden_sizes=(16,), buffer_size=4000, n_step=2, seed=1)
    connect_four.train([learner, RandomAgent(seed=2)], [True, False], plot=False)
    connect_four.train([plain, RandomAgent(seed=2)], [True, False], plot=False)
    memory = learner.memory
    assert memory is not None and plain.memory is not None
    streams = len(plain.memory.buffers)
    assert len(memory.buffers) == 2 * streams
    mirror = ColumnMirror(spaces[0], 7)
    for stream in range(streams):
        played, mirrored = memory.buffers[stream], memory.buffers[stream + streams]
        n = len(played)
        assert n > 0 and len(mirrored) == n
        np.testing.assert_array_equal(mirrored.obs.obs[:n], mirror.observations(played.obs.obs[:n]))
        np.testing.assert_array_equal(mirrored.obs_next.mask[:n], mirror.masks(played.obs_next.mask[:n]))
        np.testing.assert_array_equal(mirrored.act[:n], mirror.actions(played.act[:n]))
        np.testing.assert_array_equal(mirrored.rew[:n], played.rew[:n])
        np.testing.assert_array_equal(mirrored.done[:n], played.done[:n])
    assert len(memory) == 2 * sum(len(memory.buffers[stream]) for stream in range(streams))


def test_same_seed_same_statistics_with_mirror(connect_four) -> None:
    spaces = connect_four.observation_space(0), connect_four.action_space(0)
    runs = []
    for _ in range(2):
        learner = dqn_agent(*spaces, hidden_sizes=(16,), buffer_size=4000, mirror=True, seed=4)
        stats = connect_four.train([learner, RandomAgent(seed=2)], [True, False], plot=False)
        runs.append((stats.reward_metric_history, stats.collected_steps, stats.gradient_steps, learner.last_losses))
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    "env_args",
    [{"game": "tictactoe"}, {"game": "robot_delivery"}],
)
def test_mirror_is_refused_where_actions_are_not_columns(env_args) -> None:
    trainer = DecentralizedTrainer(env_args, num_train_envs=1, num_test_envs=1, progress_bar=False)
    with pytest.raises(ValueError, match="mirror=True needs a board observation"):
        dqn_agent(trainer.observation_space(0), trainer.action_space(0), mirror=True)


def test_mirror_must_be_a_bool() -> None:
    space = gym.spaces.Box(0, 1, (6, 7, 2), dtype=np.int8)
    with pytest.raises(TypeError, match="mirror must be True or False"):
        dqn_agent(space, gym.spaces.Discrete(7), mirror="yes")


def test_the_cli_trains_with_mirror_and_the_checkpoint_keeps_it(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    checkpoint = tmp_path / "c4.pt"
    argv = [
        "train", "--env", "game=connect_four", "--num-train-envs", "3", "--num-test-envs", "3",
        "--episodes-per-train", "8", "--episodes-per-test", "3", "--test-freq", "8", "--update-freq", "16",
        "--no-progress-bar", "--hidden-sizes", "8", "--buffer-size", "1000", "--mirror",
        "--plot-dir", str(tmp_path), "--checkpoint", str(checkpoint),
    ]  # fmt: skip
    assert main(argv) == 0
    board = gym.spaces.Box(0, 1, (6, 7, 2), dtype=np.int8)
    learner = learner_from_checkpoint(checkpoint, board, gym.spaces.Discrete(7))
    assert isinstance(learner, OffPolicyLearner) and learner.mirror is not None
    capsys.readouterr()
    assert main(["eval", "--env", "game=connect_four", "--agents", str(checkpoint), "random", "--games", "2"]) == 0
    assert "c4.pt" in capsys.readouterr().out


def test_pettingzoos_connect_four_spaces_are_accepted() -> None:
    connect_four_v3 = pytest.importorskip("pettingzoo.classic.connect_four_v3")
    env = connect_four_v3.env()
    agent = env.possible_agents[0]
    learner = dqn_agent(env.observation_space(agent), env.action_space(agent), hidden_sizes=(8,), mirror=True)
    assert learner.mirror is not None and learner.mirror.shape == (6, 7, 2)


def test_a_training_state_restores_both_halves_of_the_memory(connect_four) -> None:
    spaces = connect_four.observation_space(0), connect_four.action_space(0)
    learner = dqn_agent(*spaces, hidden_sizes=(16,), buffer_size=4000, mirror=True, seed=6)
    connect_four.train([learner, RandomAgent(seed=2)], [True, False], plot=False)
    assert learner.memory is not None
    state = learner.training_state()
    resumed = dqn_agent(*spaces, hidden_sizes=(16,), buffer_size=4000, mirror=True, seed=7)
    resumed.attach_memory(learner._num_streams, 16, 16)
    resumed.load_training_state(state)
    assert resumed.memory is not None and len(resumed.memory) == len(learner.memory)
    np.testing.assert_array_equal(resumed.memory.obs.obs, learner.memory.obs.obs)
    np.testing.assert_array_equal(resumed.memory.act, learner.memory.act)
