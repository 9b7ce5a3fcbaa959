"""The robot mail-delivery board game.

Robots of several players (teams) pick up numbered mail at the green cells and deliver it to the
yellow cell with that number; the first team to deliver ``required_mail`` mails wins. A game is
truncated after ``max_step`` single robot actions. The rules follow the reference game's rule book
(board, masks, rewards, battery arithmetic, turn order) with a strict PettingZoo AEC API, one
random generator per env seeded by ``reset(seed=...)`` and clear errors for bad arguments.

## The board

A 9 x 9 grid (the picture above; a custom board can be given as data or as two CSV files):

* **white** (25 cells): floor; every robot starts on a distinct random white cell at each reset;
* **grey** (33): floor, nothing special;
* **green** (3): mail pick-up; always holds one mail numbered 1-9 (drawn as an envelope with its
  number); only a robot without mail may enter, and entering picks the mail up; no standing still;
* **yellow** (9): delivery station for the mail of its number; only a robot carrying that number
  may enter, and entering delivers it; no standing still;
* **blue** (2): charger (with battery); only a robot with battery at most 4 may enter; standing on
  it charges;
* **red** (9): wall; no robot enters.

Robots are drawn as discs in their player's colour, labelled with their agent name (``r1``, ``b1``,
...) and the number of the mail they carry. The line above the board shows the step, the game
clock (legal moves made), each player's deliveries and the deliveries needed to win.

## Seats, observations, actions, rewards

Agents are named player colour + robot index (``r1``, ``r2``, ``b1``, ...), ordered by player in
``robot_colors`` order, then by index; that is the turn order. A robot's observation is float32:
``[x/8, y/8, mail/9]`` (plus ``battery/10`` with ``with_battery``) for itself, then the same for
every other robot in agent order; with ``observe_station_mail=True`` (an opt-in extension, off by
default as in the rule book) the numbers of the mails waiting on the pick-up cells (three on the built-in board) follow,
``mail/9`` each in row-major order of those cells. ``action_mask`` covers stand, up, down, left, right. A
masked-out action in 0..4 is a pass (reward -0.1, turn used); other values raise errors naming the
robot. Only the acting robot is rewarded: +1 for a pick-up, +5 for a delivery, +1 for entering a
charger, -0.1 for any other move, stand or pass. When the game ends every agent's ``info`` holds
``winner`` (a player or ``None``) and ``game_clock``. A robot can strand (empty battery, or boxed
in); its turns are then passes until the game ends.

## Many games at once, and a scripted player

``BatchRobotDeliveryRules(config, num_games)`` holds many games in arrays and plays the acting
robot of any set of them in one NumPy call; game ``g`` reset with seed ``s`` is the game the rules
class plays with seed ``s``, step for step. The trainer's in-process pools use it
(``batch_games``). ``AStarAgent(num_robots, with_battery, seed=..., station_mail=...)`` is the rule
book's scripted A* controller (it heads for the nearest pick-up cell, whatever mail waits there);
``rbtrainer eval`` knows it as ``astar``.
"""

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
