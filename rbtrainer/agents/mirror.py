"""Left-right mirror images of board transitions, for games whose rules do not change under them.

A connect-four position and its mirror image (columns read right to left) are worth the same, and
the mirror of a good move is a good move. A learner built with ``mirror=True`` stores each
transition twice: as played, and mirrored. The mirrored rows go to streams of their own, so an
n-step return never mixes the two.

Only boards with one action per column are mirrored: the observation is ``(height, width,
planes)`` (or a ``Dict`` with such an ``observation``) and the action space has ``width`` actions.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from rbtrainer.agents.base import observation_box

__all__ = ["ColumnMirror"]


class ColumnMirror:
    """Mirrors observations, masks and column actions of one board shape."""

    def __init__(self, observation_space: gym.Space, n_actions: int) -> None:
        shape = observation_box(observation_space).shape
        if len(shape) != 3 or int(shape[1]) != n_actions:
            raise ValueError(
                f"mirror=True needs a board observation of shape (height, width, planes) and one action per "
                f"column (width actions), got an observation of shape {shape} and {n_actions} actions; "
                "set mirror=False for this game"
            )
        self.shape = tuple(int(s) for s in shape)
        self.width = int(shape[1])

    def observations(self, obs: np.ndarray) -> np.ndarray:
        """Rows of flat or shaped observations, mirrored, in the layout they came in."""
        rows = np.asarray(obs)
        return rows.reshape(len(rows), *self.shape)[:, :, ::-1, :].reshape(rows.shape)

    def masks(self, mask: np.ndarray) -> np.ndarray:
        """Action masks (one entry per column), mirrored."""
        return np.ascontiguousarray(np.asarray(mask)[:, ::-1])

    def actions(self, act: np.ndarray) -> np.ndarray:
        """Column actions, mirrored."""
        return self.width - 1 - np.asarray(act, dtype=np.int64)
