"""Baseline opponents for the classic board games: tic-tac-toe minimax, connect-four bots.

Connect four has three: the rule-based :class:`ConnectFourStrong`, the depth-limited
:class:`ConnectFourNegamax` and :class:`ConnectFourOpportunist` (random, but it never misses a
win). They read the observations of our games and of PettingZoo's ``tictactoe_v3`` /
``connect_four_v3`` (identical): int8 planes ``(H, W, 2)``, plane 0 the pieces of the player to
move, plane 1 the opponent's, given to :meth:`Agent.act` as float32 ``(B, H, W, 2)`` or flattened
``(B, H*W*2)``.
They honour the action mask, play either seat, ignore ``explore`` and draw their random
tie-breaks from their own generator.

Boards are bitmasks. Tic-tac-toe: bit ``i`` is square ``i`` (row-major). Connect four: the classic
layout of 7 bits per column (6 cells from the bottom up, then an always-empty sentinel bit), so
cell (row ``r`` from the top, column ``c``) is bit ``7 * c + 5 - r``.
"""

from __future__ import annotations

import functools
from abc import abstractmethod
from typing import ClassVar

import gymnasium as gym
import numpy as np

from games.tictactoe import LINES as TICTACTOE_LINES
from rbtrainer.agents.base import Agent, check_discrete, flat_obs_dim

__all__ = [
    "CONNECT_FOUR_BIT_OF_CELL",
    "CONNECT_FOUR_COLUMNS",
    "CONNECT_FOUR_ROWS",
    "TICTACTOE_FULL",
    "ConnectFourNegamax",
    "ConnectFourOpportunist",
    "ConnectFourStrong",
    "TicTacToeMinimax",
    "bitboards",
    "connect_four_wins",
    "tictactoe_best_moves",
    "tictactoe_is_win",
    "tictactoe_planes",
    "tictactoe_squares",
    "tictactoe_value",
]


