"""Playing, recording and replaying single games.

:func:`play_game` plays one game of a registered game (``env_args`` as the trainer takes them)
with one agent per seat through the game's public PettingZoo API, asking each agent
``act(obs[None], mask[None], explore=[False])``. It returns a :class:`PlayedGame`: the
:class:`GameResult`, a :class:`GameRecord` (the game, its arguments, the reset seed and every
seat's action at every env step), and optionally the ``rgb_array`` frames and a trace of what
each seat saw (:class:`SeatView`).

A record is written as a small JSON file (:meth:`GameRecord.save`, atomically) and read back
with :meth:`GameRecord.load`, which checks its format, version, game and seats. Replaying it
(:func:`replay_game`) plays the same moves from the same seed; every step is checked against the
record (the acting seats, the legality of the recorded action, the number of steps and the
result), and any difference raises :class:`ReplayDivergedError`. :class:`ReplayAgent` is the
recorded moves of one seat as an :class:`~rbtrainer.agents.base.Agent`, to stand in that seat
next to other agents.

Record layout (``version`` 1)::

    {"format": "rbtrainer-game-record", "version": 1, "game": "tictactoe", "env_args": {},
     "seats": ["player_1", "player_2"], "seed": 0, "agents": ["minimax", "random"],
     "actions": [[4, -1], [-1, 0], ...],   # per env step, one action per seat, -1: did not act
     "masked_out": [],                     # steps whose action was outside the actor's mask
     "result": {"winner": "player_1", "returns": [1.0, -1.0], "length": 7}}
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

import games
from rbtrainer.agents.base import Agent, check_discrete, legal_actions
from rbtrainer.envs.adapters import ParallelSeatGame, SeatGame, seat_game
from rbtrainer.envs.factory import describe_game, game_factory, registry_game
from rbtrainer.envs.reports import Episode
from rbtrainer.files import atomic_write

__all__ = [
    "RECORD_FORMAT",
    "RECORD_VERSION",
    "GameRecord",
    "GameResult",
    "PlayedGame",
    "ReplayAgent",
    "ReplayDivergedError",
    "SeatView",
    "play_game",
    "replay_game",
]

logger = logging.getLogger(__name__)

RECORD_FORMAT = "rbtrainer-game-record"
"""The ``format`` entry of every record file."""
RECORD_VERSION = 1
"""The record layout this module writes and reads."""

_KEYS = ("format", "version", "game", "env_args", "seats", "seed", "agents", "actions", "masked_out", "result")


class ReplayDivergedError(ValueError):
    """A replayed game left its recording: another seat to move, an illegal recorded action,
    too few or too many recorded steps, or another result."""


# ------------------------------------------------------------------------------------ records
@dataclass(frozen=True, slots=True, kw_only=True)
class GameResult:
    """How one game ended."""

    winner: str | None
    """The winner the game reported (a seat, or a player/team name), ``None`` for a draw."""
    returns: tuple[float, ...]
    """Sum of every seat's rewards over the game, in seat order."""
    length: int
    """Env steps played (actions taken by live seats)."""

    def describe(self, seats: Sequence[str]) -> str:
        """One line: winner, length and every seat's return."""
        returns = ", ".join(f"{seat} {value:g}" for seat, value in zip(seats, self.returns))
        winner = "draw" if self.winner is None else self.winner
        return f"winner: {winner}   length: {self.length} steps   returns: {returns}"


