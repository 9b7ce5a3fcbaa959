"""A PettingZoo AEC layer shared by the alternating two-player board games.

A game supplies a pure rules object (see :class:`BoardRules`); this module turns it into an
AEC environment with the conventions of PettingZoo's classic games: the observation is a dict
with ``observation`` (int8 planes: the observing player's pieces, then the opponent's) and
``action_mask`` (int8, non-zero only for the player to move); the winner gets +1 and the loser
-1 when the game ends, a draw gives 0 to both.

Errors (the state is left untouched): an illegal move (an occupied square, a full column, an
index out of range) raises ``ValueError``; an action that is not an integer (a float, ``None``, a
string, a bool) ``TypeError`` naming the agent; ``step`` with no live agent (before ``reset()``,
or after every finished agent has stepped out) ``ValueError``; a non-``None`` action of a finished
agent PettingZoo's ``ValueError``. ``reset(seed=...)`` takes ``None`` or a non-negative int (the
games have no randomness; the seed is checked, then ignored), and ``observe`` of an unknown agent
raises ``ValueError`` listing the agents (see :mod:`games.inputs`).

Render modes: ``"ansi"`` (the board as text) and ``"rgb_array"`` (an ``(H, W, 3)`` uint8 picture
drawn by :mod:`games.board_render` with the env's :attr:`TwoPlayerBoardEnv.board_style`).
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv

from games.inputs import check_seed, reject_bool_action, unknown_agent

if TYPE_CHECKING:
    from games.board_render import BoardStyle

__all__ = ["BoardRules", "TwoPlayerBoardEnv"]


class BoardRules(Protocol):
    """What :class:`TwoPlayerBoardEnv` needs from a game's rules."""

    num_actions: int
    plane_shape: tuple[int, int]
    winner: int | None
    """Index (0 or 1) of the winning player once the game is won."""
    over: bool
    last_cell: tuple[int, int] | None
    """(row, column) of the cell the last move filled; ``None`` before the first move."""

    def reset(self) -> None: ...

    def legal_mask(self) -> list[int]: ...

    def play(self, player: int, action: int) -> None: ...

    def planes(self, player: int) -> np.ndarray: ...

    def render_text(self) -> str: ...


class TwoPlayerBoardEnv(AECEnv):
    """Alternating two-player game over a :class:`BoardRules` (first agent moves first)."""

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi", "rgb_array"],
        "name": "",
        "is_parallelizable": False,
        "render_fps": 2,
        "constant_sum": True,  # a win for one player is a loss for the other (returns +1 / -1, or 0 / 0)
    }
    agent_names: ClassVar[tuple[str, str]] = ("player_0", "player_1")
    piece_names: ClassVar[tuple[str, str]] = ("X", "O")
    """How the status line of an ``rgb_array`` frame names the first and the second player's pieces."""

    @classmethod
    def board_style(cls) -> BoardStyle:
        """The look of ``rgb_array`` frames (a :class:`games.board_render.BoardStyle`)."""
        from games.board_render import TICTACTOE_STYLE

        return TICTACTOE_STYLE

    def __init__(self, rules: BoardRules, render_mode: str | None = None) -> None:
        super().__init__()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.game = rules
        self.possible_agents = list(self.agent_names)
        self.agents: list[str] = []
        obs_space = spaces.Dict(
            {
                "observation": spaces.Box(0, 1, shape=(*rules.plane_shape, 2), dtype=np.int8),
                "action_mask": spaces.Box(0, 1, shape=(rules.num_actions,), dtype=np.int8),
            }
        )
        self.observation_spaces = {a: obs_space for a in self.possible_agents}
        self.action_spaces = {a: spaces.Discrete(rules.num_actions) for a in self.possible_agents}
        self._index = {a: i for i, a in enumerate(self.possible_agents)}

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        try:
            player = self._index[agent]
        except (KeyError, TypeError):  # TypeError: an unhashable name
            raise unknown_agent(agent, self.possible_agents) from None
        if agent == self.agent_selection and not self.game.over:
            mask = np.array(self.game.legal_mask(), dtype=np.int8)
        else:
            mask = np.zeros(self.game.num_actions, dtype=np.int8)
        return {"observation": self.game.planes(player), "action_mask": mask}

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        check_seed(seed, self.metadata["name"])
        self.game.reset()
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
        self.agent_selection = self.agents[0]

    def step(self, action: int | None) -> None:
        if not self.agents:
            raise ValueError(
                f"{self.metadata['name']}: no live agents (the game is over or was never started); "
                "call reset() to start one"
            )
        agent = self.agent_selection
        reject_bool_action(action, agent, self.game.num_actions)
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        try:
            a = operator.index(action)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(
                f"{agent}: action must be an integer in 0..{self.game.num_actions - 1}, got {action!r}"
            ) from None
        player = self._index[agent]
        self.game.play(player, a)
        self._cumulative_rewards[agent] = 0.0
        self._clear_rewards()
        if self.game.over:
            winner = self.game.winner
            if winner is not None:
                self.rewards[self.possible_agents[winner]] = 1.0
                self.rewards[self.possible_agents[1 - winner]] = -1.0
            name = None if winner is None else self.possible_agents[winner]
            for a_name in self.agents:
                self.terminations[a_name] = True
                self.infos[a_name] = {"winner": name}
        self._accumulate_rewards()
        self.agent_selection = self.possible_agents[1 - player]

    def render(self) -> str | np.ndarray | None:
        """The board as text (``"ansi"``), as an ``(H, W, 3)`` uint8 image (``"rgb_array"``), or ``None``."""
        if self.render_mode is None:
            return None
        if self.render_mode == "ansi":
            return self.game.render_text()
        from games.board_render import draw_grid_board

        planes = self.game.planes(0)
        grid = planes[:, :, 0] + 2 * planes[:, :, 1]
        return draw_grid_board(grid, self.board_style(), self._status(), self.game.last_cell)

    def _status(self) -> str:
        names = [f"{agent} ({piece})" for agent, piece in zip(self.possible_agents, self.piece_names)]
        if not self.agents and not self.game.over:
            return "call reset() to start a game"
        if self.game.over:
            return "draw" if self.game.winner is None else f"{names[self.game.winner]} wins"
        return f"{names[self._index[self.agent_selection]]} to move"

    def close(self) -> None:
        pass
