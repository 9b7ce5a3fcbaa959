"""Tests of the headless tic-tac-toe and connect-four games (``games.tictactoe``, ``games.connect_four``).

Besides PettingZoo's own API and seed checks, every game is replayed move by move in PettingZoo's
reference implementation (``tictactoe_v3`` / ``connect_four_v3``, raw envs so that no wrapper
changes their behaviour) and the observations, rewards and outcome must agree.

One deliberate difference is accounted for: once the game is over, our ``action_mask`` is all
zeros for both agents, while PettingZoo's still lists the free squares/columns for the agent whose
turn it would be. Masks are therefore compared while the game runs, and checked to be all zeros
(ours) afterwards.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from pettingzoo import AECEnv
from pettingzoo.classic import connect_four_v3, tictactoe_v3
from pettingzoo.test import api_test, seed_test
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

from games import connect_four, tictactoe
from games.connect_four import ConnectFourEnv
from games.tictactoe import TicTacToeEnv


@dataclass(frozen=True)
class Game:
    """One of our games together with PettingZoo's reference implementation of it."""

    name: str
    module: object
    ours: Callable[[], AECEnv]
    reference: Callable[[], AECEnv]
    agents: tuple[str, str]
    num_actions: int
    plane_shape: tuple[int, int]


TICTACTOE = Game(
    "tictactoe",
    tictactoe,
    TicTacToeEnv,
    tictactoe_v3.raw_env,
    ("player_1", "player_2"),
    9,
    (3, 3),
)
CONNECT_FOUR = Game(
    "connect_four",
    connect_four,
    ConnectFourEnv,
    connect_four_v3.raw_env,
    ("player_0", "player_1"),
    7,
    (6, 7),
)
GAMES = [TICTACTOE, CONNECT_FOUR]
DRAW = "draw"


def game_ids(game: Game) -> str:
    return game.name


def test_reference_versions() -> None:
    assert tictactoe_v3.raw_env.metadata["name"] == "tictactoe_v3"
    assert connect_four_v3.raw_env.metadata["name"] == "connect_four_v3"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def reference_winner(env: AECEnv) -> str | None:
    """Winner of a finished PettingZoo reference game, read from its rewards (None for a draw)."""
    winners = [a for a, r in env._cumulative_rewards.items() if r == 1]
    assert len(winners) <= 1, env._cumulative_rewards
    return winners[0] if winners else None


def assert_same_observations(ours: AECEnv, ref: AECEnv, context: str) -> None:
    over = all(ours.terminations.values())
    for agent in ours.possible_agents:
        obs, ref_obs = ours.observe(agent), ref.observe(agent)
        assert set(obs) == {"observation", "action_mask"}, context
        assert obs["observation"].dtype == np.int8 and obs["action_mask"].dtype == np.int8, context
        np.testing.assert_array_equal(obs["observation"], ref_obs["observation"], err_msg=f"{context}, {agent}")
        if over:
            assert not obs["action_mask"].any(), f"{context}, {agent}: mask must be all zeros after the end"
        else:
            np.testing.assert_array_equal(obs["action_mask"], ref_obs["action_mask"], err_msg=f"{context}, {agent}")
        assert ours.observation_space(agent).contains(obs), f"{context}, {agent}"


def assert_same_state(ours: AECEnv, ref: AECEnv, context: str) -> None:
    assert ours.agents == ref.agents, context
    assert ours.agent_selection == ref.agent_selection, context
    assert ours.terminations == ref.terminations, context
    assert ours.truncations == ref.truncations, context
    assert ours.rewards == ref.rewards, context
    assert ours._cumulative_rewards == ref._cumulative_rewards, context


def play_both(game: Game, actions: list[int]) -> str | None:
    """Play ``actions`` in our env and PettingZoo's, comparing them after every step.

    The sequence must end the game exactly on its last action. Returns the winning agent (None
    for a draw) after checking that both envs agree on it; then steps the finished agents out
    (action None) in both envs and compares again.
    """
    ours, ref = game.ours(), game.reference()
    ours.reset(seed=0)
    ref.reset(seed=0)
    assert ours.possible_agents == ref.possible_agents == list(game.agents)
    assert_same_state(ours, ref, "after reset")
    assert_same_observations(ours, ref, "after reset")

    for i, action in enumerate(actions):
        context = f"{game.name} moves {actions[: i + 1]}"
        assert not any(ours.terminations.values()), f"{context}: the game ended before the last move"
        ours.step(action)
        ref.step(action)
        assert_same_state(ours, ref, context)
        assert_same_observations(ours, ref, context)
    assert all(ours.terminations.values()), f"{game.name} moves {actions}: the game should be over"

    winner = reference_winner(ref)
    for agent in ours.possible_agents:
        assert ours.infos[agent] == {"winner": winner}, f"{game.name} moves {actions}"
        expected = 0 if winner is None else (1 if agent == winner else -1)
        assert ours._cumulative_rewards[agent] == expected

    # Step the finished agents out of both envs: they must leave in the same order.
    while ref.agents:
        assert ours.agents
        ours.step(None)
        ref.step(None)
        assert_same_state(ours, ref, f"{game.name} moves {actions}, dead step")
    assert ours.agents == []
    return winner


