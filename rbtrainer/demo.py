"""A scripted demonstration game: every robot is driven by the A* agent; frames are drawn
with matplotlib and written under ``plots/`` as a PNG of the final board and a GIF."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

from games.robot_delivery.astar import AStarAgent
from games.robot_delivery.env import RobotDeliveryEnv
from games.robot_delivery.render import draw_board
from rbtrainer.plotting import save_gif, save_png

__all__ = ["DemoResult", "play_demo"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoResult:
    winner: str | None
    game_clock: int
    num_steps: int
    scores: dict[str, int]
    picture: str
    animation: str | None


def play_demo(
    robot_colors: Sequence[str] = ("r", "b", "gr"),
    num_robots_per_player: int = 1,
    required_mail: int = 3,
    with_battery: bool = False,
    max_step: int = 600,
    seed: int = 0,
    out_dir: str | os.PathLike[str] = "plots",
    gif: bool = True,
) -> DemoResult:
    """Play one seeded game with A* robots; save the final board (and an animation)."""
    env = RobotDeliveryEnv(
        robot_colors=robot_colors,
        num_robots_per_player=num_robots_per_player,
        required_mail=required_mail,
        with_battery=with_battery,
        max_step=max_step,
    )
    agent = AStarAgent(env.config.num_robots, with_battery=with_battery, seed=seed)
    env.reset(seed=seed)
    frames = [draw_board(env)] if gif else []
    while not (env.game.terminated or env.game.truncated):
        obs = env.observe(env.agent_selection)
        env.step(agent.act(obs["observation"], obs["action_mask"]))
        if gif:
            frames.append(draw_board(env))
    picture = save_png(draw_board(env), os.path.join(out_dir, "robot_delivery_demo.png"))
    animation = save_gif(frames, os.path.join(out_dir, "robot_delivery_demo.gif")) if gif else None
    logger.info("demo game: winner %s after %d steps (clock %d)", env.winner, env.num_steps, env.game_clock)
    return DemoResult(
        winner=env.winner,
        game_clock=env.game_clock,
        num_steps=env.num_steps,
        scores=env.scores,
        picture=picture,
        animation=animation,
    )
