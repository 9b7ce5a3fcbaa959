"""The convolutional Q-network over board observations (``DQNConfig.conv_channels``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rbtrainer import DecentralizedTrainer, DQNConfig, RandomAgent, dqn_agent
from rbtrainer.agents.networks import BoardQNet, board_qnet_parameters
from rbtrainer.checkpoint import learner_from_checkpoint, save_agents
from rbtrainer.cli import main


@pytest.fixture(scope="module")
def connect_four() -> DecentralizedTrainer:
    return DecentralizedTrainer(
        {"game": "connect_four"},
        num_train_envs=2,
        num_test_envs=2,
        episodes_per_train=8,
        episodes_per_test=2,
        test_freq=8,
        update_freq=16,
        batch_size=16,
        seed=3,
        progress_bar=False,
    )


@pytest.mark.parametrize("kernel, padding", [(3, 1), (4, 1), (2, 0)])
@pytest.mark.parametrize("dueling", [False, True])
@pytest.mark.parametrize("channels", [(), (4,), (4, 8)])
@pytest.mark.parametrize("hidden", [(), (16,), (16, 8)])
def test_parameter_count_is_known_before_building(channels, hidden, dueling, kernel, padding) -> None:
    net = BoardQNet((6, 7, 2), channels, hidden, 7, dueling=dueling, kernel=kernel, padding=padding)
    expected = board_qnet_parameters((6, 7, 2), channels, hidden, 7, dueling, kernel, padding)
    assert sum(p.numel() for p in net.parameters()) == expected
    q, _ = net(np.zeros((3, 84), dtype=np.float32))
    assert q.shape == (3, 7)


def _copying_net(plane: int, row: int, col: int, outputs: int, kernel: int = 3, padding: int = 1) -> BoardQNet:
    """One filter that copies cell ``(row, col)`` of ``plane`` in its window, and an identity read-out."""
    net = BoardQNet((6, 7, 2), (1,), (), outputs, kernel=kernel, padding=padding)
    conv, readout = net.conv[0], net.trunk[1]
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[0, plane, row, col] = 1.0
        readout.weight.copy_(torch.eye(outputs))
        readout.bias.zero_()
    return net


def test_the_flat_row_is_read_back_as_the_board() -> None:
    """A 3x3 filter that copies plane 1's centre: the Q-values are plane 1 of the board in (row,
    column) order, so the flat (height, width, planes) row the learners store is restored to the
    right cells."""
    net = _copying_net(plane=1, row=1, col=1, outputs=42)
    boards = np.random.default_rng(0).integers(0, 2, (5, 6, 7, 2)).astype(np.float32)
    q, state = net(boards.reshape(5, -1), state="kept")
    assert state == "kept"
    np.testing.assert_array_equal(q.detach().numpy(), boards[..., 1].reshape(5, 42))


def test_unpadded_4x4_windows_cover_the_board_in_order() -> None:
    """``kernel=4, padding=0`` on a 6x7 board: 3x4 windows; a filter that copies the top-left cell
    of its window (plane 0) gives the cells ``board[:3, :4]``."""
    net = _copying_net(plane=0, row=0, col=0, outputs=12, kernel=4, padding=0)
    boards = np.random.default_rng(1).integers(0, 2, (4, 6, 7, 2)).astype(np.float32)
    q, _ = net(boards.reshape(4, -1))
    np.testing.assert_array_equal(q.detach().numpy(), boards[:, :3, :4, 0].reshape(4, 12))


@pytest.mark.parametrize("dueling", [False, True])
def test_a_convolutional_learner_trains_and_plays_legal_moves(connect_four, dueling) -> None:
    spaces = connect_four.observation_space(0), connect_four.action_space(0)
    learner = dqn_agent(*spaces, conv_channels=(4, 4), hidden_sizes=(16,), dueling=dueling, buffer_size=2000, seed=1)
    assert isinstance(learner.policy.model, BoardQNet)
    before = [p.detach().clone() for p in learner.policy.model.parameters()]
    stats = connect_four.train([learner, RandomAgent(seed=2)], [True, False], plot=False)
    assert stats.gradient_steps > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, learner.policy.model.parameters(), strict=True))
    obs = np.zeros((3, 6, 7, 2), dtype=np.float32)
    mask = np.zeros((3, 7), dtype=np.int8)
    mask[:, [2, 5]] = 1
    assert set(learner.greedy(obs, mask).tolist()) <= {2, 5}


def test_same_seed_same_network(connect_four) -> None:
    spaces = connect_four.observation_space(0), connect_four.action_space(0)
    a, b = (dqn_agent(*spaces, conv_channels=(4,), seed=7) for _ in range(2))
    for x, y in zip(a.policy.model.parameters(), b.policy.model.parameters(), strict=True):
        assert torch.equal(x, y)


@pytest.mark.parametrize("window", [{}, {"conv_kernel": 4, "conv_padding": 0}])
def test_checkpoint_rebuilds_the_convolutional_network(connect_four, tmp_path, window) -> None:
    spaces = connect_four.observation_space(0), connect_four.action_space(0)
    fields = {"conv_channels": (4,), "hidden_sizes": (16,), **window}
    learner = dqn_agent(*spaces, config=DQNConfig(**fields), seed=5)
    path = tmp_path / "c4.pt"
    save_agents(path, [learner, learner], {"dqn": fields})
    again = learner_from_checkpoint(path, *spaces)
    assert isinstance(again.policy.model, BoardQNet)
    assert again.policy.model.conv[0].kernel_size == learner.policy.model.conv[0].kernel_size
    obs = np.random.default_rng(1).integers(0, 2, (6, 6, 7, 2)).astype(np.float32)
    mask = np.ones((6, 7), dtype=np.int8)
    assert np.array_equal(again.greedy(obs, mask), learner.greedy(obs, mask))


def test_bad_conv_channels(connect_four) -> None:
    with pytest.raises(ValueError, match=r"conv_channels\[1\] must be a positive int"):
        DQNConfig(conv_channels=(8, 0))
    with pytest.raises(TypeError, match="conv_channels must be a sequence of layer widths"):
        DQNConfig(conv_channels="16")  # type: ignore[arg-type]
    robots = DecentralizedTrainer({}, num_train_envs=1, num_test_envs=1)
    with pytest.raises(ValueError, match=r"conv_channels needs a board observation .* set conv_channels=\(\)"):
        dqn_agent(robots.observation_space(0), robots.action_space(0), conv_channels=(8,))
    spaces = connect_four.observation_space(0), connect_four.action_space(0)
    with pytest.raises(ValueError, match="conv_channels / hidden_sizes is too large"):
        dqn_agent(*spaces, conv_channels=(4,), hidden_sizes=(10**6, 10**6))


def test_bad_conv_kernel_or_padding(connect_four) -> None:
    with pytest.raises(ValueError, match="conv_kernel must be a positive int"):
        DQNConfig(conv_kernel=0)
    with pytest.raises(ValueError, match="conv_padding must be >= 0"):
        DQNConfig(conv_padding=-1)
    spaces = connect_four.observation_space(0), connect_four.action_space(0)
    with pytest.raises(ValueError, match=r"conv_kernel=4 with conv_padding=0 leaves no cell of a 6x7 board after 3"):
        dqn_agent(*spaces, conv_channels=(4, 4, 4), conv_kernel=4, conv_padding=0)
    with pytest.raises(ValueError, match="conv_kernel=7 with conv_padding=0 leaves no cell of a 6x7 board after 1"):
        dqn_agent(*spaces, conv_channels=(4,), conv_kernel=7, conv_padding=0)


def test_command_line_trains_and_evaluates_a_convolutional_learner(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    checkpoint = tmp_path / "ttt.pt"
    argv = [
        "train", "--env", "game=tictactoe", "--num-train-envs", "3", "--num-test-envs", "3",
        "--episodes-per-train", "8", "--episodes-per-test", "3", "--test-freq", "8", "--update-freq", "16",
        "--no-progress-bar", "--conv-channels", "4", "--conv-kernel", "2", "--conv-padding", "0", "--hidden-sizes", "8",
        "--buffer-size", "1000",
        "--plot-dir", str(tmp_path), "--checkpoint", str(checkpoint),
    ]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["eval", "--env", "game=tictactoe", "--agents", str(checkpoint), "random", "--games", "2"]) == 0
    assert "ttt.pt" in capsys.readouterr().out
