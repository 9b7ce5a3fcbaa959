"""The scripted A* controller of the robot-delivery game (rule book §15).

It reads only a robot's observation vector and action mask, so one object can serve every
robot. It heads for a charger when the battery is low, for the delivery cell of the mail it
carries, or else for the nearest pick-up cell, along a shortest path through free white and
grey cells. Ties among equally short paths are broken FIFO (bit-exact parity with the
reference's heap order is not needed, §15.4). Random fallbacks use the agent's own RNG.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Sequence

import numpy as np

from games.robot_delivery.board import BLUE, DEFAULT_LAYOUT, GREEN, GREY, WHITE, YELLOW, BoardLayout, board_for
from games.robot_delivery.rules import BATTERY_CAPACITY

__all__ = ["AStarAgent"]

_CHARGE_UNTIL = 8  # keep charging while the battery is below this level
_SEEK_CHARGER_AT = 4  # head for a charger at this level or below


class AStarAgent:
    """Scripted controller: ``act(observation, action_mask) -> action``.

    ``station_mail``: the game's observations end with the mails waiting on the green cells
    (``observe_station_mail``); the controller reads past them and, as the rule book's agent,
    does not use them.
    """

    def __init__(
        self,
        num_robots: int,
        with_battery: bool = False,
        layout: BoardLayout = DEFAULT_LAYOUT,
        seed: int | None = None,
        station_mail: bool = False,
    ) -> None:
        if isinstance(num_robots, bool) or not isinstance(num_robots, (int, np.integer)) or num_robots < 1:
            raise ValueError(f"num_robots must be an int >= 1 (robots in the game), got {num_robots!r}")
        self.num_robots = int(num_robots)
        self.with_battery = bool(with_battery)
        self.board = board_for(layout)
        self.features = 4 if self.with_battery else 3
        self.station_mail = bool(station_mail)
        #: the length of the observations it reads
        self.observation_size = self.features * self.num_robots + (
            len(self.board.green_cells) if self.station_mail else 0
        )
        self._rng = random.Random(seed)

    def seed(self, seed: int | None) -> None:
        self._rng = random.Random(seed)

    # ------------------------------------------------------------------ API
    def act(
        self, observation: Sequence[float] | np.ndarray, action_mask: Sequence[int] | np.ndarray | None = None
    ) -> int:
        obs = np.asarray(observation, dtype=np.float64).reshape(-1)
        if obs.shape[0] != self.observation_size:
            waiting = f" + {len(self.board.green_cells)} station mails" if self.station_mail else ""
            raise ValueError(
                f"observation has {obs.shape[0]} values, expected {self.features} x {self.num_robots} robots"
                f"{waiting}; build the agent with the game's num_robots, with_battery and observe_station_mail"
            )
        legal = [1] * 5 if action_mask is None else [int(v) for v in np.asarray(action_mask).reshape(-1)]
        board = self.board
        robots = obs[: self.features * self.num_robots].reshape(self.num_robots, self.features).tolist()
        cells, mails = self._decode(robots)
        battery = round(robots[0][3] * BATTERY_CAPACITY) if self.with_battery else BATTERY_CAPACITY
        start, mail = cells[0], mails[0]
        occupied = dict(zip(cells, mails))

        if board.color[start] == BLUE and battery < _CHARGE_UNTIL:
            return self._fallback(0, legal)
        dest = self._destination(start, mail, battery, excluded=frozenset())
        if dest is None:
            return self._fallback(0, legal)
        if self._blocked(dest, occupied) and dest not in board.on_board_neighbours[start]:
            kind = board.color[dest]
            if kind == YELLOW:
                return self._fallback(0, legal)
            same_kind = board.blue_cells if kind == BLUE else board.green_cells
            blocked = frozenset(c for c in same_kind if self._blocked(c, occupied))
            if len(blocked) == len(same_kind):
                return self._fallback(0, legal)
            dest = self._destination(start, mail, battery, excluded=blocked)
            if dest is None:
                return self._fallback(0, legal)
        step = self._first_step(start, dest, occupied)
        if step is None:
            return self._fallback(0, legal)
        return step if legal[step] else self._fallback(0, legal)

    # -------------------------------------------------------------- helpers
    def _decode(self, robots: list[list[float]]) -> tuple[list[int], list[int]]:
        """The cells and carried mails of the robots' feature rows (the actor's first)."""
        board = self.board
        cells = [
            board.cell(round(row[0] * board.position_scale), round(row[1] * board.position_scale)) for row in robots
        ]
        return cells, [round(row[2] * board.mail_scale) for row in robots]

    def _fallback(self, action: int, legal: list[int]) -> int:
        if not any(legal) or legal[action]:
            return action
        return self._rng.choice([a for a in range(5) if legal[a]])

    def _distance(self, a: int, b: int) -> int:
        (ax, ay), (bx, by) = self.board.xy(a), self.board.xy(b)
        return abs(ax - bx) + abs(ay - by)

    def _nearest(self, start: int, cells: Sequence[int], excluded: frozenset[int]) -> int | None:
        candidates = [c for c in cells if c not in excluded]  # row-major order breaks ties
        if not candidates:
            return None
        return min(candidates, key=lambda c: self._distance(start, c))

    def _destination(self, start: int, mail: int, battery: int, excluded: frozenset[int]) -> int | None:
        board = self.board
        if battery <= _SEEK_CHARGER_AT and board.blue_cells:
            return self._nearest(start, board.blue_cells, excluded)
        if mail != 0 and mail in board.delivery_cell:
            return board.delivery_cell[mail]
        return self._nearest(start, board.green_cells, excluded)

    def _blocked(self, cell: int, occupied: dict[int, int]) -> bool:
        if cell not in occupied:
            return False
        board = self.board
        around = [n for n in board.on_board_neighbours[cell] if n in occupied]
        kind = board.color[cell]
        if kind == BLUE:
            return len(around) == 1
        if kind == GREEN:
            return sum(occupied[n] == 0 for n in around) == 2
        if kind == YELLOW:
            return sum(occupied[n] != 0 for n in around) == 2
        return False

    def _first_step(self, start: int, dest: int, occupied: dict[int, int]) -> int | None:
        """First action of a shortest path (A*, Manhattan heuristic, FIFO among equal f)."""
        if start == dest:
            return None
        board = self.board
        g = {start: 0}
        first: dict[int, int] = {start: 0}
        order = 0
        frontier = [(self._distance(start, dest), order, start)]
        while frontier:
            _, _, cell = heapq.heappop(frontier)
            if cell == dest:
                return first[cell]
            for d in (1, 2, 3, 4):
                nxt = board.neighbour[cell][d]
                if nxt < 0:
                    continue
                if nxt != dest and (nxt in occupied or board.color[nxt] not in (WHITE, GREY)):
                    continue
                cost = g[cell] + 1
                if nxt not in g or cost < g[nxt]:
                    g[nxt] = cost
                    first[nxt] = d if cell == start else first[cell]
                    order += 1
                    heapq.heappush(frontier, (cost + self._distance(nxt, dest), order, nxt))
        return None
