"""Matplotlib drawing of the robot-delivery board (no display needed).

Saving frames as PNG/GIF files lives in ``rbtrainer.plotting`` (``save_png``, ``save_gif``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle

from games.robot_delivery.board import BLUE, GREEN, GREY, RED, WHITE, YELLOW

if TYPE_CHECKING:
    from games.robot_delivery.env import RobotDeliveryEnv

__all__ = ["draw_board"]

_CELL_COLORS = {
    WHITE: "#ffffff",
    GREY: "#d9d9d9",
    GREEN: "#7fc97f",
    YELLOW: "#ffe066",
    BLUE: "#74a9cf",
    RED: "#c0392b",
}
# Cosmetic colours of common player codes; any other player string gets a palette colour.
_PLAYER_COLORS = {"r": "#e41a1c", "b": "#377eb8", "gr": "#1b9e3e", "p": "#984ea3", "o": "#ff7f00", "pi": "#f781bf"}
_PALETTE = ("#a65628", "#f781bf", "#999999", "#17becf", "#bcbd22", "#e377c2", "#7f7f7f", "#8c564b")


def _player_color(player: str, index: int) -> str:
    return _PLAYER_COLORS.get(player, _PALETTE[index % len(_PALETTE)])


def draw_board(env: RobotDeliveryEnv, cell_px: int = 48) -> np.ndarray:
    """The current board as an ``(H, W, 3)`` uint8 image."""
    game = env.game
    board = game.board
    size = board.size
    dpi = 100
    fig = Figure(figsize=(size * cell_px / dpi, (size + 1.2) * cell_px / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, size / (size + 1.2)))
    ax.set_xlim(0, size)
    ax.set_ylim(size, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    for c in range(board.num_cells):
        x, y = board.xy(c)
        ax.add_patch(Rectangle((x, y), 1, 1, facecolor=_CELL_COLORS[board.color[c]], edgecolor="#555555", lw=0.6))
        if board.color[c] == YELLOW:
            ax.text(x + 0.5, y + 0.5, str(board.target[c]), ha="center", va="center", fontsize=9, color="#7a5c00")
        elif board.color[c] == GREEN and game.occupant[c] < 0 and c in game.green_mail:
            ax.text(x + 0.5, y + 0.5, f"✉{game.green_mail[c]}", ha="center", va="center", fontsize=8)
    colors = game.config.robot_colors
    for k, name in enumerate(game.agent_names):
        x, y = board.xy(game.position[k])
        player = game.player_of[k]
        ax.add_patch(Circle((x + 0.5, y + 0.5), 0.38, facecolor=_player_color(colors[player], player), edgecolor="k"))
        label = name if game.mail[k] == 0 else f"{name}\n✉{game.mail[k]}"
        ax.text(x + 0.5, y + 0.5, label, ha="center", va="center", fontsize=7, color="white", weight="bold")
        if game.config.with_battery:
            ax.text(x + 0.95, y + 0.95, str(game.level[k]), ha="right", va="bottom", fontsize=6)
    scores = "  ".join(f"{p}: {s}" for p, s in zip(colors, game.score))
    status = f"step {game.num_steps}  clock {game.clock}  |  {scores}  (to win: {game.required_mail})"
    if game.winner is not None:
        status += f"  |  winner {game.winner}"
    fig.text(0.5, 1 - 0.55 / (size + 1.2), status, ha="center", va="center", fontsize=8)
    canvas.draw()
    image = np.asarray(canvas.buffer_rgba())[:, :, :3].copy()
    fig.clear()
    return image