def _json_value(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists); ``TypeError`` if it cannot be written."""
    return json.loads(json.dumps(value, allow_nan=False))


@dataclass(frozen=True, kw_only=True)
class GameRecord:
    """One game's seed and every seat's actions: enough to replay it exactly."""

    game: str
    """Registry name of the game (``games.names()``)."""
    env_args: dict[str, Any]
    """Constructor arguments of the game, without ``game`` (copied; JSON values once saved)."""
    seats: tuple[str, ...]
    """The game's seats (``possible_agents``), in order."""
    seed: int
    """Seed of the game's ``reset``."""
    actions: tuple[tuple[int, ...], ...]
    """``actions[step][seat]``: the action each seat took at each env step, ``-1`` if it did not act."""
    masked_out: tuple[int, ...] = ()
    """Steps whose recorded action was outside the acting seat's action mask (normally none)."""
    agents: tuple[str, ...] = ()
    """Who sat in each seat (labels such as agent specs), or empty."""
    result: GameResult | None = None
    """How the game ended; a replay must end the same way."""
    source: str | None = field(default=None, compare=False)
    """The file the record was loaded from (named in error messages)."""

    def __post_init__(self) -> None:
        where = self._where()
        if not isinstance(self.game, str):
            raise TypeError(f"{where}game must be a registered game name, one of {games.names()}; got {self.game!r}")
        try:
            games.spec(self.game)
        except ValueError as err:
            raise ValueError(f"{where}{err}") from None
        if not isinstance(self.env_args, Mapping):
            raise TypeError(f"{where}env_args must be a dict of game arguments, got {self.env_args!r}")
        args = dict(self.env_args)
        if "game" in args:
            raise ValueError(f"{where}env_args must not hold 'game'; the game is named by the game field")
        if _json_serialisable(args):
            args = _json_value(args)  # else kept as given: such a record plays and replays, but save() refuses it
        object.__setattr__(self, "env_args", args)
        seats = self.seats
        if isinstance(seats, str) or not isinstance(seats, Sequence) or not seats:
            raise TypeError(f"{where}seats must be a non-empty list of seat names, got {seats!r}")
        if not all(isinstance(s, str) for s in seats):
            raise TypeError(f"{where}seats must be seat names (strings), got {list(seats)!r}")
        object.__setattr__(self, "seats", tuple(seats))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise TypeError(f"{where}seed must be a non-negative int, got {self.seed!r}")
        object.__setattr__(self, "actions", self._checked_actions(where))
        masked = self.masked_out
        if not isinstance(masked, Sequence) or not all(_is_int(s) and 0 <= s < len(self.actions) for s in masked):
            raise ValueError(f"{where}masked_out must list step indices in 0..{len(self.actions) - 1}, got {masked!r}")
        object.__setattr__(self, "masked_out", tuple(int(s) for s in masked))
        agents = self.agents
        if isinstance(agents, str) or not isinstance(agents, Sequence) or not all(isinstance(a, str) for a in agents):
            raise TypeError(f"{where}agents must be a list of labels (strings), got {agents!r}")
        if agents and len(agents) != len(self.seats):
            raise ValueError(f"{where}agents names {len(agents)} agents for {len(self.seats)} seats {list(self.seats)}")
        object.__setattr__(self, "agents", tuple(agents))
        if self.result is not None:
            if not isinstance(self.result, GameResult):
                raise TypeError(f"{where}result must be a GameResult or None, got {self.result!r}")
            if len(self.result.returns) != len(self.seats):
                raise ValueError(
                    f"{where}result has {len(self.result.returns)} returns but the record has "
                    f"{len(self.seats)} seats {list(self.seats)}"
                )

    def _where(self) -> str:
        return f"{self.source}: " if self.source else "game record: "

    def _checked_actions(self, where: str) -> tuple[tuple[int, ...], ...]:
        rows = self.actions
        if isinstance(rows, str) or not isinstance(rows, Sequence):
            raise TypeError(f"{where}actions must be a list of steps, each a list of one action per seat")
        out = []
        for step, row in enumerate(rows):
            if isinstance(row, str) or not isinstance(row, Sequence) or not all(_is_int(a) and a >= -1 for a in row):
                raise ValueError(f"{where}actions[{step}] must be a list of ints >= -1 (one per seat), got {row!r}")
            if len(row) != len(self.seats):
                raise ValueError(
                    f"{where}actions[{step}] has {len(row)} entries but the record has {len(self.seats)} seats "
                    f"{list(self.seats)}; each step lists one action per seat (-1: did not act)"
                )
            if all(a < 0 for a in row):
                raise ValueError(f"{where}actions[{step}] has no acting seat (every entry is -1)")
            out.append(tuple(int(a) for a in row))
        return tuple(out)

    # ------------------------------------------------------------------------ views
    @property
    def env_args_with_game(self) -> dict[str, Any]:
        """``env_args`` with the ``game`` key, as :class:`~rbtrainer.trainer.DecentralizedTrainer` takes them."""
        return {"game": self.game, **self.env_args}

    def seat_index(self, seat: int | str) -> int:
        """The index of a seat given by index or name."""
        if isinstance(seat, str):
            if seat not in self.seats:
                raise ValueError(f"{self._where()}unknown seat {seat!r}; the recorded seats are {list(self.seats)}")
            return self.seats.index(seat)
        if not _is_int(seat) or not 0 <= seat < len(self.seats):
            raise ValueError(f"{self._where()}seat must be a seat name or an index in 0..{len(self.seats) - 1}")
        return int(seat)

    def seat_actions(self, seat: int | str) -> tuple[int, ...]:
        """The actions of one seat, in the order it took them."""
        k = self.seat_index(seat)
        return tuple(row[k] for row in self.actions if row[k] >= 0)

    def replay_agent(self, seat: int | str) -> ReplayAgent:
        """A :class:`ReplayAgent` replaying this seat's recorded actions."""
        k = self.seat_index(seat)
        moves = [step for step, row in enumerate(self.actions) if row[k] >= 0]
        masked = set(self.masked_out)
        return ReplayAgent(
            self.seat_actions(k),
            name=f"replay of {self.seats[k]}" + (f" ({self.agents[k]})" if self.agents else ""),
            masked_out=[i for i, step in enumerate(moves) if step in masked],
        )

    def check_env_args(self, env_args: Mapping[str, Any], what: str = "env_args") -> None:
        """``ValueError`` naming the file and the argument if ``env_args`` ask for another game than recorded.

        Only the keys present in ``env_args`` are compared (``game`` against :attr:`game`).
        """
        for key, value in env_args.items():
            recorded = self.game if key == "game" else self.env_args.get(key, _MISSING)
            try:
                same = _json_value(value) == recorded
            except (TypeError, ValueError):
                same = value == recorded
            if not same:
                shown = "not set" if recorded is _MISSING else f"{key}={recorded!r}"
                raise ValueError(
                    f"{self._where()}the record is a {self.game} game with {shown}, but {what} asks for "
                    f"{key}={value!r}; drop that argument to replay the recorded game"
                )

    # ------------------------------------------------------------------------ files
    def to_json(self) -> dict[str, Any]:
        """The record as the JSON object written by :meth:`save`."""
        try:
            env_args = _json_value(self.env_args)
        except (TypeError, ValueError):
            bad = next(k for k, v in self.env_args.items() if not _json_serialisable(v))
            raise ValueError(
                f"env_args[{bad!r}] = {self.env_args[bad]!r} cannot be written to a game record (JSON); "
                "play the game with plain values (numbers, strings, lists, dicts), e.g. a layout dict"
            ) from None
        result = self.result
        return {
            "format": RECORD_FORMAT,
            "version": RECORD_VERSION,
            "game": self.game,
            "env_args": env_args,
            "seats": list(self.seats),
            "seed": self.seed,
            "agents": list(self.agents),
            "actions": [list(row) for row in self.actions],
            "masked_out": list(self.masked_out),
            "result": None
            if result is None
            else {"winner": result.winner, "returns": [float(r) for r in result.returns], "length": result.length},
        }

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the record as JSON (atomically: a temporary file renamed into place); returns the path."""
        data = self.to_json()
        lines = [f"  {json.dumps(key)}: {json.dumps(data[key])}" for key in _KEYS if key != "actions"]
        rows = ",\n".join(f"    {json.dumps(row, separators=(',', ':'))}" for row in data["actions"])
        lines.insert(_KEYS.index("actions"), '  "actions": [' + (f"\n{rows}\n  ]" if rows else "]"))
        text = "{\n" + ",\n".join(lines) + "\n}\n"
        with atomic_write(path) as handle:
            handle.write(text.encode("utf-8"))
        logger.info("game record written to %s (%d steps)", os.fspath(path), len(self.actions))
        return os.fspath(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> GameRecord:
        """Read a record written by :meth:`save`; ``ValueError`` naming the file for anything else."""
        name = os.fspath(path)
        try:
            with open(name, "rb") as handle:
                data = json.loads(handle.read().decode("utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"game record {name!r} does not exist") from None
        except IsADirectoryError:
            raise IsADirectoryError(f"game record {name!r} is a directory, not a record file") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{name}: not an rbtrainer game record (not JSON: {err})") from None
        return cls.from_json(data, source=name)

    @classmethod
    def from_json(cls, data: Any, source: str | None = None) -> GameRecord:
        """The record of a JSON object as :meth:`to_json` makes it (checked; errors name ``source``)."""
        where = f"{source}: " if source else "game record: "
        if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
            raise ValueError(f'{where}not an rbtrainer game record (no "format": {json.dumps(RECORD_FORMAT)})')
        version = data.get("version")
        if version != RECORD_VERSION:
            raise ValueError(
                f"{where}game record version {version!r} is not supported; this rbtrainer reads version "
                f"{RECORD_VERSION}" + (" (the file was written by a newer rbtrainer)" if _is_int(version) else "")
            )
        required = {"game", "env_args", "seats", "seed", "actions"}
        missing = sorted(required - set(data))
        if missing:
            raise ValueError(f"{where}the record lacks {missing}")
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise ValueError(f"{where}unknown entries {unknown} in the record; known: {list(_KEYS)}")
        result = data.get("result")
        if result is not None:
            result = _result_from_json(result, where)
        try:
            return cls(
                game=data["game"],
                env_args=data["env_args"],
                seats=data["seats"],
                seed=data["seed"],
                actions=data["actions"],
                masked_out=data.get("masked_out", ()),
                agents=data.get("agents", ()),
                result=result,
                source=source,
            )
        except TypeError as err:  # a wrong type in a file is a bad value of that file
            raise ValueError(str(err)) from None


class _Missing:
    def __repr__(self) -> str:
        return "<not set>"


_MISSING: Any = _Missing()


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json_serialisable(value: Any) -> bool:
    try:
        _json_value(value)
    except (TypeError, ValueError):
        return False
    return True


def _result_from_json(data: Any, where: str) -> GameResult:
    if not isinstance(data, dict) or set(data) != {"winner", "returns", "length"}:
        raise ValueError(f"{where}result must be an object with winner, returns and length, got {data!r}")
    winner, returns, length = data["winner"], data["returns"], data["length"]
    if winner is not None and not isinstance(winner, str):
        raise ValueError(f"{where}result winner must be a name or null, got {winner!r}")
    if not isinstance(returns, list) or not all(_is_number(r) for r in returns):
        raise ValueError(f"{where}result returns must be a list of numbers, got {returns!r}")
    if not _is_int(length) or length < 0:
        raise ValueError(f"{where}result length must be a non-negative int, got {length!r}")
    return GameResult(winner=winner, returns=tuple(float(r) for r in returns), length=int(length))


# ------------------------------------------------------------------------------- replay agent
class ReplayAgent(Agent):
    """An agent that plays a recorded sequence of actions, one per call row, in order.

    It fills one seat of one game. A recorded action that is illegal under the row's action mask
    (unless its index is in ``masked_out``: it was outside the mask when recorded, too) or a call
    after the last recorded action raises :class:`ReplayDivergedError`: the game is no longer
    the recorded one. :meth:`rewind` starts again from the first action.
    """

    def __init__(self, actions: Sequence[int], name: str = "replay", masked_out: Collection[int] = ()) -> None:
        if isinstance(actions, str) or not isinstance(actions, Sequence):
            raise TypeError(f"actions must be a sequence of ints (the recorded actions), got {actions!r}")
        if not all(_is_int(a) and a >= 0 for a in actions):
            raise ValueError(f"actions must be non-negative ints (the recorded actions), got {list(actions)!r}")
        self.actions: tuple[int, ...] = tuple(int(a) for a in actions)
        self.name = name
        self.masked_out = frozenset(int(i) for i in masked_out)
        self.position = 0
        """Index of the next action to play."""

    @property
    def remaining(self) -> int:
        """Recorded actions not played yet."""
        return len(self.actions) - self.position

    def rewind(self) -> None:
        """Start again from the first recorded action."""
        self.position = 0

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        n = check_discrete(action_space)
        bad = [a for a in self.actions if a >= n]
        if bad:
            raise ValueError(f"{self.name}: recorded actions {sorted(set(bad))} are outside this seat's {n} actions")

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        mask_BA = np.asarray(mask)
        out = np.empty(len(mask_BA), dtype=np.int64)
        for row in range(len(mask_BA)):
            if self.position >= len(self.actions):
                raise ReplayDivergedError(
                    f"{self.name}: all {len(self.actions)} recorded actions are played, but the game asks for "
                    "another; the game diverged from the recording"
                )
            action = self.actions[self.position]
            if self.position not in self.masked_out:
                _check_legal(action, mask_BA[row], f"{self.name}: move {self.position + 1}")
            out[row] = action
            self.position += 1
        return out


def _check_legal(action: int, mask_A: np.ndarray, where: str) -> None:
    legal = legal_actions(np.asarray(mask_A)[None])[0]
    if not 0 <= action < len(legal) or not legal[action]:
        raise ReplayDivergedError(
            f"{where}: the recorded action {action} is illegal here (legal actions "
            f"{np.flatnonzero(legal).tolist()}); the game diverged from the recording"
        )


# ------------------------------------------------------------------------------------ playing
@dataclass(frozen=True, slots=True)
class SeatView:
    """What one seat saw once: at its decision, or at its end (AEC: each ``last()``)."""

    seat: int
    observation: np.ndarray
    """The observation as the agents get it (float32; the ``observation`` entry of dict observations), copied."""
    action_mask: np.ndarray
    """int8 action mask (all ones for games without masks)."""
    reward: float
    """Reward the seat received since it last saw the game (AEC: what ``last()`` reports)."""
    terminated: bool
    truncated: bool


@dataclass(frozen=True, slots=True)
class PlayedGame:
    """One game played (or replayed): its result and record, and frames/trace when asked for."""

    record: GameRecord
    result: GameResult
    frames: list[np.ndarray]
    """``rgb_array`` frames: the start and the board after every step (``render=True``), else empty."""
    trace: list[SeatView]
    """What every seat saw, in order (``trace=True``), else empty."""
    fps: float
    """Frames per second the game suggests for animations (its ``render_fps``)."""

    def save_gif(self, path: str | os.PathLike[str], fps: float | None = None) -> str:
        """Write the frames as an animated GIF (atomically); returns the path."""
        from rbtrainer.plotting import save_gif

        if not self.frames:
            raise ValueError("this game was played without frames; play or replay it with render=True to draw it")
        return save_gif(self.frames, path, fps=self.fps if fps is None else fps)


# (step, acting seats, their observations, their masks) -> their actions
_Chooser = Callable[[int, list[int], list[np.ndarray], list[np.ndarray]], list[int]]


@dataclass(slots=True)
class _Tally:
    """What one played game leaves behind: its action rows, trace, frames and how it ended."""

    seats: tuple[str, ...]
    trace_on: bool
    unseen: np.ndarray
    """Rewards each seat received since it last saw the game."""
    actions: list[tuple[int, ...]] = field(default_factory=list)
    masked_out: list[int] = field(default_factory=list)
    trace: list[SeatView] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    episode: Episode | None = None

    def see(self, seat: int, obs: np.ndarray, mask: np.ndarray, terminated: bool, truncated: bool) -> None:
        if self.trace_on:
            reward = float(self.unseen[seat])
            self.trace.append(SeatView(seat, obs.copy(), mask.copy(), reward, terminated, truncated))
        self.unseen[seat] = 0.0

    def book(self, acting: list[int], chosen: list[int], masks: list[np.ndarray]) -> np.ndarray:
        """Record the step's actions; returns them as the adapter takes them (one per seat, -1: none)."""
        row = np.full(len(self.seats), -1, dtype=np.int64)
        outside = False
        for seat, action, mask in zip(acting, chosen, masks):
            row[seat] = action
            legal = legal_actions(mask[None])[0]
            outside = outside or not (0 <= action < len(legal) and legal[action])
        if outside:
            self.masked_out.append(len(self.actions))
        self.actions.append(tuple(row.tolist()))
        return row

    def result(self) -> GameResult:
        episode = self.episode
        if episode is None:
            raise RuntimeError("the game has not ended")
        returns = tuple(float(r) for r in episode.returns)
        return GameResult(winner=episode.winner, returns=returns, length=episode.length)


