"""Matplotlib drawing of the two-player grid games (tic-tac-toe, connect four); no display needed.

:func:`draw_grid_board` turns a board (``0`` empty, ``1`` the first player's piece, ``2`` the
second's) into an ``(H, W, 3)`` uint8 image on an Agg canvas, with a status line on top. The
games call it from ``render()`` when built with ``render_mode="rgb_array"``; saving frames as
PNG/GIF files lives in ``rbtrainer.plotting`` (``save_png``, ``save_gif``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Rectangle

__all__ = ["CONNECT_FOUR_STYLE", "TICTACTOE_STYLE", "BoardStyle", "draw_grid_board"]

_DPI = 100
_STATUS_PX = 28
"""Height of the status line above the board, in pixels."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BoardStyle:
    """How a grid game looks."""

    pieces: str
    """``"marks"`` (an X and an O in square cells) or ``"discs"`` (coloured discs in round holes)."""
    cell_px: int
    """Width and height of one cell, in pixels."""
    board_color: str
    """Colour of the board (the cells of ``"marks"``, the frame of ``"discs"``)."""
    line_color: str
    """Colour of the grid lines (``"marks"``) or of the hole rims (``"discs"``)."""
    empty_color: str
    """Colour of an empty hole (``"discs"``)."""
    piece_colors: tuple[str, str]
    """Colour of the first and the second player's pieces."""
    last_move_color: str
    """Highlight of the cell played last."""

    def __post_init__(self) -> None:
        if self.pieces not in ("marks", "discs"):
            raise ValueError(f"pieces must be 'marks' or 'discs', got {self.pieces!r}")
        if not isinstance(self.cell_px, int) or self.cell_px < 8:
            raise ValueError(f"cell_px must be an int >= 8, got {self.cell_px!r}")


TICTACTOE_STYLE = BoardStyle(
    pieces="marks",
    cell_px=80,
    board_color="#ffffff",
    line_color="#333333",
    empty_color="#ffffff",
    piece_colors=("#1f4e9c", "#c0392b"),
    last_move_color="#fff3b0",
)
CONNECT_FOUR_STYLE = BoardStyle(
    pieces="discs",
    cell_px=60,
    board_color="#1f5fbf",
    line_color="#123d7a",
    empty_color="#f4f4f4",
    piece_colors=("#e41a1c", "#ffd92f"),
    last_move_color="#111111",
)


def draw_grid_board(
    grid: np.ndarray, style: BoardStyle, status: str = "", last_move: tuple[int, int] | None = None
) -> np.ndarray:
    """The board ``grid`` (``(rows, cols)`` of 0/1/2, row 0 on top) as an ``(H, W, 3)`` uint8 image.

    ``status`` is written above the board; ``last_move`` (row, column) is highlighted.
    """
    grid_RC = np.asarray(grid)
    if grid_RC.ndim != 2 or not np.isin(grid_RC, (0, 1, 2)).all():
        raise ValueError(f"grid must be a 2-d array of 0 (empty), 1 and 2 (the players' pieces), got {grid!r}")
    rows, cols = grid_RC.shape
    px = style.cell_px
    width, height = cols * px, rows * px + _STATUS_PX
    fig = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, rows * px / height))
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    if style.pieces == "marks":
        _draw_marks(ax, grid_RC, style, last_move)
    else:
        _draw_discs(ax, grid_RC, style, last_move)
    fig.text(0.5, 1 - 0.5 * _STATUS_PX / height, status, ha="center", va="center", fontsize=10)
    canvas.draw()
    image = np.asarray(canvas.buffer_rgba())[:, :, :3].copy()
    fig.clear()
    return image


def _draw_marks(ax: Axes, grid: np.ndarray, style: BoardStyle, last_move: tuple[int, int] | None) -> None:
    rows, cols = grid.shape
    add_patch, add_line = ax.add_patch, ax.add_line
    add_patch(Rectangle((0, 0), cols, rows, facecolor=style.board_color, edgecolor="none"))
    if last_move is not None:
        r, c = last_move
        add_patch(Rectangle((c, r), 1, 1, facecolor=style.last_move_color, edgecolor="none"))
    for k in range(1, cols):
        add_line(Line2D([k, k], [0.04, rows - 0.04], color=style.line_color, lw=3))
    for k in range(1, rows):
        add_line(Line2D([0.04, cols - 0.04], [k, k], color=style.line_color, lw=3))
    inset = 0.22
    for r, c in zip(*np.nonzero(grid)):
        color = style.piece_colors[int(grid[r, c]) - 1]
        if grid[r, c] == 1:  # X
            add_line(Line2D([c + inset, c + 1 - inset], [r + inset, r + 1 - inset], color=color, lw=5))
            add_line(Line2D([c + inset, c + 1 - inset], [r + 1 - inset, r + inset], color=color, lw=5))
        else:  # O
            add_patch(Circle((c + 0.5, r + 0.5), 0.5 - inset, facecolor="none", edgecolor=color, lw=5))


def _draw_discs(ax: Axes, grid: np.ndarray, style: BoardStyle, last_move: tuple[int, int] | None) -> None:
    rows, cols = grid.shape
    ax.add_patch(Rectangle((0, 0), cols, rows, facecolor=style.board_color, edgecolor="none"))
    colors = (style.empty_color, *style.piece_colors)
    holes, faces, edges, widths = [], [], [], []
    for r in range(rows):
        for c in range(cols):
            last = last_move is not None and (r, c) == tuple(last_move)
            holes.append(Circle((c + 0.5, r + 0.5), 0.4))
            faces.append(colors[int(grid[r, c])])
            edges.append(style.last_move_color if last else style.line_color)
            widths.append(3.0 if last else 1.5)
    ax.add_collection(PatchCollection(holes, facecolors=faces, edgecolors=edges, linewidths=widths))
