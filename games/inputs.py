"""Checks of what callers hand a game, shared by every game of the package.

Each game refuses what it cannot mean with the same errors and messages:

* ``reset(seed=...)`` takes ``None`` or a non-negative int (a Python int or a NumPy integer, never a
  bool): anything else raises ``TypeError``, a negative int ``ValueError`` (:func:`check_seed`).
* A bool (``True``, ``np.bool_``) is not an action: ``step`` raises ``TypeError`` naming the action
  and the agent (:func:`reject_bool_action`).
* ``observe`` of an agent the game does not have raises ``ValueError`` listing the agents
  (:func:`unknown_agent`).

The module has no Gymnasium or PettingZoo import, so the pure rules classes may use it too.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["check_seed", "reject_bool_action", "unknown_agent"]


def check_seed(seed: object, game: str) -> int | None:
    """``seed`` as a Python int (``None`` stays ``None``); ``TypeError``/``ValueError`` otherwise.

    ``game`` names the game in the message.
    """
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{game}: reset() takes seed=None or a non-negative int, got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"{game}: reset() takes seed=None or a non-negative int, got seed={seed}")
    return int(seed)


def reject_bool_action(action: object, agent: str, num_actions: int) -> None:
    """``TypeError`` naming ``agent`` and ``action`` if ``action`` is a bool.

    ``True`` would otherwise pass as action 1 (``operator.index(True) == 1``); ``num_actions`` is
    the size of the agent's ``Discrete`` action space, for the message.
    """
    if isinstance(action, (bool, np.bool_)):
        raise TypeError(
            f"{agent}: action must be an integer in 0..{num_actions - 1}, got the bool {action!r} "
            "(a bool is not an action)"
        )


def unknown_agent(agent: object, agents: Iterable[str]) -> ValueError:
    """The error for an agent name a game does not have (the caller raises it)."""
    return ValueError(f"unknown agent {agent!r}; the agents are {list(agents)}")
