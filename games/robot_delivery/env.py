"""PettingZoo AEC environment of the robot mail-delivery game (a thin layer over the rules).

``env(**kwargs)`` returns the environment wrapped in PettingZoo's ``OrderEnforcingWrapper``;
``raw_env`` is the unwrapped class. Invalid actions raise clear errors from the env itself, so
the ``AssertOutOfBoundsWrapper`` (which would only raise a bare assertion) is not used: a
masked-out action in 0..4 is a pass (spec Q8: -0.1, turn used); an index outside 0..4 raises
``ValueError``; ``None`` for a live agent ``ValueError``; a non-integer (a float, a string, a bool)
``TypeError`` naming the agent; ``step`` before ``reset()`` or once every agent has stepped out
:class:`~games.robot_delivery.rules.GameOverError`; a non-``None`` action of a finished agent
PettingZoo's ``ValueError``. A refused step changes nothing. ``reset(seed=...)`` takes ``None`` or
a non-negative int, and ``observe`` of an unknown agent raises ``ValueError`` listing the agents
(see :mod:`games.inputs`).

Rewards follow the AEC conventions: ``rewards`` holds the last step's rewards (only the acting
robot's is non-zero), ``_cumulative_rewards[agent]`` what an agent received since its own last
action. When the game ends every agent is terminated and/or truncated and each agent's info
holds ``winner`` (a player string or ``None``) and ``game_clock`` (legal moves made).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from games.inputs import check_seed, reject_bool_action, unknown_agent
from games.robot_delivery.batch import BatchRobotDeliveryRules
from games.robot_delivery.board import DEFAULT_LAYOUT, BoardLayout
from games.robot_delivery.rules import GameOverError, RobotDeliveryConfig, RobotDeliveryRules, RobotState

__all__ = ["RobotDeliveryEnv", "env", "raw_env"]


def _layout_from(
    layout: BoardLayout | dict[str, Any] | None,
    colors_map: str | os.PathLike[str] | None,
    targets_map: str | os.PathLike[str] | None,
) -> BoardLayout:
    if (colors_map is None) != (targets_map is None):
        raise ValueError("colors_map and targets_map must be given together (two CSV paths)")
    if colors_map is not None:
        if layout is not None:
            raise ValueError("give either layout or colors_map/targets_map, not both")
        return BoardLayout.from_csv(colors_map, targets_map)  # type: ignore[arg-type]
    if layout is None:
        return DEFAULT_LAYOUT
    if isinstance(layout, BoardLayout):
        return layout
    if isinstance(layout, dict):
        unknown = set(layout) - {"colors", "targets"}
        if unknown or len(layout) != 2:
            raise ValueError(f"layout dict needs exactly the keys 'colors' and 'targets', got {sorted(layout)}")
        return BoardLayout.from_rows(layout["colors"], layout["targets"])
    raise TypeError(f"layout must be a BoardLayout or a dict with 'colors' and 'targets', got {type(layout).__name__}")


class RobotDeliveryEnv(AECEnv):
    """Robot mail-delivery board game (rules: :mod:`games.robot_delivery`).

    Arguments: ``robot_colors`` the player identifiers (at least 2, distinct; their order is the
    turn order); ``num_robots_per_player`` (25 robots at most in all); ``required_mail`` the
    deliveries a team needs to win; ``with_battery`` the battery rules and a battery feature in the
    observation; ``random_num_steps`` each turn lasts 1 to 5 steps instead of 1; ``max_step`` the
    truncation limit in single robot actions; ``layout`` or ``colors_map`` / ``targets_map`` a
    custom board as data or as two CSV files; ``render_mode="rgb_array"`` draws the board with
    matplotlib; ``observe_station_mail`` appends the numbers of the mails waiting on the pick-up
    cells to every observation (an opt-in extension). The env also exposes ``winner``, ``scores``,
    ``robots``, ``num_steps``, ``game_clock`` and a writable ``required_mail``.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array"],
        "name": "robot_delivery_v0",
        "is_parallelizable": False,
        "render_fps": 4,
    }

    def __init__(
        self,
        robot_colors: Sequence[str] = ("r", "b"),
        num_robots_per_player: int = 1,
        required_mail: int = 4,
        with_battery: bool = False,
        random_num_steps: bool = False,
        max_step: int = 500,
        layout: BoardLayout | dict[str, Any] | None = None,
        colors_map: str | os.PathLike[str] | None = None,
        targets_map: str | os.PathLike[str] | None = None,
        render_mode: str | None = None,
        observe_station_mail: bool = False,
    ) -> None:
        super().__init__()
        if render_mode is not None and render_mode not in RobotDeliveryEnv.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        if isinstance(robot_colors, str) or not isinstance(robot_colors, Sequence):
            raise TypeError(f"robot_colors must be a list of player strings such as ['r', 'b'], got {robot_colors!r}")
        self.config = RobotDeliveryConfig(
            robot_colors=tuple(robot_colors),
            num_robots_per_player=num_robots_per_player,
            required_mail=required_mail,
            with_battery=with_battery,
            random_num_steps=random_num_steps,
            max_step=max_step,
            observe_station_mail=observe_station_mail,
            layout=_layout_from(layout, colors_map, targets_map),
        )
        self.render_mode = render_mode
        self.game = RobotDeliveryRules(self.config)
        self.possible_agents = list(self.config.agent_names)
        self.agents: list[str] = []
        self._names = self.possible_agents
        self._index = {a: k for k, a in enumerate(self.possible_agents)}
        size = self.config.observation_size
        obs_space = spaces.Dict(
            {
                "observation": spaces.Box(0.0, 1.0, shape=(size,), dtype=np.float32),
                "action_mask": spaces.Box(0, 1, shape=(5,), dtype=np.int8),
            }
        )
        act_space = spaces.Discrete(5)
        self.observation_spaces = {a: obs_space for a in self.possible_agents}
        self.action_spaces = {a: act_space for a in self.possible_agents}
        self._last_actor: str | None = None

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    # ---------------------------------------------------------------- state
    @property
    def num_steps(self) -> int:
        """Environment steps of this episode (every action, including passes)."""
        return self.game.num_steps

    @property
    def game_clock(self) -> int:
        """Legal moves made in this episode (the game's time span)."""
        return self.game.clock

    @property
    def winner(self) -> str | None:
        return self.game.winner

    @property
    def required_mail(self) -> int:
        return self.game.required_mail

    @required_mail.setter
    def required_mail(self, value: int) -> None:
        self.game.required_mail = value

    @property
    def with_battery(self) -> bool:
        return self.config.with_battery

    @property
    def robots(self) -> dict[str, RobotState]:
        return {name: self.game.robot(k) for k, name in enumerate(self._names)}

    @property
    def players(self) -> list[str]:
        """Player (team) names, as reported in ``winner``."""
        return list(self.config.robot_colors)

    @property
    def scores(self) -> dict[str, int]:
        """Team score (deliveries) per player."""
        return dict(zip(self.config.robot_colors, self.game.score))

    # ------------------------------------------------------------ AEC API
    def observe(self, agent: str) -> dict[str, np.ndarray]:
        try:
            k = self._index[agent]
        except (KeyError, TypeError):  # TypeError: an unhashable name
            raise unknown_agent(agent, self.possible_agents) from None
        return {
            "observation": self.game.observation(k),
            "action_mask": np.array(self.game.legal_mask(k), dtype=np.int8),
        }

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self.game.reset(check_seed(seed, self.metadata["name"]))
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
        self.agent_selection = self._names[self.game.current]
        self._last_actor = None

    def step(self, action: int | None) -> None:
        if not self.agents:
            raise GameOverError("no live agents: call reset() to start a game before step()")
        agent = self.agent_selection
        reject_bool_action(action, agent, 5)
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        if action is None:
            raise ValueError(f"{agent} is alive: its action must be an integer in 0..4, not None")
        game = self.game
        reward = game.step(action)
        if self._last_actor is not None:
            self.rewards[self._last_actor] = 0.0
        self.rewards[agent] = reward
        # only the actor is rewarded, so accumulating its own reward is _accumulate_rewards()
        self._cumulative_rewards[agent] = reward
        self._last_actor = agent
        if game.terminated or game.truncated:
            info = {"winner": game.winner, "game_clock": game.clock}
            for a in self.agents:
                self.terminations[a] = game.terminated
                self.truncations[a] = game.truncated
                self.infos[a] = dict(info)
        self.agent_selection = self._names[game.current]

    def batch_rules(self, num_games: int) -> BatchRobotDeliveryRules:
        """``num_games`` games of this env's configuration in one NumPy program: the batch-native
        twin the trainer's in-process pools step instead of one env per game."""
        return BatchRobotDeliveryRules(dataclasses.replace(self.config, required_mail=self.required_mail), num_games)

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        from games.robot_delivery.render import draw_board

        return draw_board(self)

    def close(self) -> None:
        pass


raw_env = RobotDeliveryEnv


def env(**kwargs: Any) -> AECEnv:
    """The game wrapped in PettingZoo's order-enforcing wrapper (use ``.unwrapped`` for speed)."""
    return wrappers.OrderEnforcingWrapper(RobotDeliveryEnv(**kwargs))