def _run(game: SeatGame, seed: int, choose: _Chooser, render: bool, trace: bool) -> _Tally:
    """Play one game through its seat adapter from ``reset(seed)``; ``choose`` picks the actions.

    The trace is what every seat saw, in the order the game showed it: a turn-based game's seat
    at each of its decisions and at its end; a parallel game's seats at the start and after
    every step they acted in.
    """
    seats = tuple(game.seats)
    tally = _Tally(seats=seats, trace_on=trace, unseen=np.zeros(len(seats)))
    parallel = isinstance(game, ParallelSeatGame)
    decision = game.reset(seed)
    if render:
        tally.frames.append(game.render())
    if parallel:
        for seat, obs, mask in zip(decision.seats, decision.obs, decision.masks):
            tally.see(seat, obs, mask, False, False)
    while tally.episode is None:
        acting = list(decision.seats)
        if not parallel:
            tally.see(acting[0], decision.obs[0], decision.masks[0], False, False)
        chosen = choose(len(tally.actions), acting, decision.obs, decision.masks)
        report = game.step(tally.book(acting, chosen, decision.masks))
        tally.unseen += report.rewards
        closed = {c.seat: c for c in report.closed}
        if parallel:
            live = dict(zip(report.next.seats, zip(report.next.obs, report.next.masks)))
            for seat in acting:
                end = closed.get(seat)
                if end is not None:
                    tally.see(seat, end.obs, end.mask, end.terminated, end.truncated)
                else:
                    tally.see(seat, *live[seat], False, False)
        else:
            for end in report.closed:
                tally.see(end.seat, end.obs, end.mask, end.terminated, end.truncated)
        if render:
            tally.frames.append(game.render())
        tally.episode = report.episode
        decision = report.next
    return tally


