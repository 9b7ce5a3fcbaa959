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
from rbtrainer.metrics import TestResult, mean_reward
from rbtrainer.seating import EnvGroup
from rbtrainer.trainer import DecentralizedTrainer, GroupCurve, TrainerConfig, TrainStats

__version__ = "0.1.0"

__all__ = [
    "AStarDeliveryAgent",
    "Agent",
    "DQNConfig",
    "DecentralizedTrainer",
    "EnvGroup",
    "EpsilonAgent",
    "FrozenAgent",
    "GroupCurve",
    "Learner",
    "OffPolicyLearner",
    "OnPolicyLearner",
    "PPOConfig",
    "RandomAgent",
    "ScriptedAgent",
    "TestResult",
    "TrainStats",
    "TrainerConfig",
    "dqn_agent",
    "mean_reward",
    "ppo_agent",
]
