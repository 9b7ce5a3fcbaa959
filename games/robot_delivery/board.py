"""Board layouts of the robot mail-delivery game and the per-cell facts derived from them.

A layout is two square grids of the same size: a colour map (cell kinds) and a target map
(the mail number a yellow delivery cell accepts). The built-in layout is the reference board;
a custom one may be given as data or loaded from two CSV files. Everything the rules need per
cell (neighbours, colour, pocket status, the mail numbers that open a pocket) is computed once
per layout in :class:`Board` so the rules never recompute it in the step loop.

Cell indices are row-major: ``cell = y * size + x`` with ``x`` the column and ``y`` the row.
"""

from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass

__all__ = [
    "BLUE",
    "COLOR_CODES",
    "DEFAULT_LAYOUT",
    "DIRECTIONS",
    "GREEN",
    "GREY",
    "RED",
    "WHITE",
    "YELLOW",
    "Board",
    "BoardLayout",
    "board_for",
]

WHITE, GREY, GREEN, YELLOW, BLUE, RED = range(6)
#: CSV code of each cell kind, as written in the reference layout files.
COLOR_CODES: dict[str, int] = {"w": WHITE, "g": GREY, "gr": GREEN, "y": YELLOW, "b": BLUE, "r": RED}

#: Action index -> (dx, dy): 1 up, 2 down, 3 left, 4 right. Action 0 stands still.
DIRECTIONS: dict[int, tuple[int, int]] = {1: (0, -1), 2: (0, 1), 3: (-1, 0), 4: (1, 0)}

_DEFAULT_COLORS = (
    "b,g,y,g,y,g,y,g,b",
    "g,g,g,g,g,g,g,g,g",
    "y,g,w,w,w,w,w,g,y",
    "g,g,w,w,w,w,w,g,g",
    "y,g,w,w,w,w,w,g,y",
    "g,g,w,w,w,w,w,g,g",
    "y,g,w,w,w,w,w,g,y",
    "g,g,gr,g,gr,g,gr,g,g",
    "r,r,r,r,r,r,r,r,r",
)
_DEFAULT_TARGETS = (
    "0,0,4,0,7,0,5,0,0",
    "0,0,0,0,0,0,0,0,0",
    "3,0,0,0,0,0,0,0,6",
    "0,0,0,0,0,0,0,0,0",
    "2,0,0,0,0,0,0,0,8",
    "0,0,0,0,0,0,0,0,0",
    "1,0,0,0,0,0,0,0,9",
    "0,0,0,0,0,0,0,0,0",
    "0,0,0,0,0,0,0,0,0",
)


@dataclass(frozen=True)
class BoardLayout:
    """A validated board: ``colors[y][x]`` is a colour code, ``targets[y][x]`` a mail number."""

    colors: tuple[tuple[str, ...], ...]
    """Colour code per cell, rows top to bottom: one of ``w g gr y b r``."""
    targets: tuple[tuple[int, ...], ...]
    """Mail number accepted by each yellow cell; 0 on every other cell."""

    def __post_init__(self) -> None:
        size = len(self.colors)
        if size < 2:
            raise ValueError(f"layout colors: need a square grid of at least 2x2, got {size} rows")
        for name, grid in (("colors", self.colors), ("targets", self.targets)):
            if len(grid) != size or any(len(row) != size for row in grid):
                raise ValueError(
                    f"layout {name}: must be a square {size}x{size} grid like the colour map; "
                    f"got row lengths {[len(row) for row in grid]}"
                )
        seen_targets: set[int] = set()
        for y in range(size):
            for x in range(size):
                code, target = self.colors[y][x], self.targets[y][x]
                if code not in COLOR_CODES:
                    raise ValueError(
                        f"layout colors: unknown code {code!r} at (x={x}, y={y}); use one of {sorted(COLOR_CODES)}"
                    )
                if code == "y":
                    if target < 1:
                        raise ValueError(f"layout targets: yellow cell (x={x}, y={y}) needs a mail number >= 1")
                    if target in seen_targets:
                        raise ValueError(
                            f"layout targets: mail number {target} is accepted by two yellow "
                            "cells; each number needs exactly one delivery cell"
                        )
                    seen_targets.add(target)
                elif target != 0:
                    raise ValueError(
                        f"layout targets: only yellow cells carry a target, but (x={x}, y={y}) "
                        f"of colour {code!r} has {target}"
                    )
        for code, what in (("w", "white start"), ("gr", "green pick-up"), ("y", "yellow delivery")):
            if not any(code in row for row in self.colors):
                raise ValueError(f"layout colors: the board needs at least one {what} cell ({code!r})")

    @classmethod
    def from_rows(cls, colors: list[list[str]] | list[str], targets: list[list[int]] | list[str]) -> BoardLayout:
        """Build from lists of rows; a row may be a list or a comma-separated string."""

        def split(row: object) -> list[str]:
            if isinstance(row, str):
                return [cell.strip() for cell in row.split(",")]
            if isinstance(row, (list, tuple)):
                return [str(cell).strip() for cell in row]
            raise TypeError(f"layout rows must be lists or comma-separated strings, got {type(row).__name__}")

        try:
            target_rows = tuple(tuple(int(v) for v in split(row)) for row in targets)
        except ValueError as err:
            raise ValueError(f"layout targets: every entry must be an integer ({err})") from None
        return cls(colors=tuple(tuple(split(row)) for row in colors), targets=target_rows)

    @classmethod
    def from_csv(cls, colors_path: str | os.PathLike[str], targets_path: str | os.PathLike[str]) -> BoardLayout:
        """Load the two CSV files of the reference format (rows top to bottom)."""
        rows: list[list[list[str]]] = []
        for path in (colors_path, targets_path):
            with open(path, newline="", encoding="utf-8") as handle:
                rows.append([row for row in csv.reader(handle) if row])
        return cls.from_rows(rows[0], [[int(v) for v in row] for row in rows[1]])

    @property
    def size(self) -> int:
        return len(self.colors)


