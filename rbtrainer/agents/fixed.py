"""Fixed policies: uniformly random legal actions, scripted controllers, the robot game's A*, and a
noisy version of any agent."""

from __future__ import annotations

import math
from collections.abc import Callable

import gymnasium as gym
import numpy as np

from rbtrainer.agents.base import Agent, check_discrete, random_legal_actions
from rbtrainer.rng import spawn_seeds
from rbtrainer.validation import number_in

__all__ = ["AStarDeliveryAgent", "EpsilonAgent", "RandomAgent", "ScriptedAgent"]


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
    """A fixed policy from a per-observation function ``fn(obs, mask) -> action``.

    ``fn`` returns an integer action (a Python or NumPy int, or a float without a fraction such as
    ``2.0``); anything else (``2.7``, ``None``, a string, a bool, NaN) raises ``TypeError`` naming the
    agent, the row and the value. The range is checked where every agent's actions are (the rollout engine).
    """

    def __init__(self, fn: Callable[[np.ndarray, np.ndarray], int], name: str = "scripted") -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable as fn(observation, action_mask) -> action, got {fn!r}")
        self.fn = fn
        self.name = name

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        return np.array([self._action(row, self.fn(o, m)) for row, (o, m) in enumerate(zip(obs, mask))], dtype=np.int64)

    def _action(self, row: int, value: object) -> int:
        """What the script returned for ``row``, as an int action (refused unless it is an integer)."""
        integer = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
        whole = isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer()
        if not (integer or whole):
            raise TypeError(
                f"agent {self.name!r}: its script returned {value!r} for row {row}; fn(observation, action_mask) "
                "must return an integer action (an int, or a float without a fraction such as 2.0)"
            )
        action = int(value)  # type: ignore[call-overload]  # an int or a whole float (checked above)
        if not -(2**63) <= action < 2**63:
            raise ValueError(f"agent {self.name!r}: its script returned action {action} for row {row}, out of range")
        return action


class AStarDeliveryAgent(Agent):
    """The robot-delivery game's scripted A* controller as a seat policy."""

    def __init__(
        self,
        num_robots: int,
        with_battery: bool = False,
        seed: int | None = None,
        name: str = "astar",
        station_mail: bool = False,
    ) -> None:
        from games.robot_delivery import AStarAgent

        self.controller = AStarAgent(num_robots, with_battery=with_battery, seed=seed, station_mail=station_mail)
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
        if space.shape != (c.observation_size,):
            raise ValueError(
                f"AStarDeliveryAgent built for {c.num_robots} robots (with_battery={c.with_battery}, "
                f"station_mail={c.station_mail}) cannot read observations of shape {space.shape}; "
                "build it with the game's num_robots, with_battery and observe_station_mail"
            )

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        return np.array([self.controller.act(o, m) for o, m in zip(obs, mask)], dtype=np.int64)


class EpsilonAgent(Agent):
    """``agent``'s action, replaced by a uniformly random legal one with probability ``epsilon`` per row.

    A noisy opponent for training: an ``EpsilonAgent`` around a perfect player reaches positions the
    perfect player never would, then punishes mistakes there. The noise is part of this agent's
    character, applied whether or not the seat explores; the wrapped agent is asked for every row.
    """

    def __init__(self, agent: Agent, epsilon: float, seed: int | None = None, name: str | None = None) -> None:
        if not isinstance(agent, Agent):
            raise TypeError(f"agent must be an rbtrainer Agent, got {agent!r}")
        self.agent = agent
        self.epsilon = number_in("epsilon", epsilon, 0.0, 1.0)
        self.name = name if name is not None else f"{agent.name}~{self.epsilon:g}"
        self._rng = np.random.default_rng(seed)

    def seed(self, seed: int | None) -> None:
        """Reseed the noise and the wrapped agent (from two streams derived from ``seed``)."""
        own, inner = (None, None) if seed is None else spawn_seeds(seed, 2, stream=0)
        self._rng = np.random.default_rng(own)
        self.agent.seed(inner)

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        self.agent.check_spaces(observation_space, action_space)

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        chosen = self.agent.act(obs, mask, explore)
        noisy = self._rng.random(len(chosen)) < self.epsilon
        return np.where(noisy, random_legal_actions(self._rng, mask), chosen)
