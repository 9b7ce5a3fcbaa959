"""Games as seat-by-seat env pools: factories, typed reports, AEC/Parallel adapters, pools behind one Pool protocol."""

from rbtrainer.envs.adapters import AECSeatGame, ParallelSeatGame, SeatGame, seat_game
from rbtrainer.envs.backends import make_pool
from rbtrainer.envs.base import BACKENDS, GameError, Pool
from rbtrainer.envs.batch_pool import BatchGamePool, BatchStep
from rbtrainer.envs.factory import GameInfo, batch_twin, describe_game, game_factory, strip_check_wrappers
from rbtrainer.envs.pool import GamePool, SeatEnv
from rbtrainer.envs.reports import ClosedSeat, Decision, Episode, StepReport

__all__ = [
    "BACKENDS",
    "AECSeatGame",
    "BatchGamePool",
    "BatchStep",
    "ClosedSeat",
    "Decision",
    "Episode",
    "GameError",
    "GameInfo",
    "GamePool",
    "ParallelSeatGame",
    "Pool",
    "SeatEnv",
    "SeatGame",
    "StepReport",
    "batch_twin",
    "describe_game",
    "game_factory",
    "make_pool",
    "seat_game",
    "strip_check_wrappers",
]
