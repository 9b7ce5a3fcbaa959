"""Tests of the baseline opponents (``rbtrainer.evaluation.baselines``).

Outcomes are judged by the games' own rules (``games.tictactoe`` / ``games.connect_four``), not by
the bots' bitboard helpers; the bots also play PettingZoo's reference envs through the trainer.
"""

from __future__ import annotations

import copy
import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from pettingzoo.classic import connect_four_v3, tictactoe_v3

from games.connect_four import ConnectFourRules
from games.tictactoe import TicTacToeRules
from rbtrainer import Agent, DecentralizedTrainer, RandomAgent, TestResult
from rbtrainer.evaluation.baselines import (
    ConnectFourNegamax,
    ConnectFourOpportunist,
    ConnectFourStrong,
    TicTacToeMinimax,
    tictactoe_best_moves,
    tictactoe_is_win,
    tictactoe_planes,
    tictactoe_value,
)

# ------------------------------------------------------------------------------------- helpers


def bits_of(squares: list[int], player: int) -> int:
    return sum(1 << i for i, s in enumerate(squares) if s == player + 1)


def ttt_after(rules: TicTacToeRules, player: int, move: int) -> TicTacToeRules:
    child = TicTacToeRules()
    child.squares = list(rules.squares)
    child.play(player, move)
    return child


def ttt_outcomes(
    rules: TicTacToeRules, to_move: int, moves_of: Callable[[TicTacToeRules, int], list[int]]
) -> Counter[int | None]:
    """Winners over every branch of the game tree, ``moves_of(rules, player)`` giving the moves tried."""
    if rules.over:
        return Counter([rules.winner])
    total: Counter[int | None] = Counter()
    for move in moves_of(rules, to_move):
        total += ttt_outcomes(ttt_after(rules, to_move, move), 1 - to_move, moves_of)
    return total


def free_squares(rules: TicTacToeRules, player: int) -> list[int]:
    return [i for i, s in enumerate(rules.squares) if s == 0]


def optimal_squares(rules: TicTacToeRules, player: int) -> list[int]:
    return tictactoe_best_moves(bits_of(rules.squares, player), bits_of(rules.squares, 1 - player))


