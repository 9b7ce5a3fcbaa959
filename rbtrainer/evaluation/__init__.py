"""How strong is an agent: baseline opponents, cross-play tournaments, ratings, exploitability.

* :mod:`~rbtrainer.evaluation.baselines`: tic-tac-toe minimax, connect-four rule-based,
  negamax and opportunist (random, but never misses a win) bots (the robot game's A* agent is
  :class:`rbtrainer.AStarDeliveryAgent`).
* :func:`tournament`: every entrant against every other in every seat, on the trainer's pools.
* :mod:`~rbtrainer.evaluation.ratings`: Bradley-Terry Elo fitted to a whole record, openskill
  Plackett-Luce for games with three or more seats, Wilson intervals.
* :func:`tictactoe_exploitability`: the exact best-response value against a greedy policy;
  :func:`tictactoe_vs_random`: its exact outcome against a uniformly random opponent;
  :func:`tictactoe_best_vs_random`: the best any policy can do there.
* :func:`connect_four_tactics` / :class:`TacticsRecorder`: how often an agent takes an immediate
  win and blocks the opponent's, per seat, in the games it plays.
* :class:`RatingTracker`: a learner's rating against a fixed pool over training (a test hook).
* :class:`PanelConfig` / :class:`EvaluationPanel`: the panel every test round plays the learners
  against (its score can be the round's metric; see :mod:`~rbtrainer.evaluation.panel`).
* :func:`agent_from_spec`: the agents ``rbtrainer eval --agents`` names.
"""

from rbtrainer.evaluation.baselines import (
    ConnectFourNegamax,
    ConnectFourOpportunist,
    ConnectFourStrong,
    TicTacToeMinimax,
)
from rbtrainer.evaluation.exploitability import (
    TicTacToeExploitability,
    TicTacToeOutcome,
    tictactoe_best_vs_random,
    tictactoe_exploitability,
    tictactoe_vs_random,
)
from rbtrainer.evaluation.panel import EvaluationPanel, PanelConfig, PanelLine, PanelRound, default_panel
from rbtrainer.evaluation.ratings import (
    MultiplayerRatings,
    bradley_terry_elo,
    plackett_luce_ratings,
    wilson_interval,
)
from rbtrainer.evaluation.specs import BASELINES, agent_from_spec
from rbtrainer.evaluation.tactics import (
    ConnectFourTactics,
    TacticsCount,
    TacticsRecorder,
    connect_four_tactics,
    tactics_table,
)
from rbtrainer.evaluation.tournament import EntrantResult, GameRecord, TournamentResult, seatings, tournament
from rbtrainer.evaluation.tracking import RatingPoint, RatingTracker

__all__ = [
    "BASELINES",
    "ConnectFourNegamax",
    "ConnectFourOpportunist",
    "ConnectFourStrong",
    "ConnectFourTactics",
    "EntrantResult",
    "EvaluationPanel",
    "GameRecord",
    "MultiplayerRatings",
    "PanelConfig",
    "PanelLine",
    "PanelRound",
    "RatingPoint",
    "RatingTracker",
    "TacticsCount",
    "TacticsRecorder",
    "TicTacToeExploitability",
    "TicTacToeMinimax",
    "TicTacToeOutcome",
    "TournamentResult",
    "agent_from_spec",
    "bradley_terry_elo",
    "connect_four_tactics",
    "default_panel",
    "plackett_luce_ratings",
    "seatings",
    "tactics_table",
    "tictactoe_best_vs_random",
    "tictactoe_exploitability",
    "tictactoe_vs_random",
    "tournament",
    "wilson_interval",
]