def bitboards(obs: np.ndarray, batch: int, bit_of_cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bitboards of the player to move and of the opponent, one per row of ``obs`` (planes ``(H, W, 2)``
    per row, flattened or not); ``bit_of_cell``: the ``(H, W)`` bit each cell stands for."""
    height, width = bit_of_cell.shape
    if obs.size != batch * height * width * 2:
        raise ValueError(
            f"obs must hold {batch} observations of {height}x{width}x2 values (shape (B, {height}, {width}, 2) "
            f"or (B, {height * width * 2})), got shape {obs.shape}"
        )
    planes = obs.reshape(batch, height, width, 2) > 0.5
    return (planes[..., 0] * bit_of_cell).sum(axis=(1, 2)), (planes[..., 1] * bit_of_cell).sum(axis=(1, 2))


class _BoardBot(Agent):
    """Shared plumbing: own generator, space check, batch to bitboards, one choice per row."""

    game: ClassVar[str]
    shape: ClassVar[tuple[int, int]]
    num_actions: ClassVar[int]
    bit_of_cell: ClassVar[np.ndarray]
    """``(H, W)`` int64: the bit each cell stands for in this game's bitboards."""

    def __init__(self, seed: int | None, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        self.name = name
        self._rng = np.random.default_rng(seed)

    def seed(self, seed: int | None) -> None:
        self._rng = np.random.default_rng(seed)

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        actions, values = check_discrete(action_space), flat_obs_dim(observation_space)
        height, width = self.shape
        if (actions, values) != (self.num_actions, height * width * 2):
            raise ValueError(
                f"{type(self).__name__} plays {self.game} ({self.num_actions} actions, observations of "
                f"{height}x{width}x2 values); got {actions} actions and {values} observation values"
            )

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        mask_BA = np.asarray(mask)
        if mask_BA.ndim != 2 or mask_BA.shape[1] != self.num_actions:
            raise ValueError(f"mask must have shape (B, {self.num_actions}), got {mask_BA.shape}")
        own_B, opp_B = bitboards(np.asarray(obs), len(mask_BA), self.bit_of_cell)
        act_B = np.zeros(len(mask_BA), dtype=np.int64)
        for i, row in enumerate(mask_BA):
            legal = np.flatnonzero(row > 0).tolist()
            if legal:
                act_B[i] = self._choose(int(own_B[i]), int(opp_B[i]), legal)
        return act_B

    @abstractmethod
    def _choose(self, own: int, opp: int, legal: list[int]) -> int:
        """The action for one position (``legal`` is non-empty)."""

    def _pick(self, moves: list[int]) -> int:
        return moves[0] if len(moves) == 1 else int(self._rng.choice(moves))


# ------------------------------------------------------------------------------------ tic-tac-toe
_TTT_LINES = tuple(sum(1 << i for i in line) for line in TICTACTOE_LINES)
"""The rows, columns and diagonals as bitmasks (the lines of :mod:`games.tictactoe`'s rules)."""
TICTACTOE_FULL = (1 << 9) - 1
"""The tic-tac-toe bitboard with every square marked."""


def tictactoe_is_win(bits: int) -> bool:
    """Whether the squares of ``bits`` contain a line (the rules of :mod:`games.tictactoe`)."""
    return any(bits & line == line for line in _TTT_LINES)


def tictactoe_squares(bits: int) -> list[int]:
    """The squares marked in the tic-tac-toe bitboard ``bits``, ascending."""
    return [i for i in range(9) if bits >> i & 1]


@functools.cache
def _ttt_score(own: int, opp: int) -> int:
    """Minimax score for the player to move: 0 for a draw, ``±(1 + empty squares)`` at the end of a
    won or lost game, so its sign is the game's value and a quicker win (a slower loss) scores more."""
    free = TICTACTOE_FULL & ~(own | opp)
    empty = free.bit_count()
    if tictactoe_is_win(opp):  # the last move won
        return -1 - empty
    if tictactoe_is_win(own):
        return 1 + empty
    if not free:
        return 0
    return max(-_ttt_score(opp, own | 1 << i) for i in tictactoe_squares(free))


def _ttt_value(own: int, opp: int) -> int:
    score = _ttt_score(own, opp)
    return (score > 0) - (score < 0)


def _ttt_best_among(own: int, opp: int, moves: list[int]) -> list[int]:
    """The moves of ``moves`` with the best value; among them the quickest wins (slowest losses)."""
    scores = [-_ttt_score(opp, own | 1 << m) for m in moves]
    best = max(scores)
    return [m for m, s in zip(moves, scores) if s == best]


def _check_ttt_position(own: int, opp: int) -> None:
    for argument, bits in (("own", own), ("opp", opp)):
        if not isinstance(bits, (int, np.integer)) or isinstance(bits, bool) or not 0 <= bits <= TICTACTOE_FULL:
            raise ValueError(f"{argument} must be a 9-bit board (int in 0..{TICTACTOE_FULL}), got {bits!r}")
    if own & opp:
        raise ValueError(f"own and opp share squares {tictactoe_squares(own & opp)}")


def tictactoe_value(own: int, opp: int) -> int:
    """Game-theoretic value (-1, 0 or +1) for the player to move, whose marks are ``own``.

    ``own``/``opp``: bitmasks, bit ``i`` = square ``i``. A finished game scores its result
    (a line of ``opp`` is a loss, a line of ``own`` a win, a full board a draw).
    """
    _check_ttt_position(own, opp)
    return _ttt_value(int(own), int(opp))


def tictactoe_best_moves(own: int, opp: int) -> list[int]:
    """All squares with the best value for the player to move (ascending; empty if the game is over)."""
    _check_ttt_position(own, opp)
    own, opp = int(own), int(opp)
    free = TICTACTOE_FULL & ~(own | opp)
    if not free or tictactoe_is_win(own) or tictactoe_is_win(opp):
        return []
    return _ttt_best_among(own, opp, tictactoe_squares(free))


def tictactoe_planes(own: int, opp: int) -> np.ndarray:
    """The ``(3, 3, 2)`` int8 observation of the player whose marks are ``own``."""
    bits = np.arange(9)
    return np.stack([own >> bits & 1, opp >> bits & 1], axis=1).reshape(3, 3, 2).astype(np.int8)


class TicTacToeMinimax(_BoardBot):
    """Perfect tic-tac-toe: exact (memoised) minimax, uniformly random among the best legal moves.

    Among moves of equal value it takes the quickest win (or the slowest loss).
    """

    game = "tic-tac-toe"
    shape = (3, 3)
    num_actions = 9
    bit_of_cell = (1 << np.arange(9, dtype=np.int64)).reshape(3, 3)

    def __init__(self, seed: int | None = None, name: str = "minimax") -> None:
        super().__init__(seed, name)

    def _choose(self, own: int, opp: int, legal: list[int]) -> int:
        return self._pick(_ttt_best_among(own, opp, legal))


# ----------------------------------------------------------------------------------- connect four
CONNECT_FOUR_ROWS, CONNECT_FOUR_COLUMNS = 6, 7
"""The connect-four board's rows and columns."""
_BOTTOM = tuple(1 << (7 * c) for c in range(CONNECT_FOUR_COLUMNS))
_COLUMN = tuple(((1 << CONNECT_FOUR_ROWS) - 1) << (7 * c) for c in range(CONNECT_FOUR_COLUMNS))
_TOP = tuple(1 << (7 * c + CONNECT_FOUR_ROWS - 1) for c in range(CONNECT_FOUR_COLUMNS))
_CENTRE_FIRST = (3, 2, 4, 1, 5, 0, 6)
CONNECT_FOUR_BIT_OF_CELL = np.array(
    [[1 << (7 * c + CONNECT_FOUR_ROWS - 1 - r) for c in range(CONNECT_FOUR_COLUMNS)] for r in range(CONNECT_FOUR_ROWS)],
    dtype=np.int64,
)
"""``(6, 7)`` int64: the bit each cell (row from the top, column) stands for in connect-four bitboards."""


def _c4_windows() -> tuple[int, ...]:
    """Every 4-cell line of the board as a bitmask."""
    windows = []
    for c in range(CONNECT_FOUR_COLUMNS):
        for r in range(CONNECT_FOUR_ROWS):
            for dc, dr in ((1, 0), (0, 1), (1, 1), (1, -1)):
                cells = [(c + k * dc, r + k * dr) for k in range(4)]
                if all(0 <= cc < CONNECT_FOUR_COLUMNS and 0 <= rr < CONNECT_FOUR_ROWS for cc, rr in cells):
                    windows.append(sum(1 << (7 * cc + rr) for cc, rr in cells))
    return tuple(windows)


_WINDOWS = _c4_windows()
_WINDOW_SCORE = (0, 0, 2, 5, 0)
"""Heuristic worth of a window holding 0..4 pieces of one side and none of the other."""
_CENTRE_SCORE = 3
_WIN = 10_000


def _c4_won(bits: int) -> bool:
    """Whether ``bits`` holds four in a line (vertical, horizontal, both diagonals)."""
    for shift in (1, 7, 6, 8):
        pairs = bits & (bits >> shift)
        if pairs & (pairs >> (2 * shift)):
            return True
    return False


def _c4_drop(mask: int, col: int) -> int:
    """The bit a piece dropped in ``col`` lands on (0 if the column is full)."""
    return (mask + _BOTTOM[col]) & _COLUMN[col]


def connect_four_wins(bits: int, mask: int, col: int) -> bool:
    """Whether the owner of ``bits`` wins by dropping a piece in ``col`` of the board ``mask``
    (both players' pieces; connect-four bitboards, see the module docstring)."""
    drop = _c4_drop(mask, col)
    return drop != 0 and _c4_won(bits | drop)


def _c4_opens_win(opp: int, mask: int, col: int) -> bool:
    """Whether dropping in ``col`` lets the opponent (``opp``) win by playing on top of it."""
    above = (_c4_drop(mask, col) << 1) & _COLUMN[col]
    return above != 0 and _c4_won(opp | above)


class _ConnectFourBot(_BoardBot):
    game = "connect four"
    shape = (CONNECT_FOUR_ROWS, CONNECT_FOUR_COLUMNS)
    num_actions = CONNECT_FOUR_COLUMNS
    bit_of_cell = CONNECT_FOUR_BIT_OF_CELL


class ConnectFourStrong(_ConnectFourBot):
    """Rule-based connect four: win, else block, else avoid moves under an opponent's win, central first.

    Ties among equally central columns are broken at random.
    """

    def __init__(self, seed: int | None = None, name: str = "strong") -> None:
        super().__init__(seed, name)

    def _choose(self, own: int, opp: int, legal: list[int]) -> int:
        mask = own | opp
        for bits in (own, opp):  # our win first, then the opponent's win to block
            hits = [c for c in legal if connect_four_wins(bits, mask, c)]
            if hits:
                return self._central(hits)
        safe = [c for c in legal if not _c4_opens_win(opp, mask, c)]
        return self._central(safe or legal)

    def _central(self, cols: list[int]) -> int:
        nearest = min(abs(c - 3) for c in cols)
        return self._pick([c for c in cols if abs(c - 3) == nearest])


class ConnectFourOpportunist(_ConnectFourBot):
    """Connect four: a winning move when there is one, otherwise a uniformly random legal move.

    Random play that never misses a win: the weakest opponent that punishes every threat left
    unblocked (a training opponent for learning to block, and a step between ``random`` and
    :class:`ConnectFourStrong`).
    """

    def __init__(self, seed: int | None = None, name: str = "opportunist") -> None:
        super().__init__(seed, name)

    def _choose(self, own: int, opp: int, legal: list[int]) -> int:
        wins = [c for c in legal if connect_four_wins(own, own | opp, c)]
        return self._pick(wins or legal)


def _c4_evaluate(pos: int, mask: int) -> int:
    """Heuristic score for the player to move (``pos``): open windows and centre pieces."""
    opp = pos ^ mask
    centre = _COLUMN[3]
    score = _CENTRE_SCORE * ((pos & centre).bit_count() - (opp & centre).bit_count())
    for window in _WINDOWS:
        mine, theirs = (pos & window).bit_count(), (opp & window).bit_count()
        if not theirs:
            score += _WINDOW_SCORE[mine]
        elif not mine:
            score -= _WINDOW_SCORE[theirs]
    return score


def _negamax(pos: int, mask: int, depth: int, alpha: int, beta: int, ply: int) -> int:
    """Alpha-beta score for the player to move (``pos``), ``ply`` moves below the root.

    A win on move ``k`` below the root scores ``_WIN - k`` (faster wins score higher); an immediate
    win is found even at depth 0. Fails soft high, hard low.
    """
    moves = [c for c in _CENTRE_FIRST if not mask & _TOP[c]]
    if not moves:
        return 0
    if any(connect_four_wins(pos, mask, c) for c in moves):
        return _WIN - ply - 1
    if depth == 0:
        return _c4_evaluate(pos, mask)
    opp = pos ^ mask
    for c in moves:
        score = -_negamax(opp, mask | _c4_drop(mask, c), depth - 1, -beta, -alpha, ply + 1)
        if score >= beta:
            return score
        alpha = max(alpha, score)
    return alpha


class ConnectFourNegamax(_ConnectFourBot):
    """Depth-limited negamax with alpha-beta over bitboards, centre-first move ordering.

    ``depth`` counts plies (its own move included); leaves are scored by a heuristic of open
    windows of 2 and 3 pieces and centre-column pieces; a win is always seen one ply beyond the
    depth. Equally good moves are chosen among at random.
    """

    def __init__(self, depth: int = 4, seed: int | None = None, name: str | None = None) -> None:
        if not isinstance(depth, int) or isinstance(depth, bool):
            raise TypeError(f"depth must be an int, got {depth!r}")
        if not 1 <= depth <= 10:
            raise ValueError(f"depth must be in 1..10 (plies searched), got {depth}")
        self.depth = depth
        super().__init__(seed, f"negamax:{depth}" if name is None else name)

    def _choose(self, own: int, opp: int, legal: list[int]) -> int:
        mask = own | opp
        best, best_moves = -_WIN - 1, []
        for c in sorted(legal, key=lambda c: abs(c - 3)):
            drop = _c4_drop(mask, c)
            if _c4_won(own | drop):
                score = _WIN - 1
            else:  # window (best - 1, inf): scores equal to the best so far come back exact
                score = -_negamax(opp, mask | drop, self.depth - 1, -_WIN - 1, 1 - best, 1)
            if score > best:
                best, best_moves = score, [c]
            elif score == best:
                best_moves.append(c)
        return self._pick(best_moves)
