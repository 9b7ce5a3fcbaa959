"""Many tic-tac-toe or connect-four games stepped together by one NumPy program.

:class:`BatchBoardRules` holds ``num_games`` games of a k-in-a-row board game in arrays (a board
row of int8 cells per game, the player to move, the moves played, the winner, whether it is over)
and plays one move in each of many games per call: the legal masks, the observation planes and
the win test (a precomputed table of the lines through each cell) are vectorised over games.
:class:`BatchTicTacToeRules` and :class:`BatchConnectFourRules` are the twins of
:class:`~games.tictactoe.TicTacToeRules` and :class:`~games.connect_four.ConnectFourRules` under
the AEC layer of :mod:`games.two_player`, not new rule books: game ``g`` given the same moves as
an env shows each seat the same observation (its ``(rows, cols, 2)`` planes, as float32, as the
per-game pools show them) and the same mask, gives the same rewards (+1 / -1 to the winner / loser
when the game ends, 0 otherwise) and reports the same winner and length
(``tests/test_board_batch.py`` checks this game for game). The games have no randomness: a reset's
seed is checked as the envs check it, then ignored.

The envs offer them as ``batch_rules(num_games)``, the batch-native twin the trainer's in-process
pools step instead of one env per game (:mod:`rbtrainer.envs.batch_pool`); agents see the same
arrays, of the same shape, on either path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from games.inputs import check_seed

__all__ = ["BatchBoardRules", "BatchConnectFourRules", "BatchTicTacToeRules", "lines_through_cells"]


def lines_through_cells(rows: int, cols: int, connect: int) -> np.ndarray:
    """``(cells, L, connect)`` int64: the row-major cells of every line of ``connect`` cells (a row,
    column or diagonal window) through each cell; cells on fewer than ``L`` lines repeat their first."""
    lines = []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        for r in range(rows):
            for c in range(cols):
                cells = [(r + k * dr, c + k * dc) for k in range(connect)]
                if all(0 <= rr < rows and 0 <= cc < cols for rr, cc in cells):
                    lines.append([rr * cols + cc for rr, cc in cells])
    through = [[line for line in lines if cell in line] for cell in range(rows * cols)]
    if not all(through):
        raise ValueError(f"a {rows}x{cols} board has cells on no line of {connect}")
    width = max(len(t) for t in through)
    return np.array([t + [t[0]] * (width - len(t)) for t in through], dtype=np.int64)


class BatchBoardRules:
    """``num_games`` games of a two-player k-in-a-row board game; reset a game before playing it.

    ``gravity``: an action names a column and the piece falls to its lowest empty cell (connect
    four); otherwise an action names a cell (tic-tac-toe). ``seat_names``: the env's agents, first
    mover first (winners are reported by these names); ``name``: the env's ``metadata["name"]``.

    State arrays (read them, do not write them): ``board`` (games x cells, int8: 0 empty, else
    player + 1, cells row-major with row 0 on top), ``heights`` (games x columns, pieces per
    column), and per game ``to_move`` (the seat to move), ``moves``, ``winner`` (seat, -1 for
    none) and ``over``.
    """

    num_seats = 2

    def __init__(
        self,
        num_games: int,
        rows: int,
        cols: int,
        connect: int,
        gravity: bool,
        seat_names: Sequence[str],
        name: str,
    ) -> None:
        if isinstance(num_games, bool) or not isinstance(num_games, (int, np.integer)) or num_games < 1:
            raise ValueError(f"num_games must be an int >= 1, got {num_games!r}")
        if len(seat_names) != 2:
            raise ValueError(f"a two-player game needs two seat names, got {list(seat_names)}")
        self.num_games = g = int(num_games)
        self.rows, self.cols, self.connect, self.gravity = rows, cols, connect, gravity
        self.num_cells = rows * cols
        self.num_actions = cols if gravity else self.num_cells
        self.seat_names = tuple(seat_names)
        self.name = name
        self._noun = "column" if gravity else "square"
        self._lines = lines_through_cells(rows, cols, connect)
        self.board = np.zeros((g, self.num_cells), dtype=np.int8)
        self.heights = np.zeros((g, cols), dtype=np.int64)
        self.to_move = np.zeros(g, dtype=np.int64)
        self.moves = np.zeros(g, dtype=np.int64)
        self.winner = np.full(g, -1, dtype=np.int64)
        self.over = np.zeros(g, dtype=bool)
        self.started = np.zeros(g, dtype=bool)

    # ------------------------------------------------------------------ setup
    def reset(self, games: Sequence[int] | np.ndarray, seeds: Sequence[int | None]) -> None:
        """Start a new game in each of ``games``; each seed is checked as the env's ``reset`` checks
        it (``None`` or a non-negative int), then ignored: the games have no randomness."""
        games = self._indices(games)
        if len(seeds) != len(games):
            raise ValueError(f"reset needs one seed per game: {len(games)} games, {len(seeds)} seeds")
        for seed in seeds:
            check_seed(seed, self.name)
        self.board[games] = 0
        self.heights[games] = 0
        self.to_move[games] = 0
        self.moves[games] = 0
        self.winner[games] = -1
        self.over[games] = False
        self.started[games] = True

    def _indices(self, games: Sequence[int] | np.ndarray) -> np.ndarray:
        games = np.asarray(games, dtype=np.int64).reshape(-1)
        if len(games) and (games.min() < 0 or games.max() >= self.num_games):
            raise ValueError(f"games must be indices in 0..{self.num_games - 1}, got {games.tolist()}")
        return games

    # ----------------------------------------------------------- inspection
    def legal(self, games: np.ndarray) -> np.ndarray:
        """The int8 legal moves (games x actions) of ``games``, whoever is to move and over or not."""
        if self.gravity:
            return (self.heights[games] < self.rows).view(np.int8)
        return (self.board[games] == 0).view(np.int8)

    def masks(self, games: np.ndarray, seats: np.ndarray) -> np.ndarray:
        """The int8 action masks (games x actions) ``seats`` see in ``games``: the legal moves for the
        seat to move in a game that is not over, all zeros otherwise (as the env's ``observe``)."""
        games = np.asarray(games, dtype=np.int64)
        moving = (np.asarray(seats) == self.to_move[games]) & ~self.over[games]
        return self.legal(games) * moving[:, None].view(np.int8)

    def observations(self, games: np.ndarray, seats: np.ndarray) -> np.ndarray:
        """The float32 views (games x rows x cols x 2) of ``seats`` in ``games``: the env's ``(rows, cols, 2)``
        planes (the seat's own pieces, then the opponent's), as the per-game pools show them."""
        games = np.asarray(games, dtype=np.int64)
        seats = np.asarray(seats, dtype=np.int64)
        board = self.board[games]
        planes = np.empty((len(games), self.num_cells, 2), dtype=np.float32)
        np.equal(board, (seats + 1)[:, None], out=planes[:, :, 0], casting="unsafe")
        np.equal(board, (2 - seats)[:, None], out=planes[:, :, 1], casting="unsafe")
        return planes.reshape(len(games), self.rows, self.cols, 2)

    # ------------------------------------------- many-games interface of the trainer's pools
    def acting(self, games: np.ndarray) -> np.ndarray:
        """The seat to move in each of ``games``."""
        return self.to_move[games]

    def ended(self, games: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(terminated, truncated)`` of ``games``: a game ends by a win or a full board, never by a limit."""
        return self.over[games], np.zeros(len(games), dtype=bool)

    def outcome(self, game: int) -> tuple[str | None, float]:
        """The winner (its seat name, ``None`` for a draw) and the moves played in ``game``."""
        winner = int(self.winner[game])
        return (None if winner < 0 else self.seat_names[winner]), float(self.moves[game])

    def play(self, games: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Play ``actions[i]`` for the seat to move in game ``games[i]``; returns every seat's reward
        (games x seats, float64): +1 for the winner and -1 for the loser of a game this move won.

        Raises, naming the first game at fault, and changes nothing then: ``TypeError`` for actions
        that are not integers, ``ValueError`` for a game listed twice, a game that is over or was
        never reset, an action out of range and an illegal move (an occupied square, a full column),
        as the rules classes refuse them.
        """
        games = self._indices(games)
        act = np.asarray(actions).reshape(-1)
        if act.dtype.kind not in "iu":
            raise TypeError(f"actions must be integers in 0..{self.num_actions - 1}, got dtype {act.dtype}")
        if len(act) != len(games):
            raise ValueError(f"play needs one action per game: {len(games)} games, {len(act)} actions")
        if len(games) == 0:
            return np.zeros((0, self.num_seats))
        act = act.astype(np.int64, copy=False)
        self._check_moves(games, act)
        player = self.to_move[games]
        if self.gravity:
            height = self.heights[games, act]
            cell = (self.rows - 1 - height) * self.cols + act
            self.heights[games, act] = height + 1
        else:
            cell = act
        self.board[games, cell] = (player + 1).astype(np.int8)
        moves = self.moves[games] + 1
        self.moves[games] = moves
        # the mover won if one of the lines through the new piece is all its pieces
        lines = self.board[games[:, None, None], self._lines[cell]]
        won = (lines == (player + 1)[:, None, None]).all(axis=2).any(axis=1)
        over = won | (moves == self.num_cells)
        self.over[games] = over
        self.winner[games[won]] = player[won]
        self.to_move[games] = 1 - player
        rewards = np.zeros((len(games), self.num_seats))
        if won.any():
            rows = np.flatnonzero(won)
            rewards[rows, player[rows]] = 1.0
            rewards[rows, 1 - player[rows]] = -1.0
        return rewards

    def _check_moves(self, games: np.ndarray, act: np.ndarray) -> None:
        if len(games) > 1 and np.bincount(games).max() > 1:
            raise ValueError(f"a game may be played once per call, got games {games.tolist()}")
        dead = self.over[games] | ~self.started[games]
        if dead.any():
            g = int(games[np.flatnonzero(dead)[0]])
            raise ValueError(f"game {g} is over or was never reset; reset it before playing it")
        out = (act < 0) | (act >= self.num_actions)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise ValueError(
                f"game {games[i]}: action must be a {self._noun} index in 0..{self.num_actions - 1}, got {act[i]}"
            )
        illegal = self.legal(games)[np.arange(len(games)), act] == 0
        if illegal.any():
            i = int(np.flatnonzero(illegal)[0])
            taken = "is full" if self.gravity else "is already taken"
            raise ValueError(
                f"game {games[i]}: {self._noun} {act[i]} {taken}; pick a {self._noun} whose action_mask entry is 1"
            )


class BatchTicTacToeRules(BatchBoardRules):
    """``num_games`` tic-tac-toe games: the twin of :class:`~games.tictactoe.TicTacToeEnv`'s rules."""

    def __init__(
        self, num_games: int, seat_names: Sequence[str] = ("player_1", "player_2"), name: str = "tictactoe_v0"
    ) -> None:
        super().__init__(num_games, 3, 3, 3, gravity=False, seat_names=seat_names, name=name)


class BatchConnectFourRules(BatchBoardRules):
    """``num_games`` connect-four games: the twin of :class:`~games.connect_four.ConnectFourEnv`'s rules."""

    def __init__(
        self, num_games: int, seat_names: Sequence[str] = ("player_0", "player_1"), name: str = "connect_four_v0"
    ) -> None:
        super().__init__(num_games, 6, 7, 4, gravity=True, seat_names=seat_names, name=name)