def random_game(game: Game, rng: np.random.Generator) -> list[int]:
    """A random legal move sequence played to the end (moves drawn from our env's action mask)."""
    env = game.ours()
    env.reset()
    actions: list[int] = []
    while not any(env.terminations.values()):
        mask = env.observe(env.agent_selection)["action_mask"]
        action = int(rng.choice(np.flatnonzero(mask)))
        env.step(action)
        actions.append(action)
    return actions


# --------------------------------------------------------------------------------------------
# PettingZoo API and seeding checks
# --------------------------------------------------------------------------------------------

# api_test warns about things PettingZoo only exempts its own envs from, by name: dict observations
# (used by every PettingZoo classic game) and an empty board on the first observation.
EXPECTED_API_WARNINGS = {
    "Observation is not a NumPy array",
    "Observation numpy array is all zeros.",
    "Observation space for each agent probably should be gymnasium.spaces.box or gymnasium.spaces.discrete",
}


@pytest.mark.parametrize("game", GAMES, ids=game_ids)
def test_pettingzoo_api_test(game: Game) -> None:
    env = game.module.env()
    assert isinstance(env, OrderEnforcingWrapper)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api_test(env, num_cycles=200)
    unexpected = {str(w.message) for w in caught} - EXPECTED_API_WARNINGS
    assert not unexpected


@pytest.mark.parametrize("game", GAMES, ids=game_ids)
def test_pettingzoo_seed_test(game: Game) -> None:
    seed_test(game.module.env, num_cycles=200)


@pytest.mark.parametrize("game", GAMES, ids=game_ids)
def test_spaces_and_agents(game: Game) -> None:
    env = game.module.env()
    env.reset()
    assert env.agents == list(game.agents)
    assert env.agent_selection == game.agents[0]
    for agent in game.agents:
        assert env.action_space(agent).n == game.num_actions
        space = env.observation_space(agent)
        assert space["observation"].shape == (*game.plane_shape, 2)
        assert space["action_mask"].shape == (game.num_actions,)
    obs = env.observe(game.agents[0])
    assert not obs["observation"].any()
    assert obs["action_mask"].tolist() == [1] * game.num_actions
    assert not env.observe(game.agents[1])["action_mask"].any()


# --------------------------------------------------------------------------------------------
# Agreement with PettingZoo's implementations
# --------------------------------------------------------------------------------------------

# Tic-tac-toe squares are row-major: 0 1 2 / 3 4 5 / 6 7 8.
TICTACTOE_SCRIPTS = {
    "row": ([0, 3, 1, 4, 2], "player_1"),
    "column_by_second_player": ([0, 2, 1, 5, 3, 8], "player_2"),
    "diagonal": ([0, 1, 4, 2, 8], "player_1"),
    "anti_diagonal": ([2, 0, 4, 1, 6], "player_1"),
    # X O X / X O O / O X X
    "draw": ([0, 1, 2, 4, 3, 5, 7, 6, 8], None),
    # X O X / O X O / O X X: the ninth move fills the board and wins (a win, not a draw).
    "win_on_full_board": ([0, 1, 2, 3, 4, 5, 7, 6, 8], "player_1"),
}

# Connect-four actions are columns 0..6; pieces fall to the bottom.
CONNECT_FOUR_DRAW = [0, 2, 2, 0] * 3 + [1, 3, 3, 1] * 3 + [4, 6, 6, 4] * 3 + [5, 5] * 3
CONNECT_FOUR_SCRIPTS = {
    "row": ([0, 0, 1, 1, 2, 2, 3], "player_0"),
    "column": ([0, 1, 0, 1, 0, 1, 0], "player_0"),
    "column_by_second_player": ([0, 1, 0, 1, 0, 1, 2, 1], "player_1"),
    "diagonal": ([0, 1, 1, 2, 2, 3, 2, 3, 3, 5, 3], "player_0"),
    "anti_diagonal": ([6, 5, 5, 4, 4, 3, 4, 3, 3, 1, 3], "player_0"),
    # Columns bottom-up X/O-alternating, starting X in columns 0,1,4,5 and O in 2,3,6: no four anywhere.
    "draw": (CONNECT_FOUR_DRAW, None),
}

