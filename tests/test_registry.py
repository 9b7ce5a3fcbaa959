"""Tests of the game registry (``games.names`` / ``games.make``)."""

from __future__ import annotations

import pytest
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

import games
from games.connect_four import ConnectFourEnv
from games.matrix_game import MatrixGameEnv
from games.robot_delivery.env import RobotDeliveryEnv
from games.tictactoe import TicTacToeEnv

CLASSES = {
    "robot_delivery": RobotDeliveryEnv,
    "tictactoe": TicTacToeEnv,
    "connect_four": ConnectFourEnv,
    "matrix_game": MatrixGameEnv,
}
AEC_GAMES = ["connect_four", "robot_delivery", "tictactoe"]


def test_names() -> None:
    assert games.names() == ["connect_four", "matrix_game", "robot_delivery", "tictactoe"]


@pytest.mark.parametrize("name", AEC_GAMES)
def test_make_aec_game_is_wrapped_by_default(name: str) -> None:
    env = games.make(name)
    assert isinstance(env, OrderEnforcingWrapper)
    assert type(env.unwrapped) is CLASSES[name]
    assert games.spec(name).api == "aec"
    env.reset(seed=0)
    assert env.agents == env.possible_agents
    assert len(env.agents) >= 2


@pytest.mark.parametrize("name", AEC_GAMES)
def test_make_raw_gives_the_class_instance(name: str) -> None:
    env = games.make(name, raw=True)
    assert type(env) is CLASSES[name]
    assert isinstance(env, AECEnv)


@pytest.mark.parametrize("raw", [False, True])
def test_make_matrix_game_is_a_parallel_env(raw: bool) -> None:
    env = games.make("matrix_game", raw=raw)
    assert type(env) is MatrixGameEnv
    assert isinstance(env, ParallelEnv)
    assert games.spec("matrix_game").api == "parallel"
    observations, _ = env.reset(seed=0)
    assert set(observations) == {"player_0", "player_1"}


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_spec_points_at_the_class(name: str) -> None:
    entry = games.spec(name)
    assert entry.cls == CLASSES[name].__name__
    assert entry.module == CLASSES[name].__module__
    assert entry.summary


def test_make_passes_keyword_arguments() -> None:
    env = games.make("matrix_game", preset="stag_hunt", num_rounds=3)
    assert env.game.num_rounds == 3
    env.reset()
    _, rewards, *_ = env.step({"player_0": 0, "player_1": 0})
    assert rewards == {"player_0": 4.0, "player_1": 4.0}  # stag/stag, not the prisoner's dilemma default

    ttt = games.make("tictactoe", render_mode="ansi")
    ttt.reset()
    assert ttt.render() == "...\n...\n..."
    assert games.make("connect_four", raw=True, render_mode="ansi").render_mode == "ansi"


def test_make_passes_keyword_arguments_to_robot_delivery() -> None:
    env = games.make("robot_delivery", raw=True, robot_colors=["r", "b", "g"])
    env.reset(seed=0)
    assert len(env.possible_agents) == 3


@pytest.mark.parametrize("name", ["chess", "TicTacToe", "tictactoe_v3", ""])
def test_unknown_name(name: str) -> None:
    with pytest.raises(ValueError, match=f"unknown game {name!r}") as info:
        games.make(name)
    message = str(info.value)
    for registered in games.names():
        assert registered in message


@pytest.mark.parametrize(
    ("name", "kwargs", "unknown"),
    [
        ("tictactoe", {"size": 4}, "'size'"),
        ("connect_four", {"rows": 7, "cols": 8}, "['cols', 'rows']"),
        ("matrix_game", {"rounds": 5}, "'rounds'"),
        ("robot_delivery", {"num_players": 2}, "'num_players'"),
        ("tictactoe", {"self": None}, "'self'"),
    ],
)
def test_unknown_keyword_argument(name: str, kwargs: dict, unknown: str) -> None:
    for raw in (False, True):
        with pytest.raises(ValueError, match="unknown argument") as info:
            games.make(name, raw=raw, **kwargs)
        message = str(info.value)
        assert unknown in message
        assert repr(name) in message
        accepted = [p for p in games.parameters(name) if p != "self"]
        assert f"it accepts {accepted}" in message
        assert "render_mode" in message


def test_unknown_keyword_argument_lists_matrix_game_arguments() -> None:
    with pytest.raises(ValueError) as info:
        games.make("matrix_game", rounds=5)
    assert "['preset', 'num_rounds', 'payoffs', 'render_mode']" in str(info.value)


@pytest.mark.parametrize("name", [None, 3, TicTacToeEnv, ["tictactoe"]])
def test_non_string_name(name: object) -> None:
    with pytest.raises(TypeError, match="game name must be a string") as info:
        games.make(name)
    assert "tictactoe" in str(info.value)


def test_bad_argument_value_is_reported_by_the_game() -> None:
    with pytest.raises(ValueError, match="num_rounds"):
        games.make("matrix_game", num_rounds=0)
