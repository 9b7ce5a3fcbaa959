"""Rules of the robot mail-delivery game, free of any Gymnasium or PettingZoo import.

:class:`RobotDeliveryRules` holds the whole game state and implements the rule book
(``shared/specs/robot_delivery_rules.md`` §2-§11 and §13 with this project's decisions). The
PettingZoo environment in :mod:`games.robot_delivery.env` is a thin layer over it.

Speed notes: the static part of every action mask (everything but occupancy and the stand
counter) is tabulated once per board for each (cell, carried mail, displayed battery); the
observation is kept as an (N, F) float32 feature table that is updated incrementally, so one
observation is one gather. The mask of the robot to act is computed once per state and shared
by ``observe`` and ``step``.
"""

from __future__ import annotations

import functools
import math
import operator
import random
from dataclasses import dataclass, field

import numpy as np

from games.inputs import check_seed, reject_bool_action
from games.robot_delivery.board import BLUE, DEFAULT_LAYOUT, GREEN, RED, YELLOW, Board, BoardLayout, board_for

__all__ = [
    "BATTERY_CAPACITY",
    "MAX_STEPS_PER_TURN",
    "STAND_LIMIT",
    "GameOverError",
    "RobotDeliveryConfig",
    "RobotDeliveryRules",
    "RobotState",
    "static_mask_table",
]

BATTERY_CAPACITY = 10
"""Full battery; the displayed level runs 0..10."""
STAND_LIMIT = 5
"""Consecutive stands after which standing is illegal off a blue cell (rule S6)."""
MAX_STEPS_PER_TURN = 5
"""With ``random_num_steps`` a turn lasts U{1..5} environment steps (Q7)."""

REWARD_PICKUP = 1.0
REWARD_DELIVERY = 5.0
REWARD_ENTER_BLUE = 1.0
REWARD_PLAIN_MOVE = -0.1
REWARD_STAND = -0.1
REWARD_STAND_ON_BLUE = 0.0
REWARD_ILLEGAL = -0.1

_ENTER_BLUE_MAX = 4  # may enter blue only with B <= 4; may not stand next to blue with B > 4
_LEAVE_BLUE_MIN = 8  # may leave blue only with B >= 8
_STAND_ON_BLUE_MAX = 8  # may not stand on blue with B >= 9


class GameOverError(RuntimeError):
    """Raised when the game is stepped after it ended (or before the first reset)."""


