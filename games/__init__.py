"""Games shipped with rbtrainer, each a PettingZoo environment with no display dependency.

``make(name, **kwargs)`` builds a game by its registry name; ``names()`` lists them;
:data:`DEFAULT_GAME` is the game meant where env args name none. AEC games
come wrapped in PettingZoo's order-enforcing wrapper (``raw=True`` returns the bare env, which
is what the trainer drives); the parallel game is returned as is.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pettingzoo import AECEnv, ParallelEnv

__all__ = ["DEFAULT_GAME", "GameSpec", "check_arguments", "make", "names", "parameters", "spec"]

DEFAULT_GAME = "robot_delivery"
"""The game of env args without a ``"game"`` key (the trainer's, ``rbtrainer train``'s [env] table, ...)."""


@dataclass(frozen=True)
class GameSpec:
    """Where a registered game lives and what it is."""

    module: str
    """Module with ``env(**kwargs)`` and the environment class."""
    cls: str
    """Name of the environment class in ``module`` (its constructor defines the arguments)."""
    api: str
    """``"aec"`` (turn-based) or ``"parallel"`` (simultaneous moves)."""
    summary: str


_REGISTRY: dict[str, GameSpec] = {
    "robot_delivery": GameSpec(
        "games.robot_delivery.env", "RobotDeliveryEnv", "aec", "robot mail-delivery board game (2-25 robots)"
    ),
    "tictactoe": GameSpec("games.tictactoe", "TicTacToeEnv", "aec", "tic-tac-toe, PettingZoo classic conventions"),
    "connect_four": GameSpec(
        "games.connect_four", "ConnectFourEnv", "aec", "connect four, PettingZoo classic conventions"
    ),
    "matrix_game": GameSpec(
        "games.matrix_game", "MatrixGameEnv", "parallel", "iterated matrix games (prisoner's dilemma, RPS, ...)"
    ),
}


def names() -> list[str]:
    """Registered game names, sorted."""
    return sorted(_REGISTRY)


def spec(name: str) -> GameSpec:
    """The registry entry of ``name`` (``ValueError`` listing the known names otherwise)."""
    if not isinstance(name, str):
        raise TypeError(f"game name must be a string, one of {names()}; got {name!r}")
    if name not in _REGISTRY:
        raise ValueError(f"unknown game {name!r}; registered games are {names()}")
    return _REGISTRY[name]


def parameters(name: str) -> dict[str, inspect.Parameter]:
    """Constructor arguments of a registered game, by name."""
    entry = spec(name)
    cls = getattr(importlib.import_module(entry.module), entry.cls)
    return dict(inspect.signature(cls.__init__).parameters)


def check_arguments(name: str, kwargs: Mapping[str, Any]) -> None:
    """``ValueError`` naming any argument that game ``name`` does not accept, listing those it does."""
    accepted = [p for p in parameters(name) if p != "self"]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"unknown argument(s) {unknown} for game {name!r}; it accepts {accepted}")


def make(name: str, raw: bool = False, **kwargs: Any) -> AECEnv | ParallelEnv:
    """Build game ``name`` with constructor arguments ``kwargs``.

    Unknown names or arguments raise ``ValueError`` listing what exists.
    """
    entry = spec(name)
    module = importlib.import_module(entry.module)
    check_arguments(name, kwargs)
    if raw:
        return getattr(module, entry.cls)(**kwargs)
    return module.env(**kwargs)
