"""rbtrainer: train independent reinforcement-learning agents that play multi-agent games."""

# The names below are imported on first use (PEP 562): importing rbtrainer, or a light module of it
# such as rbtrainer.config, does not import torch and tianshou (the command line's --help stays quick).

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_MODULES = {
    "Agent": "rbtrainer.agents",
    "AStarDeliveryAgent": "rbtrainer.agents",
    "DQNConfig": "rbtrainer.agents",
    "EpsilonAgent": "rbtrainer.agents",
    "FrozenAgent": "rbtrainer.agents",
    "Learner": "rbtrainer.agents",
    "OffPolicyLearner": "rbtrainer.agents",
    "OnPolicyLearner": "rbtrainer.agents",
    "PPOConfig": "rbtrainer.agents",
    "RandomAgent": "rbtrainer.agents",
    "ScriptedAgent": "rbtrainer.agents",
    "dqn_agent": "rbtrainer.agents",
    "ppo_agent": "rbtrainer.agents",
    "GameError": "rbtrainer.envs",
    "EpochStopCallback": "rbtrainer.epoch_callbacks",
    "EpochTestCallback": "rbtrainer.epoch_callbacks",
    "EpochTrainCallback": "rbtrainer.epoch_callbacks",
    "TrainerCallbacks": "rbtrainer.epoch_callbacks",
    "TrainingContext": "rbtrainer.epoch_callbacks",
    "PanelConfig": "rbtrainer.evaluation.panel",
    "PanelRound": "rbtrainer.evaluation.panel",
    "League": "rbtrainer.league",
    "LeagueConfig": "rbtrainer.league",
    "LeagueCurve": "rbtrainer.league",
    "TestResult": "rbtrainer.metrics",
    "mean_reward": "rbtrainer.metrics",
    "TrainerHooks": "rbtrainer.params",
    "TrainerParams": "rbtrainer.params",
    "ProgressHook": "rbtrainer.run.hooks",
    "progress_hook": "rbtrainer.run.hooks",
    "TrainingRun": "rbtrainer.run.loop",
    "GroupCurve": "rbtrainer.run.stats",
    "Progress": "rbtrainer.run.stats",
    "TrainStats": "rbtrainer.run.stats",
    "EnvGroup": "rbtrainer.seating",
    "DecentralizedTrainer": "rbtrainer.trainer",
    "TrainerConfig": "rbtrainer.trainer",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'rbtrainer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
