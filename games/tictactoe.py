"""Tic-tac-toe, headless, with the observation and action conventions of PettingZoo's
``tictactoe_v3``: agents ``player_1`` (moves first) and ``player_2``; action ``i`` marks square
``i`` of the row-major 3x3 board; the observation is ``(3, 3, 2)`` int8 planes."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from games.board_batch import BatchTicTacToeRules
from games.board_search import BoardSearchRules
from games.two_player import TwoPlayerBoardEnv

__all__ = ["TicTacToeEnv", "TicTacToeRules", "env", "raw_env"]

LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))
"""The rows, columns and diagonals of the board, as square indices (row-major)."""


class TicTacToeRules:
    """Board state and rules; players are 0 and 1, squares hold 0 (empty) or player + 1."""

    num_actions = 9
    plane_shape = (3, 3)

    def __init__(self) -> None:
        self.squares = [0] * 9
        self.winner: int | None = None
        self.over = False
        self.last_cell: tuple[int, int] | None = None

    def reset(self) -> None:
        self.squares = [0] * 9
        self.winner = None
        self.over = False
        self.last_cell = None

    def legal_mask(self) -> list[int]:
        return [int(s == 0) for s in self.squares]

    def play(self, player: int, action: int) -> None:
        if self.over:
            raise ValueError("the game is over; call reset() to start a new one")
        if not 0 <= action < 9:
            raise ValueError(f"action must be a square index in 0..8, got {action}")
        if self.squares[action] != 0:
            raise ValueError(f"square {action} is already taken; pick a square whose action_mask entry is 1")
        mark = player + 1
        self.squares[action] = mark
        self.last_cell = divmod(action, 3)
        if any(all(self.squares[i] == mark for i in line) for line in LINES):
            self.winner, self.over = player, True
        elif 0 not in self.squares:
            self.over = True

    def planes(self, player: int) -> np.ndarray:
        board = np.array(self.squares, dtype=np.int8).reshape(3, 3)
        out = np.empty((3, 3, 2), dtype=np.int8)
        out[:, :, 0] = board == player + 1
        out[:, :, 1] = board == 2 - player
        return out

    def render_text(self) -> str:
        symbols = ".XO"
        rows = ["".join(symbols[s] for s in self.squares[r * 3 : r * 3 + 3]) for r in range(3)]
        return "\n".join(rows)


class TicTacToeEnv(TwoPlayerBoardEnv):
    metadata: ClassVar[dict[str, Any]] = {**TwoPlayerBoardEnv.metadata, "name": "tictactoe_v0"}
    agent_names = ("player_1", "player_2")

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(TicTacToeRules(), render_mode=render_mode)

    def batch_rules(self, num_games: int) -> BatchTicTacToeRules:
        """``num_games`` games in one NumPy program: the batch-native twin the trainer's in-process
        pools step instead of one env per game."""
        return BatchTicTacToeRules(num_games, tuple(self.possible_agents), self.metadata["name"])

    def search_rules(self) -> BoardSearchRules:
        """The rules as pure functions of many mover-relative positions, for agents that plan."""
        return BoardSearchRules(3, 3, 3, gravity=False)


raw_env = TicTacToeEnv


def env(**kwargs: Any) -> AECEnv:
    """Tic-tac-toe wrapped in PettingZoo's order-enforcing wrapper."""
    return wrappers.OrderEnforcingWrapper(TicTacToeEnv(**kwargs))