def _render_fps(name: str, render: bool) -> float:
    entry = games.spec(name)
    metadata = getattr(getattr(importlib.import_module(entry.module), entry.cls), "metadata", {})
    if render and "rgb_array" not in metadata.get("render_modes", []):
        raise ValueError(
            f"game {name!r} cannot draw frames (its render modes are {metadata.get('render_modes', [])}, "
            "no 'rgb_array'); play it without a GIF"
        )
    return float(metadata.get("render_fps", 4))


def _factory(name: str, args: Mapping[str, Any], render: bool) -> Callable[[], Any]:
    """The trainer's factory of the game, drawing ``rgb_array`` frames with ``render``."""
    return game_factory({"game": name, **args, **({"render_mode": "rgb_array"} if render else {})}, None)


def play_game(
    agents: Sequence[Agent],
    env_args: Mapping[str, Any] | None = None,
    *,
    seed: int | None = None,
    render: bool = False,
    trace: bool = False,
    labels: Sequence[str] | None = None,
) -> PlayedGame:
    """Play one game of a registered game with ``agents[i]`` in seat ``i``; returns it recorded.

    ``env_args`` (not mutated) name the game under ``"game"`` (default :data:`games.DEFAULT_GAME`) plus
    its constructor arguments, as :class:`~rbtrainer.trainer.DecentralizedTrainer` takes them.
    ``seed`` seeds the game's ``reset`` (``None``: drawn at random, and recorded); agents carry
    their own seeds. Agents act greedily (``explore`` false). ``render``: collect ``rgb_array``
    frames; ``trace``: keep what every seat saw. ``labels`` name who sits where in the record
    (default: the agents' names).
    """
    name, args = registry_game(env_args)
    if "render_mode" in args:
        raise ValueError("env_args: leave out render_mode; play_game(render=True) draws rgb_array frames")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    elif not _is_int(seed) or seed < 0:
        raise TypeError(f"seed must be a non-negative int or None, got {seed!r}")
    fps = _render_fps(name, render)
    factory = _factory(name, args, render)
    info = describe_game(factory)
    seats = info.seats
    agents = list(agents)
    if len(agents) != len(seats):
        raise ValueError(
            f"agents: game {name!r} has {len(seats)} seats {list(seats)}; give one agent per seat, got {len(agents)}"
        )
    for seat, agent, obs_space, action_space in zip(seats, agents, info.observation_spaces, info.action_spaces):
        if not isinstance(agent, Agent):
            raise TypeError(f"agents: seat {seat!r} holds {agent!r}, not an rbtrainer Agent")
        agent.check_spaces(obs_space, action_space)
    if labels is None:
        labels = [agent.name for agent in agents]
    elif isinstance(labels, str) or len(labels) != len(seats) or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"labels must name the agent of each of the {len(seats)} seats, got {labels!r}")
    no_explore = np.zeros(1, dtype=bool)

    def choose(step: int, acting: list[int], obs: list[np.ndarray], masks: list[np.ndarray]) -> list[int]:
        chosen = []
        for seat, o, m in zip(acting, obs, masks):
            act = np.asarray(agents[seat].act(o.astype(np.float32)[None], m[None], no_explore))
            if act.shape != (1,) or not np.issubdtype(act.dtype, np.integer) or act[0] < 0:
                raise ValueError(
                    f"{agents[seat]!r}.act returned {act!r}; expected one non-negative integer action, shape (1,)"
                )
            chosen.append(int(act[0]))
        return chosen

    game = seat_game(factory, 0, auto_reset=False)
    try:
        tally = _run(game, seed, choose, render, trace)
    finally:
        game.close()
    result = tally.result()
    if tally.masked_out:
        logger.warning("%d recorded action(s) were outside the acting seat's action mask", len(tally.masked_out))
    record = GameRecord(
        game=name,
        env_args=args,
        seats=seats,
        seed=seed,
        actions=tuple(tally.actions),
        masked_out=tuple(tally.masked_out),
        agents=tuple(labels),
        result=result,
    )
    logger.info("%s, seed %d: %s", name, seed, result.describe(seats))
    return PlayedGame(record=record, result=result, frames=tally.frames, trace=tally.trace, fps=fps)


