"""Connect four, headless, with the conventions of PettingZoo's ``connect_four_v3``: agents
``player_0`` (moves first) and ``player_1``; action ``c`` drops a piece in column ``c`` of a
6x7 board; the observation is ``(6, 7, 2)`` int8 planes (row 0 is the top)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from games.board_batch import BatchConnectFourRules
from games.board_search import BoardSearchRules
from games.two_player import TwoPlayerBoardEnv

if TYPE_CHECKING:
    from games.board_render import BoardStyle

__all__ = ["ConnectFourEnv", "ConnectFourRules", "env", "raw_env"]

ROWS, COLS = 6, 7


class ConnectFourRules:
    """Board state and rules; ``cells[r][c]`` holds 0 (empty) or player + 1, row 0 on top."""

    num_actions = COLS
    plane_shape = (ROWS, COLS)

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.cells = [[0] * COLS for _ in range(ROWS)]
        self.heights = [0] * COLS
        self.winner: int | None = None
        self.over = False
        self.last_cell: tuple[int, int] | None = None

    def legal_mask(self) -> list[int]:
        return [int(h < ROWS) for h in self.heights]

    def play(self, player: int, action: int) -> None:
        if self.over:
            raise ValueError("the game is over; call reset() to start a new one")
        if not 0 <= action < COLS:
            raise ValueError(f"action must be a column index in 0..{COLS - 1}, got {action}")
        if self.heights[action] >= ROWS:
            raise ValueError(f"column {action} is full; pick a column whose action_mask entry is 1")
        row = ROWS - 1 - self.heights[action]
        self.heights[action] += 1
        mark = player + 1
        self.cells[row][action] = mark
        self.last_cell = (row, action)
        if self._connects(row, action, mark):
            self.winner, self.over = player, True
        elif all(h == ROWS for h in self.heights):
            self.over = True

    def _connects(self, row: int, col: int, mark: int) -> bool:
        cells = self.cells
        for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
            count = 1
            for sign in (1, -1):
                r, c = row + sign * dr, col + sign * dc
                while 0 <= r < ROWS and 0 <= c < COLS and cells[r][c] == mark:
                    count += 1
                    r, c = r + sign * dr, c + sign * dc
            if count >= 4:
                return True
        return False

    def planes(self, player: int) -> np.ndarray:
        board = np.array(self.cells, dtype=np.int8)
        return np.stack([board == player + 1, board == 2 - player], axis=2).astype(np.int8)

    def render_text(self) -> str:
        symbols = ".XO"
        return "\n".join("".join(symbols[v] for v in row) for row in self.cells)


class ConnectFourEnv(TwoPlayerBoardEnv):
    metadata: ClassVar[dict[str, Any]] = {**TwoPlayerBoardEnv.metadata, "name": "connect_four_v0"}
    agent_names = ("player_0", "player_1")
    piece_names = ("red", "yellow")

    @classmethod
    def board_style(cls) -> BoardStyle:
        from games.board_render import CONNECT_FOUR_STYLE

        return CONNECT_FOUR_STYLE

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(ConnectFourRules(), render_mode=render_mode)

    def batch_rules(self, num_games: int) -> BatchConnectFourRules:
        """``num_games`` games in one NumPy program: the batch-native twin the trainer's in-process
        pools step instead of one env per game."""
        return BatchConnectFourRules(num_games, tuple(self.possible_agents), self.metadata["name"])

    def search_rules(self) -> BoardSearchRules:
        """The rules as pure functions of many mover-relative positions, for agents that plan."""
        return BoardSearchRules(6, 7, 4, gravity=True)


raw_env = ConnectFourEnv


def env(**kwargs: Any) -> AECEnv:
    """Connect four wrapped in PettingZoo's order-enforcing wrapper."""
    return wrappers.OrderEnforcingWrapper(ConnectFourEnv(**kwargs))
