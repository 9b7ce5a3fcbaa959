"""Many robot-delivery games stepped together by one NumPy program.

:class:`BatchRobotDeliveryRules` holds ``num_games`` games of one :class:`RobotDeliveryConfig` in
arrays (game x robot, game x cell) and applies the rule book of
:class:`~games.robot_delivery.rules.RobotDeliveryRules` to all of them at once: one ``step``
call plays the acting robot of every selected game. It is the single-game rules class's twin,
not a new rule book: each game keeps its own ``random.Random``, seeded and drawn from in the
same order (start cells, green mails, steps per turn, a green mail redrawn when a robot leaves
a green cell), so game ``g`` reset with seed ``s`` and given the same actions passes through
exactly the states, rewards, observations and masks of ``RobotDeliveryRules`` reset with ``s``
(``tests/test_robot_delivery_batch.py`` checks this on seeded games of every option). The
random draws are the only per-game Python; they happen at resets, when a robot leaves a green
cell and (with ``random_num_steps``) at the end of a turn.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from games.inputs import check_seed
from games.robot_delivery.board import BLUE, GREEN, YELLOW, board_for
from games.robot_delivery.rules import (
    BATTERY_CAPACITY,
    MAX_STEPS_PER_TURN,
    REWARD_DELIVERY,
    REWARD_ENTER_BLUE,
    REWARD_ILLEGAL,
    REWARD_PICKUP,
    REWARD_PLAIN_MOVE,
    REWARD_STAND,
    REWARD_STAND_ON_BLUE,
    STAND_LIMIT,
    GameOverError,
    RobotDeliveryConfig,
    _static_mask_table,
)

__all__ = ["BatchRobotDeliveryRules"]


class BatchRobotDeliveryRules:
    """``num_games`` games of ``config``; call :meth:`reset` on a game before stepping it.

    State arrays (read them, do not write them): ``position``, ``mail``, ``delivered``,
    ``energy``, ``level`` and ``stand_count`` (game x robot), ``score`` (game x player),
    ``current`` (the robot to act), ``num_steps``, ``clock``, ``terminated``, ``truncated`` and
    ``winner`` (player index, -1 for none) per game.
    """

    def __init__(self, config: RobotDeliveryConfig, num_games: int) -> None:
        if isinstance(num_games, bool) or not isinstance(num_games, (int, np.integer)) or num_games < 1:
            raise ValueError(f"num_games must be an int >= 1, got {num_games!r}")
        self.config = config
        self.board = board = board_for(config.layout)
        self.num_games = g = int(num_games)
        self.num_robots = n = config.num_robots
        self.num_cells = c = board.num_cells
        self.player_of = np.array([k // config.num_robots_per_player for k in range(n)], dtype=np.int64)
        self._features = f = config.features_per_robot
        self._num_mail = max(board.mail_numbers) + 1
        self._table = np.array(_static_mask_table(board), dtype=np.int8)
        self._neighbour = np.array(board.neighbour, dtype=np.int64)  # -1 off the board
        self._color = np.array(board.color, dtype=np.int64)
        self._blue = np.array(board.blue_cells, dtype=np.int64)
        x_C = np.arange(c) % board.size
        y_C = np.arange(c) // board.size
        self._x_feature = (x_C / board.position_scale).astype(np.float32)
        self._y_feature = (y_C / board.position_scale).astype(np.float32)
        self._view_order = np.array([[k] + [j for j in range(n) if j != k] for k in range(n)], dtype=np.int64)
        self._rows = np.arange(g)
        self._rngs = [random.Random() for _ in range(g)]
        self.position = np.zeros((g, n), dtype=np.int64)
        self.mail = np.zeros((g, n), dtype=np.int64)
        self.delivered = np.zeros((g, n), dtype=np.int64)
        self.energy = np.full((g, n), float(BATTERY_CAPACITY))
        self.level = np.full((g, n), BATTERY_CAPACITY, dtype=np.int64)
        self.stand_count = np.zeros((g, n), dtype=np.int64)
        # one extra column, always -1: the occupant of the "cell" -1 (off the board)
        self.occupant = np.full((g, c + 1), -1, dtype=np.int64)
        self.green_mail = np.zeros((g, c), dtype=np.int64)
        self.score = np.zeros((g, len(config.robot_colors)), dtype=np.int64)
        self.current = np.zeros(g, dtype=np.int64)
        self.steps_left = np.ones(g, dtype=np.int64)
        self.num_steps = np.zeros(g, dtype=np.int64)
        self.clock = np.zeros(g, dtype=np.int64)
        self.winner = np.full(g, -1, dtype=np.int64)
        self.terminated = np.zeros(g, dtype=bool)
        self.truncated = np.zeros(g, dtype=bool)
        self.started = np.zeros(g, dtype=bool)
        self._feat = np.zeros((g, n, f), dtype=np.float32)

    # ------------------------------------------------------------------ setup
    def reset(self, games: Sequence[int] | np.ndarray, seeds: Sequence[int | None]) -> None:
        """Start a new game in each of ``games`` (``seeds[i]`` seeds game ``games[i]``; ``None``
        keeps that game's own generator running, as ``RobotDeliveryRules.reset(None)``)."""
        games = np.asarray(games, dtype=np.int64).reshape(-1)
        if len(seeds) != len(games):
            raise ValueError(f"reset needs one seed per game: {len(games)} games, {len(seeds)} seeds")
        if len(games) and (games.min() < 0 or games.max() >= self.num_games):
            raise ValueError(f"games must be indices in 0..{self.num_games - 1}, got {games.tolist()}")
        board, n = self.board, self.num_robots
        for game, seed in zip(games.tolist(), seeds):
            if seed is not None:
                self._rngs[game] = random.Random(check_seed(seed, "robot_delivery"))
            rng = self._rngs[game]
            starts = rng.sample(board.white_cells, k=n)
            self.occupant[game] = -1
            self.position[game] = starts
            self.occupant[game, starts] = np.arange(n)
            self.green_mail[game, list(board.green_cells)] = [rng.choice(board.mail_numbers) for _ in board.green_cells]
            self.steps_left[game] = self._steps_per_turn(rng)
        self.mail[games] = 0
        self.delivered[games] = 0
        self.stand_count[games] = 0
        self.energy[games] = float(BATTERY_CAPACITY)
        self.level[games] = BATTERY_CAPACITY
        self.score[games] = 0
        self.current[games] = 0
        self.num_steps[games] = 0
        self.clock[games] = 0
        self.winner[games] = -1
        self.terminated[games] = False
        self.truncated[games] = False
        self.started[games] = True
        self._write_features(games)

    def _steps_per_turn(self, rng: random.Random) -> int:
        if self.config.random_num_steps:
            return rng.choice(range(1, MAX_STEPS_PER_TURN + 1))
        return 1

    def _write_features(self, games: np.ndarray, robots: np.ndarray | None = None) -> None:
        """Refresh the feature rows of ``robots`` (one per game; all robots when None) of ``games``."""
        if robots is None:
            cells = self.position[games]
            rows = self._feat[games]
            rows[..., 0] = self._x_feature[cells]
            rows[..., 1] = self._y_feature[cells]
            rows[..., 2] = self.mail[games] / self.board.mail_scale
            if self._features == 4:
                rows[..., 3] = self.level[games] / BATTERY_CAPACITY
            self._feat[games] = rows
            return
        cells = self.position[games, robots]
        self._feat[games, robots, 0] = self._x_feature[cells]
        self._feat[games, robots, 1] = self._y_feature[cells]
        self._feat[games, robots, 2] = self.mail[games, robots] / self.board.mail_scale
        if self._features == 4:
            self._feat[games, robots, 3] = self.level[games, robots] / BATTERY_CAPACITY

    # ----------------------------------------------------------- inspection
    @property
    def game_over(self) -> np.ndarray:
        return self.terminated | self.truncated

    def masks(self, games: np.ndarray | None = None, robots: np.ndarray | None = None) -> np.ndarray:
        """The int8 action masks (rows x 5) of ``robots`` (default: the robot to act) in ``games``
        (default: all)."""
        games = self._rows if games is None else np.asarray(games, dtype=np.int64)
        robots = self.current[games] if robots is None else np.asarray(robots, dtype=np.int64)
        cell = self.position[games, robots]
        mask = self._table[(cell * self._num_mail + self.mail[games, robots]) * 11 + self.level[games, robots]]
        # S6: standing is illegal after STAND_LIMIT stands, except on a blue cell
        mask[:, 0] &= ~((self.stand_count[games, robots] >= STAND_LIMIT) & (self._color[cell] != BLUE))
        # M5: a move into an occupied cell is illegal (off-board neighbours read the -1 column)
        mask[:, 1:] &= self.occupant[games[:, None], self._neighbour[cell, 1:]] < 0
        return mask

    def observations(self, games: np.ndarray | None = None, robots: np.ndarray | None = None) -> np.ndarray:
        """The float32 views (rows x features) of ``robots`` (default: the robot to act) in ``games``:
        the robot's own features first, then the others in agent order."""
        games = self._rows if games is None else np.asarray(games, dtype=np.int64)
        robots = self.current[games] if robots is None else np.asarray(robots, dtype=np.int64)
        order = self._view_order[robots]
        return self._feat[games[:, None], order].reshape(len(games), -1)

    # ------------------------------------------------------------------ step
    def step(self, games: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Play ``actions[i]`` (0..4) for the robot to act in game ``games[i]``; returns each
        acting robot's reward. As ``RobotDeliveryRules.step``: a masked-out action is a pass.

        Raises ``ValueError`` (naming the game) for an action outside 0..4 or a game stepped
        twice in one call, and :class:`GameOverError` for a game that is over or was never reset;
        nothing changes then.
        """
        games = np.asarray(games, dtype=np.int64).reshape(-1)
        act = np.asarray(actions).reshape(-1)
        if act.dtype.kind not in "iu":
            raise TypeError(f"actions must be integers in 0..4, got dtype {act.dtype}")
        act = act.astype(np.int64)
        if len(act) != len(games):
            raise ValueError(f"step needs one action per game: {len(games)} games, {len(act)} actions")
        if len(games) == 0:
            return np.zeros(0)
        if games.min() < 0 or games.max() >= self.num_games:
            raise ValueError(f"games must be indices in 0..{self.num_games - 1}, got {games.tolist()}")
        if len(games) > 1 and np.bincount(games, minlength=1).max() > 1:
            raise ValueError(f"a game may be stepped once per call, got games {games.tolist()}")
        bad = (act < 0) | (act > 4)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"game {games[i]}: action must be in 0..4 (stand, up, down, left, right), got {act[i]}")
        idle = ~self.started[games] | self.terminated[games] | self.truncated[games]
        if idle.any():
            i = int(np.flatnonzero(idle)[0])
            raise GameOverError(f"game {games[i]} is over or was never reset; reset it before stepping it")

        robot = self.current[games]
        legal = self.masks(games, robot)[np.arange(len(games)), act].astype(bool)
        reward = np.full(len(games), REWARD_ILLEGAL)
        cell = self.position[games, robot]
        on_blue = self._color[cell] == BLUE

        stand = legal & (act == 0)
        if stand.any():
            g, k = games[stand], robot[stand]
            self.stand_count[g, k] += 1
            reward[stand] = np.where(on_blue[stand], REWARD_STAND_ON_BLUE, REWARD_STAND)
            charged = on_blue[stand]
            if charged.any():
                self._charge(g[charged], k[charged])

        move = legal & (act > 0)
        if move.any():
            reward[move] = self._move(games[move], robot[move], cell[move], act[move])

        self.num_steps[games] += 1
        player = self.player_of[robot]
        won = self.score[games, player] >= self.config.required_mail
        self.terminated[games[won]] = True
        self.winner[games[won]] = player[won]
        self.truncated[games] |= self.num_steps[games] >= self.config.max_step
        self.steps_left[games] -= 1
        turn_over = self.steps_left[games] <= 0
        ended = games[turn_over]
        self.current[ended] = (robot[turn_over] + 1) % self.num_robots
        if self.config.random_num_steps:
            for game in ended.tolist():
                self.steps_left[game] = self._steps_per_turn(self._rngs[game])
        else:
            self.steps_left[ended] = 1
        return reward

    def _move(self, games: np.ndarray, robots: np.ndarray, source: np.ndarray, act: np.ndarray) -> np.ndarray:
        """Rule §6 moves of ``robots`` (one per game, all legal); returns their rewards."""
        target = self._neighbour[source, act]
        self.stand_count[games, robots] = 0
        numbers = self.board.mail_numbers
        for game, cell in zip(games.tolist(), source.tolist()):
            if self._color[cell] == GREEN:  # leaving a green cell redraws its mail
                self.green_mail[game, cell] = self._rngs[game].choice(numbers)
        self.occupant[games, source] = -1
        self.occupant[games, target] = robots
        self.position[games, robots] = target
        battery = self.config.with_battery
        if battery:
            e = self.energy[games, robots]
            e = np.maximum(np.where(e > 2.0, e - 0.2, e - 0.1), 0.0)
            self.energy[games, robots] = e
            self.level[games, robots] = np.ceil(e).astype(np.int64)
        color = self._color[target]
        reward = np.full(len(games), REWARD_PLAIN_MOVE)
        green = color == GREEN
        self.mail[games[green], robots[green]] = self.green_mail[games[green], target[green]]
        reward[green] = REWARD_PICKUP
        yellow = color == YELLOW
        if yellow.any():
            g, k = games[yellow], robots[yellow]
            self.mail[g, k] = 0
            self.delivered[g, k] += 1
            self.score[g, self.player_of[k]] += 1  # one robot per game: no repeated (game, player)
            reward[yellow] = REWARD_DELIVERY
        reward[color == BLUE] = REWARD_ENTER_BLUE
        self.clock[games] += 1
        self._write_features(games, robots)
        if battery and len(self._blue):
            other_GB = self.occupant[games[:, None], self._blue[None, :]]
            waiting = (other_GB >= 0) & (other_GB != robots[:, None])
            if waiting.any():
                rows, _ = np.nonzero(waiting)
                self._charge(games[rows], other_GB[waiting])
        return reward

    def _charge(self, games: np.ndarray, robots: np.ndarray) -> None:
        """A robot on a blue cell gains one unit of energy (battery games only)."""
        if not self.config.with_battery:
            return
        e = self.energy[games, robots] + 1.0
        self.energy[games, robots] = np.where(e < BATTERY_CAPACITY, e, float(BATTERY_CAPACITY))
        self.level[games, robots] = np.ceil(self.energy[games, robots]).astype(np.int64)
        self._write_features(games, robots)
