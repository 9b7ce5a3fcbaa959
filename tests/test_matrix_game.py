"""Tests of the iterated matrix games (``games.matrix_game``)."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pettingzoo.test import parallel_api_test, parallel_seed_test

from games import matrix_game
from games.matrix_game import PAYOFFS, MatrixGameEnv

AGENTS = ["player_0", "player_1"]
BUILT_IN = sorted(PAYOFFS)


def play(env: MatrixGameEnv, a0: int, a1: int):
    return env.step({"player_0": a0, "player_1": a1})


# --------------------------------------------------------------------------------------------
# PettingZoo API checks
# --------------------------------------------------------------------------------------------


def test_built_in_games() -> None:
    assert BUILT_IN == ["matching_pennies", "prisoners_dilemma", "rock_paper_scissors", "stag_hunt"]


@pytest.mark.parametrize("game", BUILT_IN)
def test_parallel_api_test(game: str) -> None:
    env = matrix_game.env(preset=game, num_rounds=5)
    assert isinstance(env, ParallelEnv)
    parallel_api_test(env, num_cycles=50)


@pytest.mark.parametrize("game", BUILT_IN)
def test_parallel_seed_test(game: str) -> None:
    parallel_seed_test(lambda: matrix_game.env(preset=game, num_rounds=5), num_cycles=50)


@pytest.mark.parametrize("game", BUILT_IN)
def test_spaces(game: str) -> None:
    env = matrix_game.parallel_env(preset=game)
    n = len(PAYOFFS[game])
    for agent in AGENTS:
        assert env.action_space(agent) == spaces.Discrete(n)
        space = env.observation_space(agent)
        assert isinstance(space, spaces.Box)
        assert space.shape == (2 * n + 1,) and space.dtype == np.float32
    observations, infos = env.reset(seed=0)
    assert set(observations) == set(infos) == set(AGENTS)
    for agent, obs in observations.items():
        assert env.observation_space(agent).contains(obs)


# --------------------------------------------------------------------------------------------
# Payoffs
# --------------------------------------------------------------------------------------------

C, D = 0, 1  # cooperate, defect
ROCK, PAPER, SCISSORS = 0, 1, 2
HEADS, TAILS = 0, 1
STAG, HARE = 0, 1


@pytest.mark.parametrize(
    ("game", "a0", "a1", "expected"),
    [
        ("prisoners_dilemma", C, C, (3, 3)),
        ("prisoners_dilemma", C, D, (0, 5)),
        ("prisoners_dilemma", D, C, (5, 0)),
        ("prisoners_dilemma", D, D, (1, 1)),
        ("rock_paper_scissors", ROCK, ROCK, (0, 0)),
        ("rock_paper_scissors", ROCK, SCISSORS, (1, -1)),
        ("rock_paper_scissors", ROCK, PAPER, (-1, 1)),
        ("rock_paper_scissors", PAPER, ROCK, (1, -1)),
        ("rock_paper_scissors", SCISSORS, PAPER, (1, -1)),
        ("rock_paper_scissors", SCISSORS, ROCK, (-1, 1)),
        ("matching_pennies", HEADS, HEADS, (1, -1)),
        ("matching_pennies", TAILS, TAILS, (1, -1)),
        ("matching_pennies", HEADS, TAILS, (-1, 1)),
        ("stag_hunt", STAG, STAG, (4, 4)),
        ("stag_hunt", STAG, HARE, (0, 3)),
        ("stag_hunt", HARE, STAG, (3, 0)),
        ("stag_hunt", HARE, HARE, (2, 2)),
    ],
)
def test_payoffs(game: str, a0: int, a1: int, expected: tuple[float, float]) -> None:
    env = MatrixGameEnv(preset=game)
    env.reset()
    _, rewards, *_ = play(env, a0, a1)
    assert rewards == {"player_0": expected[0], "player_1": expected[1]}
    assert all(isinstance(r, float) for r in rewards.values())


@pytest.mark.parametrize("game", ["rock_paper_scissors", "matching_pennies"])
def test_zero_sum_games_are_zero_sum(game: str) -> None:
    n = len(PAYOFFS[game])
    env = MatrixGameEnv(preset=game, num_rounds=n * n)
    env.reset()
    for a0 in range(n):
        for a1 in range(n):
            _, rewards, *_ = play(env, a0, a1)
            assert rewards["player_0"] + rewards["player_1"] == 0


def test_custom_payoffs() -> None:
    payoffs = [[(1, 2), (3, 4), (5, 6)], [(7, 8), (9, 10), (11.5, -12)]]
    env = MatrixGameEnv(payoffs=payoffs, num_rounds=6)
    assert env.action_space("player_0") == spaces.Discrete(2)
    assert env.action_space("player_1") == spaces.Discrete(3)
    env.reset()
    for a0 in range(2):
        for a1 in range(3):
            _, rewards, *_ = play(env, a0, a1)
            assert rewards == {"player_0": payoffs[a0][a1][0], "player_1": payoffs[a0][a1][1]}


def test_custom_payoffs_override_game_name() -> None:
    env = MatrixGameEnv(preset="prisoners_dilemma", payoffs=[[(9, 9), (0, 0)], [(0, 0), (1, 1)]])
    env.reset()
    _, rewards, *_ = play(env, 0, 0)
    assert rewards == {"player_0": 9.0, "player_1": 9.0}


def test_custom_payoffs_are_copied() -> None:
    payoffs = [[[1, 1], [0, 0]], [[0, 0], [1, 1]]]
    env = MatrixGameEnv(payoffs=payoffs)
    payoffs[0][0][0] = 100
    env.reset()
    _, rewards, *_ = play(env, 0, 0)
    assert rewards["player_0"] == 1.0


# --------------------------------------------------------------------------------------------
# Rounds and termination
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_rounds", [1, 3, 10])
def test_game_lasts_num_rounds(num_rounds: int) -> None:
    env = MatrixGameEnv(num_rounds=num_rounds)
    env.reset()
    total = dict.fromkeys(AGENTS, 0.0)
    for round_ in range(1, num_rounds + 1):
        assert env.agents == AGENTS
        _, rewards, terminations, truncations, infos = play(env, D, D)
        last = round_ == num_rounds
        assert terminations == dict.fromkeys(AGENTS, last)
        assert truncations == dict.fromkeys(AGENTS, False)
        assert infos == {a: {} for a in AGENTS}
        for agent, r in rewards.items():
            total[agent] += r
    assert env.agents == []
    assert total == dict.fromkeys(AGENTS, float(num_rounds))  # (D, D) pays 1 each round


def test_default_num_rounds_is_ten() -> None:
    env = MatrixGameEnv()
    env.reset()
    rounds = 0
    while env.agents:
        play(env, C, C)
        rounds += 1
    assert rounds == 10


def test_reset_after_the_end_starts_again() -> None:
    env = MatrixGameEnv(num_rounds=2)
    env.reset()
    play(env, C, D)
    play(env, D, C)
    assert env.agents == []
    observations, _ = env.reset()
    assert env.agents == AGENTS
    for obs in observations.values():
        np.testing.assert_array_equal(obs, [0, 0, 0, 0, 1])
    _, _, terminations, _, _ = play(env, C, C)
    assert not any(terminations.values())


# --------------------------------------------------------------------------------------------
# Observations
# --------------------------------------------------------------------------------------------


def test_observation_layout_prisoners_dilemma() -> None:
    env = MatrixGameEnv(num_rounds=3)
    observations, _ = env.reset()
    # own last action (2), opponent's last action (2), first-round flag
    for obs in observations.values():
        assert obs.dtype == np.float32
        np.testing.assert_array_equal(obs, [0, 0, 0, 0, 1])
    observations, *_ = play(env, C, D)
    np.testing.assert_array_equal(observations["player_0"], [1, 0, 0, 1, 0])
    np.testing.assert_array_equal(observations["player_1"], [0, 1, 1, 0, 0])
    observations, *_ = play(env, D, D)
    np.testing.assert_array_equal(observations["player_0"], [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(observations["player_1"], [0, 1, 0, 1, 0])


def test_observation_layout_with_unequal_action_counts() -> None:
    payoffs = [[(0, 0)] * 3, [(0, 0)] * 3]  # player_0 has 2 actions, player_1 has 3
    env = MatrixGameEnv(payoffs=payoffs)
    assert env.observation_space("player_0").shape == (6,)
    assert env.observation_space("player_1").shape == (6,)
    observations, _ = env.reset()
    np.testing.assert_array_equal(observations["player_0"], [0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(observations["player_1"], [0, 0, 0, 0, 0, 1])
    observations, *_ = play(env, 1, 2)
    # player_0: own one-hot over 2 actions, then player_1's over 3; player_1 the other way round.
    np.testing.assert_array_equal(observations["player_0"], [0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(observations["player_1"], [0, 0, 1, 0, 1, 0])
    for agent, obs in observations.items():
        assert env.observation_space(agent).contains(obs)


def test_numpy_integer_actions_are_accepted() -> None:
    env = MatrixGameEnv()
    env.reset()
    _, rewards, *_ = env.step({"player_0": np.int64(C), "player_1": np.int32(D)})
    assert rewards == {"player_0": 0.0, "player_1": 5.0}


def test_ansi_render() -> None:
    env = MatrixGameEnv(num_rounds=4, render_mode="ansi")
    env.reset()
    assert env.render() == "round 0/4, last actions None"
    play(env, C, D)
    text = env.render()
    assert isinstance(text, str)
    assert text == "round 1/4, last actions (0, 1)"
    assert MatrixGameEnv().render() is None


# --------------------------------------------------------------------------------------------
# Bad arguments
# --------------------------------------------------------------------------------------------


def test_unknown_game_name() -> None:
    with pytest.raises(ValueError, match="unknown matrix game preset 'chicken'") as info:
        MatrixGameEnv(preset="chicken")
    for name in BUILT_IN:
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("payoffs", "match"),
    [
        pytest.param([[(1, 1), (0, 0)], [(1, 1)]], "rectangular", id="ragged"),
        pytest.param([[(1, 1), (0, 0)]], "at least 2 actions", id="one_row"),
        pytest.param([[(1, 1)], [(0, 0)]], "at least 2 actions", id="one_column"),
        pytest.param([], "at least 2 actions", id="empty"),
        pytest.param([[(1, 1), (0, 0)], [(1, 1), (0,)]], r"must be a pair", id="short_cell"),
        pytest.param([[(1, 1), (0, 0, 0)], [(1, 1), (0, 0)]], r"must be a pair", id="long_cell"),
    ],
)
def test_bad_payoffs(payoffs: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MatrixGameEnv(payoffs=payoffs)


@pytest.mark.parametrize("num_rounds", [0, -1, 2.5, True, "3", None])
def test_bad_num_rounds(num_rounds: object) -> None:
    with pytest.raises(ValueError, match=r"num_rounds must be an int >= 1") as info:
        MatrixGameEnv(num_rounds=num_rounds)
    assert str(info.value).endswith(f"got {num_rounds!r}")


def test_bad_render_mode() -> None:
    with pytest.raises(ValueError, match=r"render_mode must be None or one of \['ansi'\], got 'human'"):
        MatrixGameEnv(render_mode="human")


@pytest.mark.parametrize(
    ("actions", "missing"),
    [
        ({"player_0": 0}, "['player_1']"),
        ({"player_1": 0}, "['player_0']"),
        ({}, "['player_0', 'player_1']"),
    ],
)
def test_missing_action(actions: dict[str, int], missing: str) -> None:
    """A missing action is refused before anything changes."""
    env = MatrixGameEnv(num_rounds=2)
    env.reset()
    with pytest.raises(ValueError, match="exactly one action per live agent") as info:
        env.step(actions)
    assert f"missing {missing}" in str(info.value)
    # The failed step did not count as a round.
    assert env.game.round == 0
    assert env.agents == AGENTS


@pytest.mark.parametrize(("a0", "a1", "match"), [(2, 0, r"player_0: .*0\.\.1, got 2"), (0, -1, r"player_1: .*got -1")])
def test_out_of_range_action(a0: int, a1: int, match: str) -> None:
    env = MatrixGameEnv()
    env.reset()
    with pytest.raises(ValueError, match=match):
        play(env, a0, a1)
    assert env.game.round == 0


@pytest.mark.parametrize("bad", [0.0, "1", None])
def test_non_integer_action(bad: object) -> None:
    env = MatrixGameEnv()
    env.reset()
    with pytest.raises(TypeError, match="actions must be integers"):
        env.step({"player_0": 0, "player_1": bad})
    assert env.game.round == 0


def test_step_after_the_end() -> None:
    env = MatrixGameEnv(num_rounds=1)
    env.reset()
    play(env, C, C)
    with pytest.raises(ValueError, match=r"the game is over or was never started\); call reset\(\)"):
        play(env, C, C)


def test_step_before_reset() -> None:
    env = MatrixGameEnv()
    with pytest.raises(ValueError, match=r"call reset\(\)"):
        play(env, C, C)


def test_unknown_agent_in_actions_is_refused() -> None:
    env = MatrixGameEnv(num_rounds=2)
    env.reset()
    with pytest.raises(ValueError, match=r"unknown \['player_9'\]"):
        env.step({"player_0": 0, "player_1": 1, "player_9": 0})
    assert env.game.round == 0
