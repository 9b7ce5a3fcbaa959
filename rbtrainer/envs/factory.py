"""Game factories: from ``env_args`` / ``env_fn`` to a zero-argument factory, and a game's static facts.

The trainer drives the game beneath the wrappers that only check calls (it orders calls and
honours masks itself), which is several times faster. Wrappers that are rules of the game stay:
PettingZoo's ``TerminateIllegalWrapper`` ends the game with a penalty for an illegal move.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils import wrappers as pz_wrappers

import games

__all__ = [
    "GameInfo",
    "batch_twin",
    "describe_game",
    "game_factory",
    "observation_part",
    "registry_game",
    "strip_check_wrappers",
]

# Wrappers that only check calls. TerminateIllegalWrapper is not among them: it is a rule.
_CHECK_ONLY_WRAPPERS = (pz_wrappers.OrderEnforcingWrapper, pz_wrappers.AssertOutOfBoundsWrapper)


def strip_check_wrappers(env: Any) -> Any:
    """The env beneath its outer check-only wrappers (rule wrappers and what they wrap stay)."""
    while isinstance(env, _CHECK_ONLY_WRAPPERS):
        env = env.env
    return env


def game_factory(env_args: Mapping[str, Any] | None, env_fn: Callable[..., Any] | None) -> Callable[[], Any]:
    """A zero-argument factory of the game described by ``env_args`` / ``env_fn``.

    With ``env_fn`` the env args (if any) are passed to it as keywords; otherwise ``env_args``
    names a registry game under ``"game"`` (default :data:`games.DEFAULT_GAME`) plus its arguments.
    The caller's mapping is copied, never modified.
    """
    if env_args is not None and not isinstance(env_args, Mapping):
        raise TypeError(f"env_args must be a dict of game arguments, got {type(env_args).__name__}")
    args = dict(env_args or {})
    if env_fn is not None:
        if not callable(env_fn):
            raise TypeError(f"env_fn must be a callable returning a PettingZoo env, got {env_fn!r}")
        return _EnvFnFactory(env_fn, args)
    name, args = registry_game(args)
    return _RegistryFactory(name, args)


def registry_game(env_args: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """``(game name, constructor arguments)`` of registry-game ``env_args`` (a copy, without ``"game"``).

    No ``"game"`` key means :data:`games.DEFAULT_GAME`. Unknown games or arguments raise
    ``ValueError`` listing what exists.
    """
    if env_args is not None and not isinstance(env_args, Mapping):
        raise TypeError(f"env_args must be a dict of game arguments, got {type(env_args).__name__}")
    args = dict(env_args or {})
    name = args.pop("game", games.DEFAULT_GAME)
    games.spec(name)  # unknown names fail here, listing the registered ones
    try:
        games.check_arguments(name, args)
    except ValueError as err:
        raise ValueError(f"env_args: {err}") from None
    return name, args


def batch_twin(factory: Callable[[], Any], num_games: int) -> Any | None:
    """The batch-native twin of ``num_games`` games of ``factory``'s game, or None.

    Only a registry game whose environment class itself defines ``batch_rules(num_games)`` (not
    a subclass or a wrapper that could change its rules) has one: robot delivery, tic-tac-toe and
    connect four.
    """
    if not isinstance(factory, _RegistryFactory):
        return None
    game = strip_check_wrappers(factory())
    if "batch_rules" not in type(game).__dict__:
        return None
    return game.batch_rules(num_games)


@dataclass(frozen=True)
class _RegistryFactory:
    name: str
    kwargs: dict[str, Any]

    def __call__(self) -> Any:
        return games.make(self.name, raw=True, **self.kwargs)


@dataclass(frozen=True)
class _EnvFnFactory:
    fn: Callable[..., Any]
    kwargs: dict[str, Any]

    def __call__(self) -> Any:
        return self.fn(**self.kwargs)


@dataclass(frozen=True)
class GameInfo:
    """Static facts of a game, read once from a fresh instance."""

    name: str
    api: str
    """``"aec"`` or ``"parallel"``."""
    seats: tuple[str, ...]
    observation_spaces: tuple[gym.Space, ...]
    """Observation space of each seat (the ``observation`` entry for dict observations)."""
    action_spaces: tuple[gym.Space, ...]
    players: tuple[str, ...]
    """Names the game uses for winners (the env's ``players`` attribute, else the seats)."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """A copy of the env's ``metadata`` (``name``, ``render_modes``, ``reward_threshold``, ...)."""

    def winning_seats(self, winner: str | None) -> tuple[int, ...]:
        """The seats a reported winner stands for (empty for a draw).

        A winner is a seat name, or a player (team) name; a game with fewer players than seats
        lists its seats player by player, each player owning an equal block (the robot game's
        ``r1, r2, b1, b2``).
        """
        if winner is None:
            return ()
        if winner in self.seats:
            return (self.seats.index(winner),)
        if winner in self.players and len(self.seats) % len(self.players) == 0:
            size = len(self.seats) // len(self.players)
            start = self.players.index(winner) * size
            return tuple(range(start, start + size))
        raise ValueError(
            f"the game reported winner {winner!r}, which is neither a seat {list(self.seats)} nor a player "
            f"{list(self.players)} owning an equal block of seats"
        )


def observation_part(space: gym.Space) -> gym.Space:
    """The space agents learn from: the ``observation`` entry of a Dict space, else the space itself."""
    if isinstance(space, gym.spaces.Dict) and "observation" in space.spaces:
        return space.spaces["observation"]
    return space


def describe_game(factory: Callable[[], Any]) -> GameInfo:
    """Build one instance and read its seats and spaces; checks it is a PettingZoo env."""
    env = factory()
    if isinstance(env, AECEnv):
        api = "aec"
    elif isinstance(env, ParallelEnv):
        api = "parallel"
    else:
        raise TypeError(
            f"the game factory returned {type(env).__name__}; env_fn must return a PettingZoo AECEnv or ParallelEnv"
        )
    try:
        seats = tuple(env.possible_agents)
        if not seats:
            raise ValueError("the game has no possible_agents; a game needs at least one seat")
        obs_spaces = [observation_part(env.observation_space(agent)) for agent in seats]
        action_spaces = tuple(env.action_space(a) for a in seats)
        for agent, space in zip(seats, action_spaces):
            if not isinstance(space, gym.spaces.Discrete):
                raise TypeError(f"seat {agent!r} has action space {space}; rbtrainer supports Discrete action spaces")
        name = str(getattr(env, "metadata", {}).get("name", type(env).__name__))
        return GameInfo(
            name=name,
            api=api,
            seats=seats,
            observation_spaces=tuple(obs_spaces),
            action_spaces=action_spaces,
            players=tuple(getattr(env.unwrapped, "players", seats)),
            metadata=dict(getattr(env, "metadata", {}) or {}),
        )
    finally:
        env.close()
