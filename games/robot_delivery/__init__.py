"""The robot mail-delivery board game (``shared/specs/robot_delivery_rules.md``)."""

from games.robot_delivery.astar import AStarAgent
from games.robot_delivery.batch import BatchRobotDeliveryRules
from games.robot_delivery.board import DEFAULT_LAYOUT, BoardLayout
from games.robot_delivery.env import RobotDeliveryEnv, env, raw_env
from games.robot_delivery.rules import GameOverError, RobotDeliveryConfig, RobotDeliveryRules

__all__ = [
    "DEFAULT_LAYOUT",
    "AStarAgent",
    "BatchRobotDeliveryRules",
    "BoardLayout",
    "GameOverError",
    "RobotDeliveryConfig",
    "RobotDeliveryEnv",
    "RobotDeliveryRules",
    "env",
    "raw_env",
]