def replay_game(record: GameRecord, *, render: bool = False, trace: bool = False) -> PlayedGame:
    """Play ``record`` again, step by step from its seed; returns the replayed game.

    Every step is checked against the record: the seats asked to act, the legality of the
    recorded actions, the number of steps and the result. Any difference raises
    :class:`ReplayDivergedError` naming the record's file and the step.
    """
    if not isinstance(record, GameRecord):
        raise TypeError(f"record must be a GameRecord (see GameRecord.load), got {type(record).__name__}")
    where = record.source or "game record"
    fps = _render_fps(record.game, render)
    try:
        games.check_arguments(record.game, record.env_args)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    game = seat_game(_factory(record.game, record.env_args, render), 0, auto_reset=False)
    try:
        seats = tuple(game.seats)
        if seats != record.seats:
            raise ValueError(
                f"{where}: the record has {len(record.seats)} seats {list(record.seats)}, but {record.game} with "
                f"arguments {record.env_args} has {len(seats)} seats {list(seats)}"
            )
        masked = set(record.masked_out)

        def choose(step: int, acting: list[int], obs: list[np.ndarray], masks: list[np.ndarray]) -> list[int]:
            if step >= len(record.actions):
                raise ReplayDivergedError(
                    f"{where}: the game goes on after all {len(record.actions)} recorded steps; it diverged"
                )
            row = record.actions[step]
            recorded = [s for s, a in enumerate(row) if a >= 0]
            if sorted(acting) != recorded:
                raise ReplayDivergedError(
                    f"{where}: at step {step} the game asks {[seats[s] for s in acting]} to act, but the record has "
                    f"{[seats[s] for s in recorded]}; the game diverged from the recording"
                )
            if step not in masked:
                for seat, mask in zip(acting, masks):
                    _check_legal(row[seat], mask, f"{where}: step {step}, {seats[seat]}")
            return [row[s] for s in acting]

        tally = _run(game, record.seed, choose, render, trace)
    finally:
        game.close()
    if len(tally.actions) != len(record.actions):
        raise ReplayDivergedError(
            f"{where}: the game ended after {len(tally.actions)} steps, but the record has {len(record.actions)}"
        )
    result = tally.result()
    if record.result is not None and result != record.result:
        raise ReplayDivergedError(
            f"{where}: the replay ended differently from the recorded game: {result.describe(seats)} "
            f"(recorded: {record.result.describe(seats)})"
        )
    return PlayedGame(record=record, result=result, frames=tally.frames, trace=tally.trace, fps=fps)
