"""Agents that fill seats: learners over Tianshou algorithms and fixed policies."""

from rbtrainer.agents.base import Agent, Learner
from rbtrainer.agents.builders import DQNConfig, PPOConfig, dqn_agent, ppo_agent
from rbtrainer.agents.fixed import AStarDeliveryAgent, EpsilonAgent, RandomAgent, ScriptedAgent
from rbtrainer.agents.learners import FrozenAgent, OffPolicyLearner, OnPolicyLearner

__all__ = [
    "AStarDeliveryAgent",
    "Agent",
    "DQNConfig",
    "EpsilonAgent",
    "FrozenAgent",
    "Learner",
    "OffPolicyLearner",
    "OnPolicyLearner",
    "PPOConfig",
    "RandomAgent",
    "ScriptedAgent",
    "dqn_agent",
    "ppo_agent",
]
