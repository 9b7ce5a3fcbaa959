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
    static_mask_table,
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
        self._table = np.array(static_mask_table(board), dtype=np.int8)
        self._neighbour = np.array(board.neighbour, dtype=np.int64)  # -1 off the board
        #: the four move targets of each cell, off-board ones as the occupant table's extra column
        self._neighbour_padded = np.where(self._neighbour[:, 1:] < 0, c, self._neighbour[:, 1:])
        self._color = np.array(board.color, dtype=np.int64)
        self._blue = np.array(board.blue_cells, dtype=np.int64)
        x_C = np.arange(c) % board.size
        y_C = np.arange(c) // board.size
        self._x_feature = (x_C / board.position_scale).astype(np.float32)
        self._y_feature = (y_C / board.position_scale).astype(np.float32)
        self._view_order = np.array([[k] + [j for j in range(n) if j != k] for k in range(n)], dtype=np.int64)
        self._green = np.array(board.green_cells, dtype=np.int64)
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
        self._acting_mask = np.zeros((g, 5), dtype=np.int8)
        self._acting_known = np.zeros(g, dtype=bool)
        self._live = np.zeros(g, dtype=bool)  # reset and not over

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
        self._live[games] = True
        self._acting_known[games] = False
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
        at = games * self.num_robots + robots
        cells = self.position.reshape(-1).take(at)
        row = np.empty((len(at), self._features), dtype=np.float32)
        row[:, 0] = self._x_feature.take(cells)
        row[:, 1] = self._y_feature.take(cells)
        row[:, 2] = self.mail.reshape(-1).take(at) / self.board.mail_scale
        if self._features == 4:
            row[:, 3] = self.level.reshape(-1).take(at) / BATTERY_CAPACITY
        self._feat.reshape(-1, self._features)[at] = row

    # ----------------------------------------------------------- inspection
    @property
    def game_over(self) -> np.ndarray:
        return self.terminated | self.truncated

    def masks(self, games: np.ndarray | None = None, robots: np.ndarray | None = None) -> np.ndarray:
        """The int8 action masks (rows x 5) of ``robots`` (default: the robot to act) in ``games``
        (default: all)."""
        games = self._rows if games is None else np.asarray(games, dtype=np.int64)
        if robots is None:
            robots, acting = self.current[games], True
        else:
            robots = np.asarray(robots, dtype=np.int64)
            acting = bool((robots == self.current[games]).all())
        if acting and self._acting_known[games].all():
            return self._acting_mask[games]
        at = games * self.num_robots + robots  # flat (game, robot) indices
        cell = self.position.reshape(-1).take(at)
        mail, level = self.mail.reshape(-1).take(at), self.level.reshape(-1).take(at)
        mask = self._table[(cell * self._num_mail + mail) * 11 + level]
        # S6: standing is illegal after STAND_LIMIT stands, except on a blue cell
        mask[:, 0] &= (self.stand_count.reshape(-1).take(at) < STAND_LIMIT) | (self._color.take(cell) == BLUE)
        # M5: a move into an occupied cell is illegal (off-board neighbours read the -1 column)
        around = games[:, None] * (self.num_cells + 1) + self._neighbour_padded[cell]
        mask[:, 1:] &= self.occupant.reshape(-1).take(around) < 0
        if acting:  # the acting robots' masks hold until their games are stepped or reset
            self._acting_mask[games] = mask
            self._acting_known[games] = True
        return mask

    def observations(self, games: np.ndarray | None = None, robots: np.ndarray | None = None) -> np.ndarray:
        """The float32 views (rows x features) of ``robots`` (default: the robot to act) in ``games``:
        the robot's own features first, then the others in agent order (then the mails waiting on
        the green cells, with ``observe_station_mail``)."""
        games = self._rows if games is None else np.asarray(games, dtype=np.int64)
        robots = self.current[games] if robots is None else np.asarray(robots, dtype=np.int64)
        order = self._view_order[robots]
        view = self._feat[games[:, None], order].reshape(len(games), -1)
        if not self.config.observe_station_mail:
            return view
        waiting = (self.green_mail[games[:, None], self._green] / self.board.mail_scale).astype(np.float32)
        return np.concatenate([view, waiting], axis=1)

    # ------------------------------------------- many-games interface of the trainer's pools
    @property
    def num_seats(self) -> int:
        """Seats of a game: one per robot, in agent order."""
        return self.num_robots

    def acting(self, games: np.ndarray) -> np.ndarray:
        """The seat (robot) to act in each of ``games``."""
        return self.current[games]

    def play(self, games: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """:meth:`step`, returning every seat's reward (games x seats): only the actor is rewarded.

        For callers that pass distinct games, all live, and int actions in 0..4 (the trainer's pools
        check actions against the action space and reset games as they end); nothing is checked here.
        """
        robots = self.current[games]
        rewards = np.zeros((len(games), self.num_robots))
        rewards[np.arange(len(games)), robots] = self._apply(games, actions)
        return rewards

    def ended(self, games: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(terminated, truncated)`` of ``games``."""
        return self.terminated[games], self.truncated[games]

    def outcome(self, game: int) -> tuple[str | None, float]:
        """The winner (a player name, ``None`` for none) and the game clock (legal moves) of ``game``."""
        winner = int(self.winner[game])
        return (None if winner < 0 else self.config.robot_colors[winner]), float(self.clock[game])

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
        if len(act) != len(games):
            raise ValueError(f"step needs one action per game: {len(games)} games, {len(act)} actions")
        if len(games) == 0:
            return np.zeros(0)
        if games.min() < 0 or games.max() >= self.num_games:
            raise ValueError(f"games must be indices in 0..{self.num_games - 1}, got {games.tolist()}")
        if len(games) > 1 and np.bincount(games).max() > 1:
            raise ValueError(f"a game may be stepped once per call, got games {games.tolist()}")
        if act.min() < 0 or act.max() > 4:
            i = int(np.flatnonzero((act < 0) | (act > 4))[0])
            raise ValueError(f"game {games[i]}: action must be in 0..4 (stand, up, down, left, right), got {act[i]}")
        live = self._live[games]
        if not live.all():
            i = int(np.flatnonzero(~live)[0])
            raise GameOverError(f"game {games[i]} is over or was never reset; reset it before stepping it")
        return self._apply(games, act)

    def _apply(self, games: np.ndarray, act: np.ndarray) -> np.ndarray:
        """:meth:`step` for distinct live games and actions in 0..4 (checked by the caller)."""
        rows = np.arange(len(games))
        robot = self.current[games]
        known = self._acting_known[games].all()
        legal = (self._acting_mask[games] if known else self.masks(games))[rows, act] != 0
        self._acting_known[games] = False
        reward = np.full(len(games), REWARD_ILLEGAL)

        stand = legal & (act == 0)
        if stand.any():
            g, k = games[stand], robot[stand]
            self.stand_count[g, k] += 1
            on_blue = self._color[self.position[g, k]] == BLUE
            reward[stand] = np.where(on_blue, REWARD_STAND_ON_BLUE, REWARD_STAND)
            if on_blue.any():
                self._charge(g[on_blue], k[on_blue])

        move = legal & (act > 0)
        if move.any():
            g, k = games[move], robot[move]
            reward[move] = self._move(g, k, self.position[g, k], act[move])

        steps = self.num_steps[games] + 1
        self.num_steps[games] = steps
        player = self.player_of[robot]
        won = self.score[games, player] >= self.config.required_mail
        out_of_time = steps >= self.config.max_step
        over = won | out_of_time
        if over.any():
            self.terminated[games[won]] = True
            self.winner[games[won]] = player[won]
            self.truncated[games[out_of_time]] = True
            self._live[games[over]] = False
        if self.config.random_num_steps:
            left = self.steps_left[games] - 1
            self.steps_left[games] = left
            turn_over = left <= 0
            ended = games[turn_over]
            self.current[ended] = (robot[turn_over] + 1) % self.num_robots
            for game in ended.tolist():
                self.steps_left[game] = self._steps_per_turn(self._rngs[game])
        else:  # every turn is one step
            self.current[games] = (robot + 1) % self.num_robots
        return reward

    def _move(self, games: np.ndarray, robots: np.ndarray, source: np.ndarray, act: np.ndarray) -> np.ndarray:
        """Rule §6 moves of ``robots`` (one per game, all legal); returns their rewards."""
        target = self._neighbour[source, act]
        self.stand_count[games, robots] = 0
        leaving_green = self._color[source] == GREEN
        if leaving_green.any():  # leaving a green cell redraws its mail
            numbers = self.board.mail_numbers
            for game, cell in zip(games[leaving_green].tolist(), source[leaving_green].tolist()):
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
        if green.any():
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