SCRIPTED = [
    pytest.param(TICTACTOE, moves, winner, id=f"tictactoe-{name}")
    for name, (moves, winner) in TICTACTOE_SCRIPTS.items()
] + [
    pytest.param(CONNECT_FOUR, moves, winner, id=f"connect_four-{name}")
    for name, (moves, winner) in CONNECT_FOUR_SCRIPTS.items()
]


@pytest.mark.parametrize(("game", "moves", "winner"), SCRIPTED)
def test_scripted_games_match_pettingzoo(game: Game, moves: list[int], winner: str | None) -> None:
    assert play_both(game, moves) == winner


def test_connect_four_draw_script_fills_the_board() -> None:
    assert len(CONNECT_FOUR_DRAW) == 42
    assert Counter(CONNECT_FOUR_DRAW) == dict.fromkeys(range(7), 6)


@pytest.mark.parametrize("game", GAMES, ids=game_ids)
def test_random_games_match_pettingzoo(game: Game) -> None:
    outcomes: Counter[str] = Counter()
    for seed in range(200):
        actions = random_game(game, np.random.default_rng(seed))
        winner = play_both(game, actions)
        outcomes[winner or DRAW] += 1
    # The random games must exercise wins by both players (and, in tic-tac-toe, draws).
    assert outcomes[game.agents[0]] > 0 and outcomes[game.agents[1]] > 0, outcomes
    if game is TICTACTOE:
        assert outcomes[DRAW] > 0, outcomes


@pytest.mark.parametrize("game", GAMES, ids=game_ids)
def test_random_games_are_reproducible(game: Game) -> None:
    first = random_game(game, np.random.default_rng(123))
    again = random_game(game, np.random.default_rng(123))
    assert first == again


def test_tictactoe_planes_swap_for_second_player() -> None:
    env = tictactoe.env()
    env.reset()
    env.step(4)  # player_1 (X) takes the centre
    env.step(0)  # player_2 (O) takes the top-left corner
    x_plane = np.zeros((3, 3), dtype=np.int8)
    x_plane[1, 1] = 1
    o_plane = np.zeros((3, 3), dtype=np.int8)
    o_plane[0, 0] = 1
    first, second = env.observe("player_1")["observation"], env.observe("player_2")["observation"]
    np.testing.assert_array_equal(first[:, :, 0], x_plane)
    np.testing.assert_array_equal(first[:, :, 1], o_plane)
    np.testing.assert_array_equal(second[:, :, 0], o_plane)
    np.testing.assert_array_equal(second[:, :, 1], x_plane)


def test_connect_four_pieces_fall_to_the_bottom_row() -> None:
    env = connect_four.env()
    env.reset()
    env.step(3)
    env.step(3)
    planes = env.observe("player_0")["observation"]
    assert planes[5, 3, 0] == 1 and planes[4, 3, 1] == 1  # row 0 is the top
    assert planes.sum() == 2


# --------------------------------------------------------------------------------------------
# Illegal moves and the end of the game
# --------------------------------------------------------------------------------------------


def assert_rejected(env: AECEnv, action: object, error: type[Exception], match: str) -> None:
    """``action`` raises ``error`` and leaves the game untouched."""
    agent = env.agent_selection
    before = {a: env.observe(a)["observation"].copy() for a in env.agents}
    with pytest.raises(error, match=match):
        env.step(action)
    assert env.agent_selection == agent
    for a, planes in before.items():
        np.testing.assert_array_equal(env.observe(a)["observation"], planes)
    assert not any(env.terminations.values())


def test_tictactoe_illegal_moves() -> None:
    env = tictactoe.env()
    env.reset()
    env.step(4)
    assert_rejected(env, 4, ValueError, r"square 4 is already taken")
    assert_rejected(env, 9, ValueError, r"square index in 0\.\.8, got 9")
    assert_rejected(env, -1, ValueError, r"square index in 0\.\.8, got -1")
    assert_rejected(env, 1.0, TypeError, r"player_2: action must be an integer in 0\.\.8, got 1\.0")
    assert_rejected(env, "1", TypeError, r"must be an integer")
    assert_rejected(env, None, TypeError, r"must be an integer")
    env.step(np.int64(0))  # numpy integers are accepted
    assert env.observe("player_2")["observation"][0, 0, 0] == 1


def test_connect_four_illegal_moves() -> None:
    env = connect_four.env()
    env.reset()
    for _ in range(6):
        env.step(2)
    assert env.observe(env.agent_selection)["action_mask"].tolist() == [1, 1, 0, 1, 1, 1, 1]
    assert_rejected(env, 2, ValueError, r"column 2 is full")
    assert_rejected(env, 7, ValueError, r"column index in 0\.\.6, got 7")
    assert_rejected(env, -1, ValueError, r"column index in 0\.\.6, got -1")
    assert_rejected(env, 0.5, TypeError, r"player_0: action must be an integer in 0\.\.6, got 0\.5")
    assert_rejected(env, [0], TypeError, r"must be an integer")


