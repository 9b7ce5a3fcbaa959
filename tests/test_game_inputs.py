"""Games refuse what they cannot mean: seeds, bool actions, unknown agents; the trainer's observation split.

Every check asserts the exact error type and that the message names the argument, the agent or
the game, as :mod:`games.inputs` promises.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv

import games
from games.matrix_game import MatrixGameEnv
from games.robot_delivery import RobotDeliveryEnv, RobotDeliveryRules
from games.tictactoe import TicTacToeEnv
from rbtrainer.envs.adapters import seat_game

GAME_NAMES = games.names()
GAME_TITLES = {
    "connect_four": "connect_four_v0",
    "matrix_game": "matrix_game_v0",
    "robot_delivery": "robot_delivery_v0",
    "tictactoe": "tictactoe_v0",
}


def make(name: str, raw: bool) -> Any:
    return games.make(name, raw=raw)


def reset(env: Any, seed: object) -> None:
    env.reset(seed=seed)


# --------------------------------------------------------------------------------------------
# 1. reset(seed=...) takes None or a non-negative int
# --------------------------------------------------------------------------------------------


def test_every_registered_game_is_covered() -> None:
    assert sorted(GAME_TITLES) == GAME_NAMES


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "wrapped"])
@pytest.mark.parametrize("name", GAME_NAMES)
@pytest.mark.parametrize("seed", [None, 0, 1, 2**64 + 3, np.int64(7), np.uint32(5), np.int8(0)])
def test_reset_accepts_none_and_non_negative_ints(name: str, raw: bool, seed: object) -> None:
    env = make(name, raw)
    reset(env, seed)
    assert env.agents == env.possible_agents


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "wrapped"])
@pytest.mark.parametrize("name", GAME_NAMES)
@pytest.mark.parametrize("seed", [-1, -(2**70), np.int64(-3)], ids=["-1", "-2**70", "np-3"])
def test_negative_seed_is_a_value_error(name: str, raw: bool, seed: object) -> None:
    env = make(name, raw)
    with pytest.raises(ValueError, match=r"seed") as info:
        reset(env, seed)
    assert GAME_TITLES[name] in str(info.value)
    assert f"seed={int(seed)}" in str(info.value)  # type: ignore[call-overload]


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "wrapped"])
@pytest.mark.parametrize("name", GAME_NAMES)
@pytest.mark.parametrize(
    "seed",
    [1.5, 1.0, float("nan"), True, False, np.bool_(True), np.float64(2.0), "1", b"1", (1,), [1]],
    ids=repr,
)
def test_non_int_seed_is_a_type_error(name: str, raw: bool, seed: object) -> None:
    env = make(name, raw)
    with pytest.raises(TypeError, match=r"seed") as info:
        reset(env, seed)
    message = str(info.value)
    assert GAME_TITLES[name] in message
    assert repr(seed) in message


def test_robot_seed_means_one_game_per_value() -> None:
    """-1 used to give the game of 1; a NumPy integer seed gives the game of the same int."""

    def start(seed: object) -> list[int]:
        env = RobotDeliveryEnv(robot_colors=["r", "b", "gr"], num_robots_per_player=2)
        env.reset(seed=seed)  # type: ignore[arg-type]
        return list(env.game.position) + sorted(env.game.green_mail.values())

    assert start(np.int64(11)) == start(11) == start(np.uint16(11))
    with pytest.raises(ValueError, match="seed"):
        start(-11)


@pytest.mark.parametrize(("seed", "error"), [(-1, ValueError), (2.0, TypeError), (True, TypeError)])
def test_robot_rules_seed_is_checked_too(seed: object, error: type[Exception]) -> None:
    env = RobotDeliveryEnv()
    rules: RobotDeliveryRules = env.game
    with pytest.raises(error, match=r"robot_delivery: reset\(\) takes seed=None or a non-negative int"):
        rules.seed(seed)  # type: ignore[arg-type]
    with pytest.raises(error, match="seed"):
        rules.reset(seed)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# 2. A bool is not an action; the other wrong actions keep their documented errors
# --------------------------------------------------------------------------------------------

BOOLS = [True, False, np.bool_(True), np.bool_(False)]


def _snapshot(env: AECEnv) -> tuple[Any, ...]:
    obs = {a: env.observe(a)["observation"].copy() for a in env.possible_agents}
    return (
        env.agent_selection,
        list(env.agents),
        {a: o.tobytes() for a, o in obs.items()},
        dict(env.rewards),
        dict(env.terminations),
    )


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "wrapped"])
@pytest.mark.parametrize("name", ["tictactoe", "connect_four", "robot_delivery"])
@pytest.mark.parametrize("action", BOOLS, ids=repr)
def test_bool_action_is_a_type_error_naming_agent_and_action(name: str, raw: bool, action: object) -> None:
    env = make(name, raw)
    env.reset(seed=0)
    agent = env.agent_selection
    before = _snapshot(env)
    with pytest.raises(TypeError, match=re.escape(f"{agent}: action must be an integer in 0..")) as info:
        env.step(action)
    assert f"got the bool {action!r}" in str(info.value)
    assert _snapshot(env) == before


@pytest.mark.parametrize("action", BOOLS, ids=repr)
def test_bool_action_of_a_finished_agent_is_a_type_error_too(action: object) -> None:
    env = TicTacToeEnv()
    env.reset()
    for square in (0, 3, 1, 4, 2):  # player_1 wins on the top row
        env.step(square)
    assert all(env.terminations.values())
    agent = env.agent_selection
    with pytest.raises(TypeError, match=re.escape(f"{agent}: action must be an integer in 0..8, got the bool")):
        env.step(action)  # type: ignore[arg-type]
    env.step(None)  # the dead-agent protocol is untouched
    assert agent not in env.agents


@pytest.mark.parametrize("action", BOOLS, ids=repr)
def test_robot_rules_refuse_bool_actions(action: object) -> None:
    env = RobotDeliveryEnv(robot_colors=["p", "q"])
    env.reset(seed=3)
    with pytest.raises(TypeError, match=r"p1: action must be an integer in 0\.\.4, got the bool") as info:
        env.game.step(action)  # type: ignore[arg-type]
    assert repr(action) in str(info.value)
    assert env.game.num_steps == 0


@pytest.mark.parametrize("seat", ["player_0", "player_1"])
@pytest.mark.parametrize("action", BOOLS, ids=repr)
def test_matrix_game_refuses_bool_actions_naming_the_agent(seat: str, action: object) -> None:
    env = MatrixGameEnv(num_rounds=3)
    env.reset()
    actions: dict[str, object] = {"player_0": 0, "player_1": 1, seat: action}
    with pytest.raises(TypeError, match=re.escape(f"{seat}: action must be an integer in 0..1, got the bool")):
        env.step(actions)  # type: ignore[arg-type]
    assert env.game.round == 0


@pytest.mark.parametrize(
    ("name", "action", "error", "match"),
    [
        ("tictactoe", 9, ValueError, r"square index in 0\.\.8, got 9"),
        ("tictactoe", -1, ValueError, r"square index in 0\.\.8, got -1"),
        ("tictactoe", 1.0, TypeError, r"player_1: action must be an integer in 0\.\.8, got 1\.0"),
        ("tictactoe", None, TypeError, r"player_1: action must be an integer in 0\.\.8, got None"),
        ("tictactoe", "3", TypeError, r"player_1: action must be an integer in 0\.\.8, got '3'"),
        ("connect_four", 7, ValueError, r"column index in 0\.\.6, got 7"),
        ("connect_four", np.float32(2), TypeError, r"player_0: action must be an integer in 0\.\.6, got"),
        ("connect_four", None, TypeError, r"player_0: action must be an integer in 0\.\.6, got None"),
        ("robot_delivery", 5, ValueError, r"r1: action must be in 0\.\.4 \(stand, up, down, left, right\), got 5"),
        ("robot_delivery", -1, ValueError, r"r1: action must be in 0\.\.4 .*got -1"),
        ("robot_delivery", 1.5, TypeError, r"r1: action must be an integer in 0\.\.4, got 1\.5"),
        ("robot_delivery", "1", TypeError, r"r1: action must be an integer in 0\.\.4, got '1'"),
        ("robot_delivery", None, ValueError, r"r1 is alive: its action must be an integer in 0\.\.4, not None"),
    ],
)
def test_other_wrong_actions_keep_their_documented_errors(
    name: str, action: object, error: type[Exception], match: str
) -> None:
    env = make(name, raw=True)
    env.reset(seed=0)
    before = _snapshot(env)
    with pytest.raises(error, match=match):
        env.step(action)
    assert _snapshot(env) == before


@pytest.mark.parametrize("name", ["tictactoe", "connect_four"])
def test_board_game_step_without_live_agents_is_a_value_error(name: str) -> None:
    env = make(name, raw=True)
    title = GAME_TITLES[name]
    with pytest.raises(ValueError, match=re.escape(f"{title}: no live agents") + r".*call reset\(\)"):
        env.step(0)  # before reset()
    env.reset()
    moves = [0, 3, 1, 4, 2] if name == "tictactoe" else [0, 1, 0, 1, 0, 1, 0]
    for move in moves:
        env.step(move)
    while env.agents:
        env.step(None)
    with pytest.raises(ValueError, match=re.escape(f"{title}: no live agents")):
        env.step(None)


@pytest.mark.parametrize(
    ("actions", "error", "match"),
    [
        ([0, 1], TypeError, r"actions must be a dict with one action per live agent .*got list"),
        (None, TypeError, r"actions must be a dict .*got NoneType"),
        ({"player_0": 0, "player_1": 0, 7: 0}, ValueError, r"unknown \[7\]"),
        ({"player_0": 0, "player_1": 0, 7: 0, "x": 1}, ValueError, r"unknown \[7, 'x'\]"),
        ({"player_0": 0.0, "player_1": 0}, TypeError, r"actions must be integers: player_0's action .*got 0\.0"),
        ({"player_0": 0, "player_1": None}, TypeError, r"actions must be integers: player_1's action .*got None"),
        ({"player_0": 0, "player_1": 2}, ValueError, r"player_1: action must be in 0\.\.1, got 2"),
    ],
)
def test_matrix_game_action_dicts(actions: object, error: type[Exception], match: str) -> None:
    env = MatrixGameEnv(num_rounds=2)
    env.reset()
    with pytest.raises(error, match=match):
        env.step(actions)  # type: ignore[arg-type]
    assert env.game.round == 0 and env.agents == env.possible_agents


# --------------------------------------------------------------------------------------------
# 3. observe() of an unknown agent names the agents
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "wrapped"])
@pytest.mark.parametrize("name", ["tictactoe", "connect_four", "robot_delivery"])
@pytest.mark.parametrize("agent", ["player_9", 0, None, ["player_0"]], ids=repr)
def test_observe_unknown_agent_names_the_agents(name: str, raw: bool, agent: object) -> None:
    env = make(name, raw)
    env.reset(seed=0)
    expected = f"unknown agent {agent!r}; the agents are {env.possible_agents}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        env.observe(agent)


def test_observe_known_agents_still_works_after_they_step_out() -> None:
    env = TicTacToeEnv()
    env.reset()
    for square in (0, 3, 1, 4, 2):
        env.step(square)
    while env.agents:
        env.step(None)
    assert env.observe("player_2")["observation"].sum() == 5


def test_matrix_game_has_no_observe() -> None:
    """The parallel game hands observations out from reset()/step(); it has no observe() to check."""
    assert isinstance(MatrixGameEnv(), ParallelEnv)
    assert not hasattr(MatrixGameEnv(), "observe")


# --------------------------------------------------------------------------------------------
# 4. The trainer says what observation it expects
# --------------------------------------------------------------------------------------------


class RenamedTicTacToe(TicTacToeEnv):
    """Tic-tac-toe whose Dict observation has no 'observation' entry (a user's own env)."""

    metadata: ClassVar[dict[str, Any]] = {**TicTacToeEnv.metadata, "name": "renamed_tictactoe"}

    def __init__(self) -> None:
        super().__init__()
        space = spaces.Dict(
            {
                "board": spaces.Box(0, 1, shape=(3, 3, 2), dtype=np.int8),
                "legal": spaces.Box(0, 1, shape=(9,), dtype=np.int8),
            }
        )
        self.observation_spaces = dict.fromkeys(self.possible_agents, space)

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        obs = super().observe(agent)
        return {"board": obs["observation"], "legal": obs["action_mask"]}


class RenamedMatrixGame(MatrixGameEnv):
    """The matrix game with observations {'state': ...} (a user's own parallel env)."""

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        obs, infos = super().reset(seed=seed, options=options)
        return {a: {"state": o} for a, o in obs.items()}, infos


EXPECTS = (
    "the trainer expects a Box observation (an array) or a Dict with an 'observation' entry "
    "(the array it learns from) and an optional 'action_mask' entry"
)


def test_aec_dict_observation_without_observation_entry() -> None:
    game = seat_game(RenamedTicTacToe, 0)
    with pytest.raises(ValueError, match=re.escape(EXPECTS)) as info:
        game.reset(0)
    message = str(info.value)
    assert "seat 'player_1' of game 'renamed_tictactoe'" in message
    assert "keys ['board', 'legal']" in message


def test_parallel_dict_observation_without_observation_entry() -> None:
    game = seat_game(RenamedMatrixGame, 0)
    with pytest.raises(ValueError, match=re.escape(EXPECTS)) as info:
        game.reset(0)
    assert "seat 'player_0' of game 'matrix_game_v0' observed a dict with keys ['state']" in str(info.value)


def test_box_and_dict_observations_still_split() -> None:
    aec = seat_game(TicTacToeEnv, 0).reset(0)
    assert aec.obs[0].dtype == np.float32 and aec.masks[0].tolist() == [1] * 9
    parallel = seat_game(MatrixGameEnv, 0).reset(0)
    assert len(parallel.obs) == 2 and parallel.masks[0].tolist() == [1, 1]