DEFAULT_LAYOUT = BoardLayout.from_rows(list(_DEFAULT_COLORS), list(_DEFAULT_TARGETS))


class Board:
    """Per-cell facts of a layout, computed once (see :func:`board_for` for the cache)."""

    def __init__(self, layout: BoardLayout) -> None:
        self.layout = layout
        size = self.size = layout.size
        self.num_cells = size * size
        self.color: list[int] = [COLOR_CODES[layout.colors[c // size][c % size]] for c in range(self.num_cells)]
        self.target: list[int] = [layout.targets[c // size][c % size] for c in range(self.num_cells)]
        # neighbour[c][d] for d in 0..4: the cell reached by action d (-1 off the board); d=0 is c.
        self.neighbour: list[tuple[int, ...]] = []
        for c in range(self.num_cells):
            x, y = c % size, c // size
            row = [c]
            for d in range(1, 5):
                dx, dy = DIRECTIONS[d]
                nx, ny = x + dx, y + dy
                row.append(ny * size + nx if 0 <= nx < size and 0 <= ny < size else -1)
            self.neighbour.append(tuple(row))
        self.on_board_neighbours: list[tuple[int, ...]] = [
            tuple(n for n in self.neighbour[c][1:] if n >= 0) for c in range(self.num_cells)
        ]
        #: number of yellow or red neighbours; 2 marks a pocket cell (rules S5 and M9).
        self.yellow_red_count: list[int] = [
            sum(self.color[n] in (YELLOW, RED) for n in self.on_board_neighbours[c]) for c in range(self.num_cells)
        ]
        #: mail numbers accepted by a cell's yellow neighbours (used by the pocket rule M9).
        self.neighbour_targets: list[frozenset[int]] = [
            frozenset(self.target[n] for n in self.on_board_neighbours[c] if self.color[n] == YELLOW)
            for c in range(self.num_cells)
        ]
        self.next_to_blue: list[bool] = [
            any(self.color[n] == BLUE for n in self.on_board_neighbours[c]) for c in range(self.num_cells)
        ]

        def cells_of(kind: int) -> tuple[int, ...]:
            return tuple(c for c in range(self.num_cells) if self.color[c] == kind)

        self.white_cells = cells_of(WHITE)
        self.green_cells = cells_of(GREEN)
        self.yellow_cells = cells_of(YELLOW)
        self.blue_cells = cells_of(BLUE)
        self.mail_numbers: tuple[int, ...] = tuple(sorted(self.target[c] for c in self.yellow_cells))
        self.delivery_cell: dict[int, int] = {self.target[c]: c for c in self.yellow_cells}
        #: observation normalisers (Q16: derived from the board; 8 and 9 on the reference board)
        self.position_scale = float(size - 1)
        self.mail_scale = float(max(self.mail_numbers))

    def xy(self, cell: int) -> tuple[int, int]:
        return cell % self.size, cell // self.size

    def cell(self, x: int, y: int) -> int:
        return y * self.size + x


@functools.lru_cache(maxsize=16)
def board_for(layout: BoardLayout) -> Board:
    """The shared :class:`Board` of a layout (boards are read-only, so envs can share one)."""
    return Board(layout)