@pytest.mark.parametrize(
    ("game", "moves", "winner", "loser"),
    [
        pytest.param(TICTACTOE, TICTACTOE_SCRIPTS["column_by_second_player"][0], "player_2", "player_1", id="ttt"),
        pytest.param(CONNECT_FOUR, CONNECT_FOUR_SCRIPTS["row"][0], "player_0", "player_1", id="c4"),
    ],
)
def test_winner_in_infos_and_rewards(game: Game, moves: list[int], winner: str, loser: str) -> None:
    env = game.module.env()
    env.reset()
    for action in moves[:-1]:
        env.step(action)
        assert all(info == {} for info in env.infos.values())
    env.step(moves[-1])
    assert env.terminations == dict.fromkeys(game.agents, True)
    assert env.truncations == dict.fromkeys(game.agents, False)
    assert env.infos == {a: {"winner": winner} for a in game.agents}
    assert env.rewards == {winner: 1.0, loser: -1.0}
    # Each finished agent sees its final reward and the winner through last(), then steps out.
    seen = {}
    for agent in env.agent_iter():
        obs, reward, terminated, truncated, info = env.last()
        assert terminated and not truncated
        assert info == {"winner": winner}
        assert not obs["action_mask"].any()
        seen[agent] = reward
        env.step(None)
    assert seen == {winner: 1.0, loser: -1.0}
    assert env.agents == []


@pytest.mark.parametrize("game", GAMES, ids=game_ids)
def test_draw_has_no_winner(game: Game) -> None:
    moves = TICTACTOE_SCRIPTS["draw"][0] if game is TICTACTOE else CONNECT_FOUR_DRAW
    env = game.module.env()
    env.reset()
    for action in moves:
        env.step(action)
    assert all(env.terminations.values())
    assert env.infos == {a: {"winner": None} for a in game.agents}
    assert env._cumulative_rewards == dict.fromkeys(game.agents, 0.0)


@pytest.mark.parametrize("game", GAMES, ids=game_ids)
def test_finished_agent_only_accepts_none(game: Game) -> None:
    moves = TICTACTOE_SCRIPTS["row"][0] if game is TICTACTOE else CONNECT_FOUR_SCRIPTS["row"][0]
    env = game.module.env()
    env.reset()
    for action in moves:
        env.step(action)
    with pytest.raises(ValueError, match="None"):
        env.step(0)


@pytest.mark.parametrize("game", GAMES, ids=game_ids)
def test_reset_starts_a_new_game(game: Game) -> None:
    env = game.module.env()
    env.reset()
    for action in TICTACTOE_SCRIPTS["row"][0] if game is TICTACTOE else CONNECT_FOUR_SCRIPTS["row"][0]:
        env.step(action)
    assert all(env.terminations.values())
    env.reset()
    assert env.agents == list(game.agents)
    assert env.agent_selection == game.agents[0]
    assert not any(env.terminations.values())
    assert env.infos == {a: {} for a in game.agents}
    assert env._cumulative_rewards == dict.fromkeys(game.agents, 0.0)
    obs = env.observe(game.agents[0])
    assert not obs["observation"].any()
    assert obs["action_mask"].all()


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def test_tictactoe_ansi_render() -> None:
    env = tictactoe.env(render_mode="ansi")
    env.reset()
    assert env.render() == "...\n...\n..."
    env.step(0)
    env.step(5)
    text = env.render()
    assert isinstance(text, str)
    assert text == "X..\n..O\n..."


def test_connect_four_ansi_render() -> None:
    env = connect_four.env(render_mode="ansi")
    env.reset()
    env.step(3)
    env.step(3)
    text = env.render()
    assert isinstance(text, str)
    rows = text.split("\n")
    assert len(rows) == 6 and all(len(row) == 7 for row in rows)
    assert rows[5] == "...X..."
    assert rows[4] == "...O..."
    assert set("".join(rows[:4])) == {"."}


@pytest.mark.parametrize("game", GAMES, ids=game_ids)
def test_render_without_mode_returns_none(game: Game) -> None:
    env = game.module.env()
    env.reset()
    assert env.render() is None


@pytest.mark.parametrize("game", GAMES, ids=game_ids)
@pytest.mark.parametrize("mode", ["human", "rgb", "text"])
def test_unknown_render_mode_is_rejected(game: Game, mode: str) -> None:
    with pytest.raises(ValueError, match=rf"render_mode must be None or one of \['ansi', 'rgb_array'\], got '{mode}'"):
        game.module.env(render_mode=mode)
