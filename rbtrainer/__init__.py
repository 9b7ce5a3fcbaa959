"""rbtrainer: train independent reinforcement-learning agents that play multi-agent games."""

from rbtrainer.agents import (
    Agent,
    AStarDeliveryAgent,
    DQNConfig,
    EpsilonAgent,
    FrozenAgent,
    Learner,
    OffPolicyLearner,
    OnPolicyLearner,
    PPOConfig,
    RandomAgent,
    ScriptedAgent,
    dqn_agent,
    ppo_agent,
)
from rbtrainer.envs import GameError
from rbtrainer.epoch_callbacks import (
    EpochStopCallback,
    EpochTestCallback,
    EpochTrainCallback,
    TrainerCallbacks,
    TrainingContext,
)
from rbtrainer.evaluation.panel import PanelConfig, PanelRound
from rbtrainer.league import League, LeagueConfig, LeagueCurve
from rbtrainer.metrics import TestResult, mean_reward
from rbtrainer.params import TrainerHooks, TrainerParams
from rbtrainer.run.hooks import ProgressHook, progress_hook
from rbtrainer.run.loop import TrainingRun
from rbtrainer.run.stats import GroupCurve, Progress, TrainStats
from rbtrainer.seating import EnvGroup
from rbtrainer.trainer import DecentralizedTrainer, TrainerConfig

__version__ = "0.1.0"

__all__ = [
    "AStarDeliveryAgent",
    "Agent",
    "DQNConfig",
    "DecentralizedTrainer",
    "EnvGroup",
    "EpochStopCallback",
    "EpochTestCallback",
    "EpochTrainCallback",
    "EpsilonAgent",
    "FrozenAgent",
    "GameError",
    "GroupCurve",
    "League",
    "LeagueConfig",
    "LeagueCurve",
    "Learner",
    "OffPolicyLearner",
    "OnPolicyLearner",
    "PPOConfig",
    "PanelConfig",
    "PanelRound",
    "Progress",
    "ProgressHook",
    "RandomAgent",
    "ScriptedAgent",
    "TestResult",
    "TrainStats",
    "TrainerCallbacks",
    "TrainerConfig",
    "TrainerHooks",
    "TrainerParams",
    "TrainingContext",
    "TrainingRun",
    "dqn_agent",
    "mean_reward",
    "ppo_agent",
    "progress_hook",
]