@dataclass(kw_only=True)
class RobotDeliveryConfig:
    """Parameters of one robot-delivery game (validated on construction)."""

    robot_colors: tuple[str, ...] = ("r", "b")
    """Player identifiers (opaque strings, at least 2, distinct); order = player and turn order."""
    num_robots_per_player: int = 1
    """Robots per player; the total must fit on the white start cells (25 on the built-in board)."""
    required_mail: int = 4
    """Deliveries a team needs to win (>= 1)."""
    with_battery: bool = False
    """Battery dynamics and the battery feature in the observation."""
    random_num_steps: bool = False
    """Each turn lasts U{1..5} environment steps instead of one."""
    max_step: int = 500
    """Truncation limit, counted in single robot actions (moves, stands and passes)."""
    layout: BoardLayout = field(default=DEFAULT_LAYOUT)
    """Board layout; the reference board by default."""
    observe_station_mail: bool = False
    """Append the numbers of the mails waiting on the pick-up (green) cells to every observation,
    in row-major order of those cells and scaled like a carried mail (``m / 9``). An opt-in
    extension: the rule book's observation (§13) leaves them out, so off by default."""

    def __post_init__(self) -> None:
        colors = self.robot_colors
        if isinstance(colors, str) or not isinstance(colors, (list, tuple)):
            raise TypeError(f"robot_colors must be a list of player strings such as ['r', 'b'], got {colors!r}")
        if not all(isinstance(c, str) and c for c in colors):
            raise TypeError(f"robot_colors must contain non-empty strings, got {colors!r}")
        if len(colors) < 2:
            raise ValueError(f"robot_colors needs at least 2 players, got {list(colors)!r}")
        if len(set(colors)) != len(colors):
            raise ValueError(f"robot_colors must be distinct (agent names would collide), got {list(colors)!r}")
        self.robot_colors = tuple(colors)
        for name in ("num_robots_per_player", "required_mail", "max_step"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an int, got {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
            setattr(self, name, int(value))
        for name in ("with_battery", "random_num_steps", "observe_station_mail"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
            setattr(self, name, bool(getattr(self, name)))
        if not isinstance(self.layout, BoardLayout):
            raise TypeError(f"layout must be a BoardLayout, got {type(self.layout).__name__}")
        num_white = len(board_for(self.layout).white_cells)
        if self.num_robots > num_white:
            raise ValueError(
                f"{len(colors)} players x num_robots_per_player={self.num_robots_per_player} = "
                f"{self.num_robots} robots, but the board has only {num_white} white start cells; "
                "use fewer players or robots per player"
            )

    @property
    def num_robots(self) -> int:
        return len(self.robot_colors) * self.num_robots_per_player

    @property
    def agent_names(self) -> list[str]:
        """Agent names in agent order: by player, then robot index (``r1, r2, b1, b2``)."""
        return [f"{color}{i}" for color in self.robot_colors for i in range(1, self.num_robots_per_player + 1)]

    @property
    def features_per_robot(self) -> int:
        return 4 if self.with_battery else 3

    @property
    def observation_size(self) -> int:
        """Length of one robot's observation: every robot's features, then the station mails if observed."""
        size = self.features_per_robot * self.num_robots
        if self.observe_station_mail:
            size += len(board_for(self.layout).green_cells)
        return size


@dataclass(frozen=True)
class RobotState:
    """Read-only view of one robot (position as ``(x, y)``)."""

    name: str
    player: str
    position: tuple[int, int]
    mail: int
    delivered: int
    battery: int
    energy: float
    stand_count: int


def _static_mask(board: Board, cell: int, mail: int, level: int) -> tuple[int, ...]:
    """§5 for one robot ignoring occupancy (M5) and the stand counter (S6)."""
    color = board.color[cell]
    stand_ok = not (
        (color == BLUE and level > _STAND_ON_BLUE_MAX)  # S1
        or (color == YELLOW and mail == 0)  # S2
        or (color == GREEN and mail != 0)  # S3
        or (board.next_to_blue[cell] and level > _ENTER_BLUE_MAX)  # S4
        or board.yellow_red_count[cell] == 2  # S5
    )
    out = [int(stand_ok)]
    for d in range(1, 5):
        t = board.neighbour[cell][d]
        if level == 0 or (color == BLUE and level < _LEAVE_BLUE_MIN) or t < 0:  # M1, M2, M3
            out.append(0)
            continue
        tc = board.color[t]
        illegal = (
            tc == RED  # M4
            or (tc == YELLOW and (mail == 0 or board.target[t] != mail))  # M6
            or (tc == GREEN and mail != 0)  # M7
            or (tc == BLUE and level > _ENTER_BLUE_MAX)  # M8
            or (
                color != YELLOW
                and board.yellow_red_count[t] == 2
                and (mail == 0 or mail not in board.neighbour_targets[t])
            )  # M9
        )
        out.append(0 if illegal else 1)
    return tuple(out)


@functools.lru_cache(maxsize=16)
def static_mask_table(board: Board) -> tuple[tuple[int, ...], ...]:
    """The legal moves of a robot before the other robots and its stand counter are considered
    (§5 without M5 and S6), for every cell, carried mail and battery level of ``board``: one entry
    per ``(cell * (max_mail + 1) + mail) * (BATTERY_CAPACITY + 1) + level``, each the five moves
    (stand, then the four directions) as 1 (legal) or 0."""
    num_mail = max(board.mail_numbers) + 1
    return tuple(
        _static_mask(board, c, m, b)
        for c in range(board.num_cells)
        for m in range(num_mail)
        for b in range(BATTERY_CAPACITY + 1)
    )


class RobotDeliveryRules:
    """State and rules of one game. Call :meth:`reset` before the first :meth:`step`."""

    def __init__(self, config: RobotDeliveryConfig) -> None:
        self.config = config
        self.board = board = board_for(config.layout)
        self.agent_names = config.agent_names
        self.num_robots = n = config.num_robots
        self.player_of: list[int] = [i // config.num_robots_per_player for i in range(n)]
        self._required_mail = config.required_mail
        self._table = static_mask_table(board)
        self._num_mail = max(board.mail_numbers) + 1
        self._features = config.features_per_robot
        # observation gather order per robot: itself first, then the others in agent order
        self._view_order = [np.array([k] + [j for j in range(n) if j != k], dtype=np.intp) for k in range(n)]
        self._rng = random.Random()
        self._feat_NF = np.zeros((n, self._features), dtype=np.float32)
        self.position: list[int] = [0] * n
        self.mail: list[int] = [0] * n
        self.delivered: list[int] = [0] * n
        self.energy: list[float] = [float(BATTERY_CAPACITY)] * n
        self.level: list[int] = [BATTERY_CAPACITY] * n
        self.stand_count: list[int] = [0] * n
        self.occupant: list[int] = [-1] * board.num_cells
        self.green_mail: dict[int, int] = {}
        self.score: list[int] = [0] * len(config.robot_colors)
        self.current = 0
        self.steps_left = 1
        self.num_steps = 0
        self.clock = 0
        self.winner: str | None = None
        self.terminated = False
        self.truncated = False
        self._started = False
        self._mask_cache: tuple[int, list[int]] | None = None

    def __setstate__(self, state: dict[str, object]) -> None:
        # unpickled NumPy arrays may be read-only views (e.g. Ray's object store): own a copy
        self.__dict__.update(state)
        self._feat_NF = np.array(self._feat_NF, copy=True)

    # ------------------------------------------------------------------ setup
    @property
    def required_mail(self) -> int:
        return self._required_mail

    @required_mail.setter
    def required_mail(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"required_mail must be an int >= 1, got {value!r}")
        self._required_mail = int(value)

    def seed(self, seed: int | None) -> None:
        """Restart this game's own random stream (``None``: fresh entropy; else a non-negative int)."""
        self._rng = random.Random(check_seed(seed, "robot_delivery"))

    def reset(self, seed: int | None = None) -> None:
        """Start a new game: §12 reset order (robots, then mails, then steps per turn)."""
        if seed is not None:
            self.seed(seed)
        board, n = self.board, self.num_robots
        self.occupant = [-1] * board.num_cells
        starts = self._rng.sample(board.white_cells, k=n)
        for k, cell in enumerate(starts):
            self.position[k] = cell
            self.occupant[cell] = k
        self.mail = [0] * n
        self.delivered = [0] * n
        self.stand_count = [0] * n
        self.energy = [float(BATTERY_CAPACITY)] * n
        self.level = [BATTERY_CAPACITY] * n
        self.score = [0] * len(self.config.robot_colors)
        self.green_mail = {c: self._rng.choice(board.mail_numbers) for c in board.green_cells}
        self.current = 0
        self.steps_left = self._draw_steps_per_turn()
        self.num_steps = 0
        self.clock = 0
        self.winner = None
        self.terminated = False
        self.truncated = False
        self._started = True
        self._mask_cache = None
        for k in range(n):
            self._write_features(k)

    def _draw_steps_per_turn(self) -> int:
        if self.config.random_num_steps:
            return self._rng.choice(range(1, MAX_STEPS_PER_TURN + 1))
        return 1

    def _write_features(self, k: int) -> None:
        board = self.board
        x, y = board.xy(self.position[k])
        row = self._feat_NF[k]
        row[0] = x / board.position_scale
        row[1] = y / board.position_scale
        row[2] = self.mail[k] / board.mail_scale
        if self._features == 4:
            row[3] = self.level[k] / BATTERY_CAPACITY

    # ----------------------------------------------------------- inspection
    @property
    def game_over(self) -> bool:
        return self.terminated or self.truncated

    def set_energy(self, k: int, energy: float) -> None:
        """Set robot ``k``'s hidden battery level (clamped to 0..capacity); ignored without battery."""
        if not self.config.with_battery:
            return
        e = min(max(float(energy), 0.0), float(BATTERY_CAPACITY))
        self.energy[k] = e
        self.level[k] = math.ceil(e)
        self._mask_cache = None
        self._write_features(k)

    def place(self, k: int, x: int, y: int, mail: int | None = None, stand_count: int | None = None) -> None:
        """Move robot ``k`` to ``(x, y)`` outside the rules (scenario set-up for tests and tools)."""
        if not (0 <= x < self.board.size and 0 <= y < self.board.size):
            raise ValueError(f"place: ({x}, {y}) is off the board")
        cell = self.board.cell(x, y)
        if self.occupant[cell] not in (-1, k):
            raise ValueError(f"place: ({x}, {y}) is occupied by robot {self.occupant[cell]}")
        self.occupant[self.position[k]] = -1
        self.position[k] = cell
        self.occupant[cell] = k
        if mail is not None:
            self.mail[k] = int(mail)
        if stand_count is not None:
            self.stand_count[k] = int(stand_count)
        self._mask_cache = None
        self._write_features(k)

    def robot(self, k: int) -> RobotState:
        return RobotState(
            name=self.agent_names[k],
            player=self.config.robot_colors[self.player_of[k]],
            position=self.board.xy(self.position[k]),
            mail=self.mail[k],
            delivered=self.delivered[k],
            battery=self.level[k],
            energy=self.energy[k],
            stand_count=self.stand_count[k],
        )

    def legal_mask(self, k: int) -> list[int]:
        """The 0/1 action mask of robot ``k`` (§5); the acting robot's mask is cached per state."""
        cache = self._mask_cache
        if cache is not None and cache[0] == k:
            return cache[1]
        cell = self.position[k]
        mask = list(self._table[(cell * self._num_mail + self.mail[k]) * 11 + self.level[k]])
        if mask[0] and self.stand_count[k] >= STAND_LIMIT and self.board.color[cell] != BLUE:
            mask[0] = 0  # S6
        occupant = self.occupant
        nb = self.board.neighbour[cell]
        for d in (1, 2, 3, 4):
            if mask[d] and occupant[nb[d]] >= 0:
                mask[d] = 0  # M5
        if k == self.current:
            self._mask_cache = (k, mask)
        return mask

    def observation(self, k: int) -> np.ndarray:
        """Robot ``k``'s float32 view: its own features first, then the others in agent order (then
        the mails waiting on the green cells, with ``observe_station_mail``)."""
        view = self._feat_NF[self._view_order[k]].reshape(-1)
        if not self.config.observe_station_mail:
            return view
        board = self.board
        waiting = np.array([self.green_mail[c] for c in board.green_cells], dtype=np.float64) / board.mail_scale
        return np.concatenate([view, waiting.astype(np.float32)])

    # ------------------------------------------------------------------ step
    def step(self, action: int) -> float:
        """Apply the current robot's action (§6) and return its reward.

        A masked-out action in 0..4 is a pass (reward -0.1, turn used). Any other value raises
        (``TypeError`` for a non-integer, bools included; ``ValueError`` outside 0..4) and changes nothing.
        """
        if not self._started:
            raise GameOverError("step() called before reset(); call reset() first")
        if self.terminated or self.truncated:
            raise GameOverError("the game is over; call reset() to start a new one")
        reject_bool_action(action, self.agent_names[self.current], 5)
        try:
            a = operator.index(action)
        except TypeError:
            raise TypeError(
                f"{self.agent_names[self.current]}: action must be an integer in 0..4, got {action!r}"
            ) from None
        if not 0 <= a <= 4:
            raise ValueError(
                f"{self.agent_names[self.current]}: action must be in 0..4 (stand, up, down, left, right), got {a}"
            )
        k = self.current
        mask = self.legal_mask(k)
        self._mask_cache = None
        board = self.board
        if not mask[a]:
            reward = REWARD_ILLEGAL
        elif a == 0:
            self.stand_count[k] += 1
            if board.color[self.position[k]] == BLUE:
                self._charge(k)
                reward = REWARD_STAND_ON_BLUE
            else:
                reward = REWARD_STAND
        else:
            reward = self._move(k, a)
        self.num_steps += 1
        player = self.player_of[k]
        if self.score[player] >= self._required_mail:
            self.terminated = True
            self.winner = self.config.robot_colors[player]
        if self.num_steps >= self.config.max_step:
            self.truncated = True
        self.steps_left -= 1
        if self.steps_left <= 0:
            self.current = (k + 1) % self.num_robots
            self.steps_left = self._draw_steps_per_turn()
        return reward

    def _move(self, k: int, a: int) -> float:
        board = self.board
        source = self.position[k]
        target = board.neighbour[source][a]
        self.stand_count[k] = 0
        if board.color[source] == GREEN:
            self.green_mail[source] = self._rng.choice(board.mail_numbers)
        self.occupant[source] = -1
        self.occupant[target] = k
        self.position[k] = target
        battery = self.config.with_battery
        if battery:
            e = self.energy[k]
            e = e - 0.2 if e > 2.0 else e - 0.1
            if e < 0.0:
                e = 0.0
            self.energy[k] = e
            self.level[k] = math.ceil(e)
        color = board.color[target]
        if color == GREEN:
            self.mail[k] = self.green_mail[target]
            reward = REWARD_PICKUP
        elif color == YELLOW:
            self.mail[k] = 0
            self.delivered[k] += 1
            self.score[self.player_of[k]] += 1
            reward = REWARD_DELIVERY
        elif color == BLUE:
            reward = REWARD_ENTER_BLUE
        else:
            reward = REWARD_PLAIN_MOVE
        self.clock += 1
        self._write_features(k)
        if battery:
            for blue in board.blue_cells:
                other = self.occupant[blue]
                if other >= 0 and other != k:
                    self._charge(other)
        return reward

    def _charge(self, k: int) -> None:
        if not self.config.with_battery:
            return
        e = self.energy[k] + 1.0
        self.energy[k] = e if e < BATTERY_CAPACITY else float(BATTERY_CAPACITY)
        self.level[k] = math.ceil(self.energy[k])
        self._write_features(k)
