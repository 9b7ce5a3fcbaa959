"""Why the A* agent is hard to beat in the robot game without battery: what choosing a pick-up cell is worth.

    python benchmarks/robot_race.py [--games 200] [--json benchmarks/data/robot_race.json]

Without battery a player's robots only fetch a mail at a pick-up (green) cell and carry it to its
delivery (yellow) cell; the mail a pick-up cell holds is hidden until it is taken (the rule book's
observation holds positions and carried mails only), and every number 1..9 is equally likely. So
the one routing choice a player has is which pick-up cell to head for, and the A* agent takes the
nearest. Two measures of what a better choice could gain:

* **Trip lengths**, exact, from the board and the move rules (no other robot in the way): for each
  pick-up cell, the mean number of moves from it to the delivery cell of its mail (over the nine
  numbers), and from each delivery cell the moves back to the first pick-up cell reached.
* **A scripted rival**: the rule book's A* agent, except that it skips a pick-up cell that another
  robot without mail reaches in fewer moves (Manhattan distance, as A* measures), played against
  the A* agent in a cross-play tournament (``--games`` games per seat order, fresh seeds; 2 players,
  4 mails to win, and 3 players, 5 mails, 500 steps, one robot each).

The JSON holds the command, commit, date and machine.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from games.robot_delivery import AStarAgent
from games.robot_delivery.board import DEFAULT_LAYOUT, GREEN, YELLOW, Board, board_for
from games.robot_delivery.rules import BATTERY_CAPACITY, static_mask_table
from rbtrainer import AStarDeliveryAgent, DecentralizedTrainer
from rbtrainer.evaluation import tournament
from rbtrainer.provenance import benchmark_parser, provenance, table_of, write_figures

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SEED = 7


def _moves(board: Board, start: int, mail: int, goal: int | None) -> int:
    """Fewest legal moves of a lone robot carrying ``mail`` from ``start`` to ``goal`` (None: the first
    pick-up cell it reaches, carrying no mail), by the game's own move rules (its static mask table)
    at a full battery, which is the battery of a game without battery."""
    table = static_mask_table(board)
    stride = max(board.mail_numbers) + 1
    seen = {start: 0}
    queue = collections.deque([start])
    while queue:
        cell = queue.popleft()
        legal = table[(cell * stride + mail) * (BATTERY_CAPACITY + 1) + BATTERY_CAPACITY]
        for direction in range(1, 5):
            target = board.neighbour[cell][direction]
            if not legal[direction] or target in seen:
                continue
            seen[target] = seen[cell] + 1
            kind = board.color[target]
            if target == goal or (goal is None and kind == GREEN):
                return seen[target]
            if kind not in (YELLOW, GREEN):  # entering one of those delivers or picks up: no way through
                queue.append(target)
    raise ValueError(f"no path from cell {start} carrying mail {mail}")


def trip_lengths(board: Board) -> list[dict[str, Any]]:
    """One row per pick-up cell: its mean moves to its mail's delivery cell and the mean moves from a
    delivery cell back to the nearest pick-up cell (the same for every pick-up cell: listed once)."""
    back = [_moves(board, board.delivery_cell[m], 0, None) for m in board.mail_numbers]
    rows = []
    for green in board.green_cells:
        out = [_moves(board, green, m, board.delivery_cell[m]) for m in board.mail_numbers]
        rows.append(
            {
                "kind": "trip",
                "pick_up_cell": list(board.xy(green)),
                "to_delivery": out,
                "mean_to_delivery": round(float(np.mean(out)), 3),
                "mean_back": round(float(np.mean(back)), 3),
            }
        )
    return rows


class SkipContested(AStarAgent):
    """The A* agent, except that it skips a pick-up cell another robot without mail reaches in fewer moves."""

    _others: list[tuple[int, int]]  # (cell, carried mail) of every other robot, as the last act decoded them

    def _decode(self, robots: list[list[float]]) -> tuple[list[int], list[int]]:
        cells, mails = super()._decode(robots)
        self._others = list(zip(cells[1:], mails[1:], strict=True))
        return cells, mails

    def _nearest(self, start: int, cells: Sequence[int], excluded: frozenset[int]) -> int | None:
        if cells is self.board.green_cells:
            free = [
                c
                for c in cells
                if c not in excluded
                and not any(mail == 0 and self._distance(o, c) < self._distance(start, c) for o, mail in self._others)
            ]
            if free:
                return min(free, key=lambda c: self._distance(start, c))
        return super()._nearest(start, cells, excluded)


def rival_games(players: int, games_per_seating: int) -> dict[str, Any]:
    """The scripted rival against the A* agent, ``games_per_seating`` games per seat order."""
    env = {
        "game": "robot_delivery",
        "robot_colors": ["r", "b", "g"][:players],
        "required_mail": 4 if players == 2 else 5,
        "max_step": 500,
    }
    rival = AStarDeliveryAgent(players, seed=SEED + 1, name="skip-contested")
    rival.controller = SkipContested(players, seed=SEED + 1)
    with DecentralizedTrainer(env, num_test_envs=50, seed=SEED, progress_bar=False) as trainer:
        entrants = {"skip-contested": rival, "astar": AStarDeliveryAgent(players, seed=SEED)}
        result = tournament(trainer, entrants, games_per_seating, seed=SEED)
    entrant = next(e for e in result.entrants if e.name == "skip-contested")
    return {
        "kind": "rival",
        "players": players,
        "games_per_seating": games_per_seating,
        "games": entrant.games,
        "wins": entrant.wins,
        "draws": entrant.draws,
        "losses": entrant.losses,
        "score": round(entrant.score, 4),
        "score_low": round(entrant.score_low, 4),
        "score_high": round(entrant.score_high, 4),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The trip lengths and the rival's games as two Markdown tables."""
    lines = [
        "| pick-up cell | moves to the mail's delivery cell, mails 1-9 | mean "
        "| mean moves from a delivery cell back to a pick-up cell |",
        "|---|---|---|---|",
    ]
    for r in (r for r in rows if r["kind"] == "trip"):
        x, y = r["pick_up_cell"]
        moves = " ".join(str(v) for v in r["to_delivery"])
        lines.append(f"| ({x},{y}) | {moves} | {r['mean_to_delivery']:.2f} | {r['mean_back']:.2f} |")
    lines += [
        "",
        "| players | games | skip-contested wins | A* wins | draws | skip-contested score [95 % CI] |",
        "|---|---|---|---|---|---|",
    ]
    for r in (r for r in rows if r["kind"] == "rival"):
        lines.append(
            f"| {r['players']} | {r['games']} | {r['wins']} | {r['losses']} | {r['draws']} "
            f"| {r['score']:.3f} [{r['score_low']:.3f}, {r['score_high']:.3f}] |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = benchmark_parser(__doc__, "play nothing")
    parser.add_argument("--games", type=int, default=200, help="games against A* per seat order (200)")
    args = parser.parse_args()
    if args.render:
        print(table_of(args.render, table))
        return
    if args.games < 1:
        parser.error(f"--games must be >= 1, got {args.games}")
    origin = provenance(ROOT)
    rows = trip_lengths(board_for(DEFAULT_LAYOUT)) + [rival_games(players, args.games) for players in (2, 3)]
    if args.json:
        write_figures(args.json, origin, {"rows": rows})
    print(table(rows))


if __name__ == "__main__":
    main()
