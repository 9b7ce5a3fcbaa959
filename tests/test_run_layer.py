"""The run layer: trainer parameters, step budgets, progress hooks and typed training states."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
import torch
from conftest import RecordingLearner, statistics_without_timings, stop_and_resume

from rbtrainer import (
    DecentralizedTrainer,
    EpochTrainCallback,
    Progress,
    ProgressHook,
    RandomAgent,
    TrainerCallbacks,
    TrainerConfig,
    TrainerParams,
    TrainingContext,
    progress_hook,
)
from rbtrainer.run.state import RunState, read_training_state

TINY: dict[str, Any] = {
    "num_train_envs": 4,
    "num_test_envs": 2,
    "episodes_per_test": 4,
    "test_freq": 10,
    "update_freq": 32,
    "batch_size": 16,
    "progress_bar": False,
    "seed": 1,
}


def trainer_of(**settings: Any) -> DecentralizedTrainer:
    return DecentralizedTrainer({"game": "tictactoe"}, **{**TINY, **settings})


def agents() -> list[Any]:
    return [RecordingLearner(seed=2), RandomAgent(seed=3)]


def test_the_constructor_builds_one_parameters_object() -> None:
    def hook(episodes: int, steps: int) -> None: ...

    trainer = trainer_of(episodes_per_train=20, train_fn=hook)
    assert isinstance(trainer.params, TrainerParams)
    assert trainer.config is trainer.params.settings and isinstance(trainer.config, TrainerConfig)
    assert trainer.train_fn is hook and trainer.params.hooks.train_fn is hook
    trainer.test_fn = hook  # assigning a hook sets the parameters
    assert trainer.params.hooks.test_fn is hook
    trainer.reward_metric = None  # the seed's default, the mean return
    with trainer:
        trainer.test(agents())
    assert trainer.params.hooks.reward_metric is not None
    trainer.stop_fn = "no"
    with pytest.raises(TypeError, match="stop_fn must be callable"), trainer:
        trainer.train(agents(), [True, False], plot=False)


def test_a_step_budget_ends_training_at_the_phase_that_reaches_it() -> None:
    with trainer_of(episodes_per_train=None, max_env_steps=200) as trainer:
        stats = trainer.train(agents(), [True, False], plot=False)
    assert stats.collected_steps == 224  # 7 phases of 32 env steps: the first to reach 200
    assert stats.test_steps[-1] == stats.collected_steps and not stats.interrupted and not stats.stopped_early
    with trainer_of(episodes_per_train=5, max_env_steps=10_000) as trainer:  # the first budget reached ends it
        stats = trainer.train(agents(), [True, False], plot=False)
    assert stats.collected_episodes >= 5 and stats.collected_steps < 10_000
    with pytest.raises(ValueError, match="both None: give at least one training budget"):
        trainer_of(episodes_per_train=None)


def test_progress_hooks_see_the_run() -> None:
    seen: dict[str, list[Progress]] = {"train": [], "test": [], "best": [], "last": []}

    class Stop(ProgressHook):
        context: TrainingContext | None = None

        def setup(self, context: TrainingContext) -> None:
            self.context = context

        def __call__(self, progress: Progress) -> bool:
            return progress.env_steps >= 96

    stop = Stop()
    trainer = trainer_of(
        episodes_per_train=1000,
        train_fn=progress_hook(seen["train"].append),
        test_fn=progress_hook(seen["test"].append),
        save_best_fn=progress_hook(seen["best"].append),
        save_last_fn=progress_hook(seen["last"].append),
        stop_fn=stop,
        test_freq=1,
    )
    with trainer:
        stats = trainer.train(agents(), [True, False], plot=False)
    assert stats.stopped_early and stats.collected_steps == 96
    assert stop.context is not None and stop.context.stats is stats  # set up once, before any game
    assert [p.env_steps for p in seen["train"]] == [0, 32, 64]
    assert [p.env_steps for p in seen["test"]] == stats.test_steps and stats.test_steps[0] == 0
    assert not any(p.tested for p in seen["test"])  # before the round: no metric yet
    assert all(p.stats is stats for p in seen["test"] + seen["last"])
    assert [p.reward_metric for p in seen["best"]] == [
        m for i, m in enumerate(stats.reward_metric_history) if m > max(stats.reward_metric_history[:i], default=-1e9)
    ]
    assert all(p.tested for p in seen["best"]) and len(seen["last"]) == 1
    assert seen["last"][0].env_steps == 96 and seen["last"][0].fraction == stats.collected_episodes / 1000


def test_plain_hooks_and_callback_objects_fire_in_one_order() -> None:
    order: list[str] = []

    class Train(EpochTrainCallback):
        def callback(self, episodes: int, env_steps: int, context: TrainingContext) -> None:
            order.append(f"callback {env_steps}")

    trainer = trainer_of(
        episodes_per_train=None,
        max_env_steps=64,
        train_fn=lambda episodes, steps: order.append(f"train_fn {steps}"),
        callbacks=TrainerCallbacks(epoch_train_callback=Train()),
    )
    with trainer:
        trainer.train(agents(), [True, False], plot=False)
    assert order == ["train_fn 0", "callback 0", "train_fn 32", "callback 32"]


def test_progress_fraction_follows_the_nearer_budget() -> None:
    progress = Progress(
        episodes=10, env_steps=300, gradient_steps=0, episodes_per_train=100, tested=False, reward_metric=None,
        done=False, max_env_steps=400,
    )  # fmt: skip
    assert progress.fraction == 0.75 and math.isinf(progress.best_reward_metric)
    assert dataclasses.replace(progress, max_env_steps=None).fraction == 0.1


def test_a_step_budget_run_resumes_to_the_uninterrupted_statistics(tmp_path) -> None:
    def learner_run(**settings: Any) -> tuple[DecentralizedTrainer, list[Any]]:
        from rbtrainer import DQNConfig, dqn_agent

        trainer = trainer_of(episodes_per_train=None, max_env_steps=256, **settings)
        learner = dqn_agent(
            trainer.observation_space(0), trainer.action_space(0), config=DQNConfig(hidden_sizes=(16,)), seed=4
        )
        return trainer, [learner, RandomAgent(seed=3)]

    state = tmp_path / "run.state"
    whole, stopped, resumed = stop_and_resume(learner_run, [True, False], lambda p: p.env_steps >= 128, state)
    assert stopped.interrupted and stopped.collected_steps < 256
    saved = read_training_state(state)
    assert isinstance(saved, RunState) and saved.stats.collected_steps == stopped.collected_steps
    assert saved.key.game == "tictactoe" and saved.key.settings.update_freq == 32
    assert statistics_without_timings(resumed) == statistics_without_timings(whole)


def test_a_state_of_an_unknown_format_is_refused_by_name(tmp_path) -> None:
    path = tmp_path / "future.state"
    torch.save({"kind": "rbtrainer-training-state", "format": 99, "state": {}}, path)
    with pytest.raises(ValueError, match=r"format 99; this version reads formats 1, 2"):
        read_training_state(path)
    torch.save({"kind": "rbtrainer-training-state", "format": 2, "state": {"key": {}}}, path)
    with pytest.raises(ValueError, match=r"damaged training state of format 2"):
        read_training_state(path)


def test_state_round_trip_keeps_numpy_types(tmp_path) -> None:
    from rbtrainer.run.state import from_saveable, to_saveable

    value = {"a": np.arange(3, dtype=np.uint16), "b": np.float32(1.5), "c": [np.int64(2), (1, "x")]}
    back = from_saveable(to_saveable(value))
    assert back["a"].dtype == np.uint16 and back["b"].dtype == np.float32 and back["c"][0] == 2
