"""Fixed policies: uniformly random legal actions, scripted controllers, the robot game's A*."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from rbtrainer.agents.base import Agent, check_discrete, random_legal_actions

__all__ = ["AStarDeliveryAgent", "RandomAgent", "ScriptedAgent"]


class RandomAgent(Agent):
    """Uniformly random legal action (any action when the mask is all zeros)."""

    def __init__(self, seed: int | None = None, name: str = "random") -> None:
        self.name = name
        self._rng = np.random.default_rng(seed)

    def seed(self, seed: int | None) -> None:
        self._rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        return random_legal_actions(self._rng, mask)


class ScriptedAgent(Agent):
    """A fixed policy from a per-observation function ``fn(obs, mask) -> action``."""

    def __init__(self, fn: Callable[[np.ndarray, np.ndarray], int], name: str = "scripted") -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable as fn(observation, action_mask) -> action, got {fn!r}")
        self.fn = fn
        self.name = name

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        return np.array([int(self.fn(o, m)) for o, m in zip(obs, mask)], dtype=np.int64)


class AStarDeliveryAgent(Agent):
    """The robot-delivery game's scripted A* controller as a seat policy."""

    def __init__(
        self, num_robots: int, with_battery: bool = False, seed: int | None = None, name: str = "astar"
    ) -> None:
        from games.robot_delivery import AStarAgent

        self.controller = AStarAgent(num_robots, with_battery=with_battery, seed=seed)
        self.name = name

    def seed(self, seed: int | None) -> None:
        self.controller.seed(seed)

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        if check_discrete(action_space) != 5:
            raise ValueError("AStarDeliveryAgent plays the robot_delivery game (5 actions)")
        c = self.controller
        space = observation_space
        if isinstance(space, gym.spaces.Dict):
            space = space.spaces["observation"]
        if space.shape != (c.features * c.num_robots,):
            raise ValueError(
                f"AStarDeliveryAgent built for {c.num_robots} robots (with_battery={c.with_battery}) "
                f"cannot read observations of shape {space.shape}"
            )

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        return np.array([self.controller.act(o, m) for o, m in zip(obs, mask)], dtype=np.int64)
