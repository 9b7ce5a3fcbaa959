"""Tests of ``rbtrainer.evaluation.tactics``: connect-four wins taken and threats blocked.

Positions are built with the game's own rules (``games.connect_four``); the counts of whole
tournaments are checked against what the rule-based bot does by construction.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from test_baselines import c4_rules  # a position from its bottom rows, X to move

from rbtrainer import Agent, DecentralizedTrainer, RandomAgent
from rbtrainer.evaluation import ConnectFourStrong, TacticsCount, TacticsRecorder, connect_four_tactics, tournament


class Column(Agent):
    """Plays one fixed column."""

    def __init__(self, column: int) -> None:
        self.column, self.name = column, f"column{column}"

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        pass

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        return np.full(len(mask), self.column, dtype=np.int64)


def counts_after(column: int, *rows: str) -> tuple[TacticsCount, TacticsCount]:
    recorder = TacticsRecorder(Column(column))
    rules = c4_rules(*rows)
    obs = rules.planes(0)[None].astype(np.float32)
    action = recorder.act(obs, np.array([rules.legal_mask()], dtype=np.int8), np.zeros(1, bool))
    assert action.tolist() == [column]  # it plays as the agent it wraps
    return recorder.first, recorder.second


WIN = ("...O...", ".OOO...", ".XXX...")  # 7 pieces: X (second mover) wins at 0 or 4
BLOCK = ("X......", "OOO.XX.")  # 6 pieces: X (first mover) must block at 3
DOUBLE = (".OOO.XX",)  # 5 pieces: O wins at 0 and at 4 whatever X (second mover) does
QUIET = ("OX..XO.",)  # 4 pieces: nothing to take or block


def test_a_win_available_is_counted_before_the_threats() -> None:
    first, second = counts_after(4, *WIN)
    assert first == TacticsCount(0, 0, 0, 0, 0, 0)
    assert second == TacticsCount(moves=1, wins_available=1, wins_taken=1, threats=0, blocks=0, double_threats=0)
    assert counts_after(6, *WIN)[1].wins_taken == 0


def test_single_and_double_threats() -> None:
    assert counts_after(3, *BLOCK)[0] == TacticsCount(1, 0, 0, 1, 1, 0)
    missed = counts_after(6, *BLOCK)[0]
    assert (missed.threats, missed.blocks, missed.block_rate) == (1, 0, 0.0)
    assert counts_after(0, *DOUBLE) == (TacticsCount(0, 0, 0, 0, 0, 0), TacticsCount(1, 0, 0, 0, 0, 1))
    quiet = counts_after(3, *QUIET)[0]
    assert quiet == TacticsCount(1, 0, 0, 0, 0, 0)
    assert math.isnan(quiet.win_rate) and math.isnan(quiet.block_rate)


@pytest.fixture(scope="module")
def four() -> DecentralizedTrainer:
    return DecentralizedTrainer({"game": "connect_four"}, num_test_envs=4, seed=0, progress_bar=False)


def test_the_rule_based_bot_takes_every_win_and_blocks_every_single_threat(four: DecentralizedTrainer) -> None:
    tactics = connect_four_tactics(four, ConnectFourStrong(), RandomAgent(), 30, seed=1)
    for count in (tactics.first, tactics.second):
        assert count.wins_available > 0 and count.win_rate == 1.0
        assert count.blocks == count.threats
    assert tactics.first.threats + tactics.second.threats > 0
    # every move of the agent is counted once, in its seat: ceil(length / 2) moving first
    for seat, count in enumerate((tactics.first, tactics.second)):
        games = [g for g in tactics.result.games if g.seating[seat] == 0]
        assert len(games) == 30
        assert count.moves == sum((g.length + 1 - seat) // 2 for g in games)
    assert tactics.table().splitlines()[1].split()[:3] == [
        "first",
        str(tactics.first.moves),
        f"{tactics.first.wins_taken}/{tactics.first.wins_available}",
    ]


def test_a_random_agent_misses_wins_and_blocks(four: DecentralizedTrainer) -> None:
    tactics = connect_four_tactics(four, RandomAgent(), ConnectFourStrong(), 30, seed=1)
    assert tactics.first.win_rate + tactics.second.win_rate < 1.0
    assert tactics.first.blocks + tactics.second.blocks < tactics.first.threats + tactics.second.threats


def test_same_seed_same_counts(four: DecentralizedTrainer) -> None:
    runs = [connect_four_tactics(four, RandomAgent(), ConnectFourStrong(), 10, seed=5) for _ in range(2)]
    assert (runs[0].first, runs[0].second) == (runs[1].first, runs[1].second)


def test_bad_input_fails_before_any_game(four: DecentralizedTrainer) -> None:
    ttt = DecentralizedTrainer({"game": "tictactoe"}, num_test_envs=2, progress_bar=False)
    with pytest.raises(ValueError, match="connect four only"):
        connect_four_tactics(ttt, RandomAgent(), RandomAgent(), 2)
    with pytest.raises(ValueError, match="cannot play seat"):
        tournament(ttt, {"a": TacticsRecorder(RandomAgent()), "b": RandomAgent()}, 2)
    with pytest.raises(TypeError, match="agent must be an rbtrainer Agent"):
        TacticsRecorder("strong")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="opponent must be an rbtrainer Agent"):
        connect_four_tactics(four, RandomAgent(), "strong", 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="games_per_seating"):
        connect_four_tactics(four, RandomAgent(), RandomAgent(), 0)