def obs_batch(positions: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Float32 observations ``(B, 3, 3, 2)`` and int8 masks of ``(own, opp)`` bitboards."""
    obs = np.stack([tictactoe_planes(own, opp) for own, opp in positions]).astype(np.float32)
    return obs, (1 - obs.sum(axis=3).reshape(len(positions), 9)).astype(np.int8)


def choose(agent: Agent, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return agent.act(obs, mask, np.zeros(len(mask), dtype=bool))


def c4_rules(*rows: str) -> ConnectFourRules:
    """A connect-four position from its bottom rows (top to bottom): X = player 0 (to move), O = player 1."""
    rules = ConnectFourRules()
    for r, row in enumerate(rows, start=6 - len(rows)):
        for c, symbol in enumerate(row):
            rules.cells[r][c] = ".XO".index(symbol)
    rules.heights = [sum(rules.cells[r][c] != 0 for r in range(6)) for c in range(7)]
    return rules


def c4_after(rules: ConnectFourRules, player: int, col: int) -> ConnectFourRules:
    board = copy.deepcopy(rules)
    board.play(player, col)
    return board


def legal_columns(rules: ConnectFourRules) -> list[int]:
    return [c for c, ok in enumerate(rules.legal_mask()) if ok]


def c4_move(agent: Agent, rules: ConnectFourRules, mask: list[int] | None = None) -> int:
    obs = rules.planes(0)[None].astype(np.float32)
    return int(choose(agent, obs, np.array([mask or rules.legal_mask()], dtype=np.int8))[0])


def play_test(env: Any, agents: list[Agent], episodes: int = 40) -> TestResult:
    args = {"env_args": {"game": env}} if isinstance(env, str) else {"env_fn": env}
    trainer = DecentralizedTrainer(**args, num_test_envs=4, episodes_per_test=episodes, seed=0, progress_bar=False)
    return trainer.test(agents, eval_metrics=True)


def wins_of(result: TestResult, seat: int) -> int:
    assert result.wins is not None
    return list(result.wins.values())[seat]


# --------------------------------------------------------------------------------- tic-tac-toe


def test_tictactoe_is_win_agrees_with_the_rules_on_every_reachable_position() -> None:
    seen: set[tuple[int, ...]] = set()
    stack = [(TicTacToeRules(), 0)]
    while stack:
        rules, to_move = stack.pop()
        for move in (i for i, s in enumerate(rules.squares) if s == 0):
            after = ttt_after(rules, to_move, move)
            assert (after.winner == to_move) == tictactoe_is_win(bits_of(after.squares, to_move)), after.squares
            if not after.over and tuple(after.squares) not in seen:
                seen.add(tuple(after.squares))
                stack.append((after, 1 - to_move))
    assert len(seen) > 4000  # the non-final positions of tic-tac-toe


def test_tictactoe_values() -> None:
    assert tictactoe_value(0, 0) == 0
    assert tictactoe_best_moves(0, 0) == list(range(9))
    x, o = 0b000_010_001, 0b000_000_110  # X: 0 and 4, O: 1 and 2
    assert tictactoe_best_moves(o, x) == [8]  # O to move must block, and then holds the draw
    assert tictactoe_value(o, x) == 0
    assert tictactoe_best_moves(x, o) == [8]  # X wins at once (8) rather than later by a double threat (3, 5, 6)
    assert tictactoe_value(x, o) == 1
    assert tictactoe_value(0b111, 0b11000) == 1  # finished games score their result
    assert tictactoe_value(0b11000, 0b111) == -1
    assert tictactoe_best_moves(0b11000, 0b111) == []
    with pytest.raises(ValueError, match="share squares"):
        tictactoe_value(1, 1)
    with pytest.raises(ValueError, match="own must be"):
        tictactoe_value(512, 0)


def brute_force_value(squares: list[int], player: int) -> int:
    """Value for ``player`` to move, by plain search over the game's own rules (no memo, no bitboards)."""
    values = []
    for move in (i for i, s in enumerate(squares) if s == 0):
        rules = TicTacToeRules()
        rules.squares = list(squares)
        rules.play(player, move)
        values.append(
            1 if rules.winner == player else 0 if rules.over else -brute_force_value(rules.squares, 1 - player)
        )
    return max(values)


def test_tictactoe_value_matches_brute_force_after_four_moves() -> None:
    boards = set()
    for moves in itertools.permutations(range(9), 4):
        squares = [0] * 9
        for k, m in enumerate(moves):
            squares[m] = k % 2 + 1
        boards.add(tuple(squares))
    assert len(boards) == 756
    for board in boards:
        squares = list(board)
        assert tictactoe_value(bits_of(squares, 0), bits_of(squares, 1)) == brute_force_value(squares, 0), board


@pytest.mark.parametrize("seat", [0, 1])
def test_minimax_never_loses_exhaustively(seat: int) -> None:
    """Every opponent branch against every optimal choice (all of minimax's tie-breaks)."""
    decisions: list[tuple[int, int]] = []

    def moves_of(rules: TicTacToeRules, player: int) -> list[int]:
        if player != seat:
            return free_squares(rules, player)
        decisions.append((bits_of(rules.squares, player), bits_of(rules.squares, 1 - player)))
        return optimal_squares(rules, player)

    outcomes = ttt_outcomes(TicTacToeRules(), 0, moves_of)
    assert outcomes[1 - seat] == 0
    assert outcomes[seat] > 0 and outcomes[None] > 0
    # the agent picks among exactly these optimal squares, in every position it can meet
    obs, mask = obs_batch(decisions)
    chosen = choose(TicTacToeMinimax(seed=seat), obs, mask)
    assert all(m in tictactoe_best_moves(*p) for p, m in zip(decisions, chosen.tolist()))


def test_minimax_self_play_is_always_a_draw() -> None:
    for first in range(9):
        outcomes = ttt_outcomes(ttt_after(TicTacToeRules(), 0, first), 1, optimal_squares)
        assert set(outcomes) == {None}, (first, outcomes)


def test_minimax_tie_breaks_come_from_its_own_seed() -> None:
    obs, mask = obs_batch([(0, 0)] * 30)  # every square of the empty board is worth a draw
    a, b, c = (choose(TicTacToeMinimax(seed=s), obs, mask) for s in (1, 1, 2))
    assert a.dtype == np.int64 and a.shape == (30,)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len(set(a.tolist())) > 3
    agent = TicTacToeMinimax(seed=5)
    first = choose(agent, obs, mask)
    agent.seed(5)
    np.testing.assert_array_equal(choose(agent, obs, mask), first)


def test_minimax_honours_the_mask_and_flat_observations() -> None:
    obs, mask = obs_batch([(0, 0), (0b000_000_110, 0b000_010_001), (0, 0)])
    mask[0] = 0
    mask[0, 7] = 1  # a mask narrower than the board: still obeyed
    mask[2] = 0  # no legal action: 0, no crash
    chosen = choose(TicTacToeMinimax(), obs, mask)
    np.testing.assert_array_equal(chosen, [7, 8, 0])
    np.testing.assert_array_equal(choose(TicTacToeMinimax(), obs.reshape(3, 18), mask), chosen)
    with pytest.raises(ValueError, match="obs must hold 3 observations"):
        choose(TicTacToeMinimax(), obs[:, :2], mask)


@pytest.mark.parametrize("seat", [0, 1])
def test_minimax_never_loses_to_random_in_the_trainer(seat: int) -> None:
    agents: list[Agent] = [RandomAgent(seed=seat), RandomAgent(seed=seat)]
    agents[seat] = TicTacToeMinimax(seed=0)
    result = play_test("tictactoe", agents)
    assert result.num_episodes == 40 and result.illegal_actions == 0
    assert wins_of(result, 1 - seat) == 0
    assert wins_of(result, seat) >= 20


def test_check_spaces() -> None:
    c4_obs, ttt_obs = gym.spaces.Box(0, 1, (6, 7, 2), np.int8), gym.spaces.Box(0, 1, (3, 3, 2), np.int8)
    TicTacToeMinimax().check_spaces(ttt_obs, gym.spaces.Discrete(9))
    ConnectFourStrong().check_spaces(gym.spaces.Dict({"observation": c4_obs}), gym.spaces.Discrete(7))
    with pytest.raises(ValueError, match="TicTacToeMinimax plays tic-tac-toe"):
        TicTacToeMinimax().check_spaces(c4_obs, gym.spaces.Discrete(7))
    with pytest.raises(ValueError, match="plays connect four"):
        ConnectFourNegamax().check_spaces(ttt_obs, gym.spaces.Discrete(9))
    with pytest.raises(TypeError, match="Discrete"):
        ConnectFourStrong().check_spaces(c4_obs, gym.spaces.Box(0, 1, (7,)))
    with pytest.raises(ValueError, match=r"cannot play seat 'player_0'.*plays tic-tac-toe"):
        play_test("connect_four", [TicTacToeMinimax(), RandomAgent()])


# -------------------------------------------------------------------------------- connect four

WIN_AT_0_OR_4 = ("...O...", ".OOO...", ".XXX...")  # X (to move) completes the bottom row
BLOCK_AT_3 = ("X......", "OOO.XX.")  # O completes the bottom row at 3 unless X goes there
UNDER_O_WIN = ("OOO....", "XOX..XX")  # O wins at (row 4, column 3) once column 3 holds a piece
DOUBLE_THREAT = ("..OO...", "..XX...")  # X at 1 or 4 makes two winning squares: a win in 3 plies


BOTS: list[Callable[[int], Agent]] = [
    lambda s: ConnectFourStrong(seed=s),
    lambda s: ConnectFourNegamax(2, seed=s),
    lambda s: ConnectFourNegamax(4, seed=s),
]


@pytest.mark.parametrize("make", BOTS, ids=["strong", "negamax:2", "negamax:4"])
def test_connect_four_bots_win_and_block(make: Callable[[int], Agent]) -> None:
    for seed in range(4):
        rules = c4_rules(*WIN_AT_0_OR_4)
        assert c4_after(rules, 0, c4_move(make(seed), rules)).winner == 0
        assert c4_move(make(seed), c4_rules(*BLOCK_AT_3)) == 3


def test_strong_avoids_the_square_under_an_opponent_win() -> None:
    rules = c4_rules(*UNDER_O_WIN)
    moves = {c4_move(ConnectFourStrong(seed=s), rules) for s in range(12)}
    assert moves == {2, 4}  # the centre is bad; then the next-most central columns, both seen
    assert c4_move(ConnectFourStrong(), rules, mask=[0, 0, 0, 1, 0, 0, 0]) == 3  # every move is bad
    assert 3 not in {c4_move(ConnectFourNegamax(d, seed=s), rules) for d in (2, 4) for s in range(4)}


def test_strong_prefers_the_centre() -> None:
    assert c4_move(ConnectFourStrong(), c4_rules()) == 3
    no_centre = [1, 1, 1, 0, 1, 1, 1]
    assert {c4_move(ConnectFourStrong(seed=s), c4_rules(), mask=no_centre) for s in range(12)} == {2, 4}
    assert c4_move(ConnectFourStrong(), c4_rules(), mask=[1, 0, 0, 0, 0, 0, 1]) in {0, 6}


def test_negamax_finds_a_double_threat_the_strong_bot_misses() -> None:
    rules = c4_rules(*DOUBLE_THREAT)
    assert c4_move(ConnectFourStrong(), rules) == 3
    for depth in (2, 3, 4):
        moves = {c4_move(ConnectFourNegamax(depth, seed=s), rules) for s in range(6)}
        assert moves <= {1, 4}, (depth, moves)
    for move in (1, 4):  # forced: every reply leaves X an immediate win
        threat = c4_after(rules, 0, move)
        for reply in legal_columns(threat):
            board = c4_after(threat, 1, reply)
            assert any(c4_after(board, 0, c).winner == 0 for c in legal_columns(board))


def test_negamax_prefers_the_faster_win() -> None:
    rules = c4_rules("..OO.O.", "..XXXO.")  # X wins now at 1; other moves at best win later
    assert {c4_move(ConnectFourNegamax(4, seed=s), rules) for s in range(4)} == {1}


@pytest.mark.parametrize(
    ("depth", "error"), [(0, ValueError), (11, ValueError), (-1, ValueError), (2.0, TypeError), (True, TypeError)]
)
def test_negamax_validates_depth(depth: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="depth"):
        ConnectFourNegamax(depth)


def test_opportunist_wins_at_once_and_otherwise_plays_at_random() -> None:
    rules = c4_rules(*WIN_AT_0_OR_4)
    wins = {c4_move(ConnectFourOpportunist(seed=s), rules) for s in range(12)}
    assert wins == {0, 4}  # both winning columns, from its own seed
    blocks = Counter(c4_move(ConnectFourOpportunist(seed=s), c4_rules(*BLOCK_AT_3)) for s in range(70))
    assert set(blocks) == set(range(7)) and blocks[3] < 25  # it does not block: every column comes up
    assert c4_move(ConnectFourOpportunist(), c4_rules(*BLOCK_AT_3), mask=[0, 0, 0, 0, 0, 1, 0]) == 5
    bot = ConnectFourOpportunist(seed=7)
    openings = [c4_move(bot, c4_rules()) for _ in range(10)]
    assert len(set(openings)) > 1  # random on an empty board, and again the same after reseeding
    bot.seed(7)
    assert [c4_move(bot, c4_rules()) for _ in range(10)] == openings


def test_opportunist_sits_between_random_and_the_rule_based_bot() -> None:
    beats_random = play_test("connect_four", [ConnectFourOpportunist(seed=0), RandomAgent(seed=0)])
    assert beats_random.illegal_actions == 0 and wins_of(beats_random, 0) >= 28, beats_random.wins
    loses = play_test("connect_four", [ConnectFourOpportunist(seed=0), ConnectFourStrong(seed=0)])
    assert wins_of(loses, 1) >= 32, loses.wins


def test_negamax_default_name() -> None:
    assert ConnectFourNegamax(3).name == "negamax:3"
    assert ConnectFourNegamax(3, name="n").name == "n"


@pytest.mark.parametrize("make", BOTS[:2], ids=["strong", "negamax:2"])
@pytest.mark.parametrize("seat", [0, 1])
def test_connect_four_bots_beat_random(make: Callable[[int], Agent], seat: int) -> None:
    agents: list[Agent] = [RandomAgent(seed=seat), RandomAgent(seed=seat)]
    agents[seat] = make(0)
    result = play_test("connect_four", agents)
    assert result.illegal_actions == 0
    assert wins_of(result, seat) >= 36, result.wins


# ----------------------------------------------------------------------- PettingZoo's own envs


def test_baselines_play_pettingzoo_tictactoe() -> None:
    result = play_test(tictactoe_v3.env, [RandomAgent(seed=1), TicTacToeMinimax(seed=0)], episodes=20)
    assert result.illegal_actions == 0 and result.num_episodes == 20
    assert wins_of(result, 0) == 0 and wins_of(result, 1) > 0
    result = play_test(tictactoe_v3.env, [TicTacToeMinimax(seed=0), TicTacToeMinimax(seed=1)], episodes=8)
    assert result.illegal_actions == 0 and result.draws == 8


def test_baselines_play_pettingzoo_connect_four() -> None:
    result = play_test(connect_four_v3.env, [ConnectFourStrong(seed=0), RandomAgent(seed=0)], episodes=12)
    assert result.illegal_actions == 0 and wins_of(result, 0) >= 10
    result = play_test(connect_four_v3.env, [RandomAgent(seed=0), ConnectFourNegamax(2, seed=0)], episodes=12)
    assert result.illegal_actions == 0 and wins_of(result, 1) >= 10
    result = play_test(connect_four_v3.env, [ConnectFourNegamax(2, seed=0), ConnectFourStrong(seed=0)], episodes=8)
    assert result.illegal_actions == 0 and result.num_episodes == 8
