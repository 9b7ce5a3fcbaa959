"""The rules of a k-in-a-row board game as pure functions of many positions, for search.

A planning agent looks ahead from the position it is shown: it needs to copy a position, list its
legal moves and play a move in it, many positions at once, without an env. :class:`BoardSearchRules`
does that for tic-tac-toe and connect four on the position *as the player to move sees it*: an
int8 row of cells per position (0 empty, 1 the mover's piece, 2 the opponent's; row-major, row 0
on top). Playing a move puts a 1 in the cell, tells whether it won, then swaps 1 and 2 so the
row shows the next mover's view. The observation planes of the envs (``(rows, cols, 2)``: the
seat's own pieces, then the opponent's) hold exactly this, so the position is read back from the
observation the agent is given (:meth:`BoardSearchRules.positions`).

The envs offer these rules as ``search_rules()``. ``tests/test_board_search.py`` checks them move
for move against the rules classes the envs play by.
"""

from __future__ import annotations

import numpy as np

from games.board_batch import lines_through_cells

__all__ = ["BoardSearchRules"]


class BoardSearchRules:
    """Tic-tac-toe (``gravity=False``: an action is a cell) or connect four (``gravity=True``: an
    action is a column) on mover-relative positions, many at once.

    Two players alternate; a move that completes a line of ``connect`` gives its mover +1 (and its
    opponent -1); a full board is a draw. ``action_mirror`` is the action a move becomes when the
    board is mirrored left to right (:meth:`mirror_observations`).
    """

    num_players = 2

    def __init__(self, rows: int, cols: int, connect: int, gravity: bool) -> None:
        self.rows, self.cols, self.connect, self.gravity = rows, cols, connect, gravity
        self.num_cells = rows * cols
        self.num_actions = cols if gravity else self.num_cells
        self.observation_shape = (rows, cols, 2)
        self._lines = lines_through_cells(rows, cols, connect)
        if gravity:
            self.action_mirror = np.arange(cols)[::-1].copy()
        else:
            self.action_mirror = np.arange(self.num_cells).reshape(rows, cols)[:, ::-1].reshape(-1).copy()

    # ------------------------------------------------------------- views
    def positions(self, observations: np.ndarray) -> np.ndarray:
        """The positions (n x cells, int8) the movers' observations (n x rows x cols x 2) show.

        Raises ``ValueError`` for observations of another shape or with a cell held by both players.
        """
        obs = np.asarray(observations)
        if obs.shape[1:] != self.observation_shape:
            raise ValueError(
                f"observations must be of shape (n, {self.rows}, {self.cols}, 2) for this board, got {obs.shape}"
            )
        own = obs[..., 0].reshape(len(obs), -1) > 0
        other = obs[..., 1].reshape(len(obs), -1) > 0
        if (own & other).any():
            raise ValueError("an observation shows a cell held by both players; it is not a board position")
        return (own.astype(np.int8) + 2 * other.astype(np.int8)).astype(np.int8)

    def observations(self, positions: np.ndarray) -> np.ndarray:
        """The float32 planes (n x rows x cols x 2) the mover of each position sees."""
        planes = np.stack([positions == 1, positions == 2], axis=-1).astype(np.float32)
        return planes.reshape(len(positions), self.rows, self.cols, 2)

    def mirror_observations(self, observations: np.ndarray) -> np.ndarray:
        """The observations of the left-right mirrored boards."""
        return np.ascontiguousarray(observations[:, :, ::-1])

    def moves_played(self, positions: np.ndarray) -> np.ndarray:
        """Moves played so far in each position (pieces on the board)."""
        return (positions != 0).sum(axis=1)

    # -------------------------------------------------------------- rules
    def legal(self, positions: np.ndarray) -> np.ndarray:
        """Boolean legal moves (n x actions): empty cells, or columns with an empty top cell."""
        if self.gravity:
            return positions[:, : self.cols] == 0
        return positions == 0

    def play(self, positions: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Play ``actions[i]`` (legal, unchecked) in ``positions[i]``.

        Returns the next positions (the next mover's view), the mover's reward (+1 for a win, else 0)
        and whether the game is over (a win or a full board).
        """
        n = len(positions)
        rows = np.arange(n)
        nxt = positions.copy()
        if self.gravity:
            filled = (positions.reshape(n, self.rows, self.cols)[rows, :, actions] != 0).sum(axis=1)
            cell = (self.rows - 1 - filled) * self.cols + actions
        else:
            cell = np.asarray(actions, dtype=np.int64)
        nxt[rows, cell] = 1
        won = (nxt[rows[:, None, None], self._lines[cell]] == 1).all(axis=2).any(axis=1)
        over = won | (nxt != 0).all(axis=1)
        # the next mover's view: the two players' pieces swap labels
        swapped = np.where(nxt == 0, 0, 3 - nxt).astype(np.int8)
        return swapped, won.astype(np.float32), over

    def random_positions(self, count: int, pieces: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """``count`` positions (count x cells) reached from the empty board by a number of uniformly
        random moves drawn from ``pieces`` (low, high, both included); games that end on the way are
        drawn again."""
        found: list[np.ndarray] = []
        while len(found) < count:
            position, over = np.zeros((1, self.num_cells), dtype=np.int8), np.zeros(1, bool)
            for _ in range(rng.integers(*pieces, endpoint=True)):
                move = rng.choice(np.flatnonzero(self.legal(position)[0]), size=1)
                position, _, over = self.play(position, move)
                if over[0]:
                    break
            if not over[0]:
                found.append(position[0])
        return np.array(found)
