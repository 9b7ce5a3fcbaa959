"""Training states and exact resume, request_stop, and the CSV / TensorBoard training logs.

The central check: a run stopped at some point and resumed in a fresh trainer (fresh agents built
the same way) ends with exactly the statistics of the same run left alone.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from conftest import SMALL_ROBOT_GAME, SMALL_RUN, TIMING_FIELDS

from rbtrainer import (
    DecentralizedTrainer,
    DQNConfig,
    EnvGroup,
    EpsilonAgent,
    PPOConfig,
    RandomAgent,
    dqn_agent,
    ppo_agent,
)
from rbtrainer.agents.memory_state import load_memory_state, memory_state
from rbtrainer.callbacks import EpsilonSchedule, KeepBest
from rbtrainer.checkpoint import save_agents
from rbtrainer.evaluation import TicTacToeMinimax
from rbtrainer.logs import CSVLogger, MultiLogger, TensorBoardLogger
from rbtrainer.run.state import read_training_state

ROBOTS, SMALL, TIMING = SMALL_ROBOT_GAME, SMALL_RUN, TIMING_FIELDS


def robots_run(**kw: Any) -> tuple[DecentralizedTrainer, list[Any], list[bool]]:
    """Self-play DQN (prioritized, 3-step) on the robot game, with an epsilon schedule."""
    trainer = DecentralizedTrainer(ROBOTS, **{**SMALL, **kw})
    config = DQNConfig(buffer_size=4096, n_step=3, prioritized=True, target_update_freq=20)
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=config, seed=4)
    trainer.train_fn = EpsilonSchedule(learners=[learner], start=1.0, end=0.1, episodes=30)
    return trainer, [learner, learner], [True, True]


def opening_square(agent: Any) -> float:
    """A score that changes as the learner learns: the square it opens with."""
    return float(agent.act(np.zeros((1, 3, 3, 2), np.float32), np.ones((1, 9), np.int8), np.zeros(1, bool))[0])


def board_run(**kw: Any) -> tuple[DecentralizedTrainer, list[EnvGroup], list[bool]]:
    """A PPO learner in env groups against a noisy minimax and random, keeping its best snapshot."""
    trainer = DecentralizedTrainer({"game": "tictactoe"}, **{**SMALL, "num_train_envs": 6, **kw})
    learner = ppo_agent(trainer.observation_space(0), trainer.action_space(0), config=PPOConfig(), seed=5)
    groups = [
        EnvGroup("self", [learner, learner]),
        EnvGroup("vs bot", [learner, EpsilonAgent(TicTacToeMinimax(seed=6), 0.3, seed=7)], learning_mask=[True, False]),
        EnvGroup("vs random", [RandomAgent(seed=8), learner], learning_mask=[False, True]),
    ]
    trainer.test_fn = KeepBest(learner, opening_square)
    return trainer, groups, [True, True]


class StopAfterTests:
    """A test hook requesting a stop at test round ``rounds``; wraps (and saves the state of) ``inner``."""

    def __init__(self, trainer: DecentralizedTrainer, rounds: int) -> None:
        self.trainer, self.rounds, self.seen = trainer, rounds, 0
        self.inner = trainer.test_fn

    def __call__(self, episodes: int, steps: int) -> None:
        if self.inner is not None:
            self.inner(episodes, steps)
        self.seen += 1
        if self.seen == self.rounds:
            self.trainer.request_stop()


class StopAfterTestsKeepingBest(StopAfterTests):
    """The same around a :class:`KeepBest`, whose state goes into training states."""

    inner: KeepBest

    def state_dict(self) -> dict[str, Any]:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state)


def stop_after_tests(trainer: DecentralizedTrainer, rounds: int) -> None:
    """Request a stop in the test hook of test round ``rounds`` (the hook still runs its own part)."""
    stateful = isinstance(trainer.test_fn, KeepBest)
    trainer.test_fn = (StopAfterTestsKeepingBest if stateful else StopAfterTests)(trainer, rounds)


def fields(stats: Any) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(stats).items() if k not in TIMING}


@pytest.mark.parametrize("build", [robots_run, board_run], ids=["robots-dqn-prioritized", "tictactoe-ppo-groups"])
def test_a_resumed_run_ends_with_the_statistics_of_an_uninterrupted_one(
    tmp_path: Any, build: Callable[..., tuple[DecentralizedTrainer, Any, list[bool]]]
) -> None:
    trainer, agents, mask = build()
    whole = trainer.train(agents, mask, plot=False)

    state = tmp_path / "run.state"
    trainer, agents, mask = build(state_path=state)
    keeper = trainer.test_fn
    stop_after_tests(trainer, 3)
    stopped = trainer.train(agents, mask, plot=False)
    assert stopped.interrupted and stopped.state_path == os.fspath(state)
    assert 0 < stopped.collected_episodes < whole.collected_episodes

    trainer, agents, mask = build()
    resumed = trainer.train(agents, mask, plot=False, resume=state)
    assert not resumed.interrupted
    assert fields(resumed) == fields(whole)
    assert resumed.training_time >= stopped.training_time
    if isinstance(keeper, KeepBest):  # the hook's own state travelled too
        assert (
            isinstance(trainer.test_fn, KeepBest) and trainer.test_fn.history[: len(keeper.history)] == keeper.history
        )


def test_states_every_n_test_rounds_resume_like_the_last_one(tmp_path: Any) -> None:
    """A run that dies after writing a periodic state (no stop request) resumes from it exactly."""
    trainer, agents, mask = robots_run()
    whole = trainer.train(agents, mask, plot=False)
    state = tmp_path / "periodic.state"
    trainer, agents, mask = robots_run(state_path=state, state_every=2, episodes_per_train=30)
    trainer.train(agents, mask, plot=False)  # a shorter run stands for one that was killed
    saved = read_training_state(state)
    assert saved.position.tests == 2 and saved.stats.collected_episodes == 20
    trainer, agents, mask = robots_run()
    assert fields(trainer.train(agents, mask, plot=False, resume=state)) == fields(whole)


def test_a_restored_memory_samples_what_the_original_samples() -> None:
    trainer, agents, mask = robots_run(episodes_per_train=12)
    trainer.train(agents, mask, plot=False)
    memory = agents[0].memory
    state = memory_state(memory)
    twin = dqn_agent(
        trainer.observation_space(0),
        trainer.action_space(0),
        config=DQNConfig(buffer_size=4096, n_step=3, prioritized=True),
        seed=99,
    )
    twin.attach_memory(memory.buffer_num, 64, 64)
    load_memory_state(twin.memory, state)
    assert len(twin.memory) == len(memory) > 0
    np.random.seed(0)  # Tianshou's prioritized sampling draws from NumPy's global generator
    first, index = memory.sample(32)
    np.random.seed(0)
    second, twin_index = twin.memory.sample(32)
    np.testing.assert_array_equal(index, twin_index)
    np.testing.assert_array_equal(first.obs.obs, second.obs.obs)
    np.testing.assert_array_equal(first.weight, second.weight)
    other = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=DQNConfig(buffer_size=2048))
    other.attach_memory(memory.buffer_num, 64, 64)
    with pytest.raises(ValueError, match="saved memory is a PrioritizedVectorReplayBuffer of 4096"):
        load_memory_state(other.memory, state)


def test_state_memory_false_leaves_the_memories_out(tmp_path: Any) -> None:
    with_memory, without = tmp_path / "with.state", tmp_path / "without.state"
    for path, keep in ((with_memory, True), (without, False)):
        trainer, agents, mask = robots_run(state_path=path, state_memory=keep)
        stop_after_tests(trainer, 2)
        trainer.train(agents, mask, plot=False)
    assert "memory" in read_training_state(with_memory).learners[0]
    assert "memory" not in read_training_state(without).learners[0]
    assert os.path.getsize(without) < os.path.getsize(with_memory)
    trainer, agents, mask = robots_run()
    resumed = trainer.train(agents, mask, plot=False, resume=without)  # continues, with an empty memory
    assert resumed.collected_episodes >= SMALL["episodes_per_train"]


def test_resume_errors_name_what_differs(tmp_path: Any) -> None:
    state = tmp_path / "run.state"
    trainer, agents, mask = robots_run(state_path=state)
    stop_after_tests(trainer, 2)
    trainer.train(agents, mask, plot=False)

    missing = DecentralizedTrainer(ROBOTS, **SMALL)
    with pytest.raises(FileNotFoundError, match=r"nowhere.state' does not exist"):
        missing.train(agents, mask, plot=False, resume=tmp_path / "nowhere.state")
    assert missing._train_engine is None  # refused before any pool was built

    other_game = DecentralizedTrainer({"game": "tictactoe"}, **SMALL)
    learner = dqn_agent(other_game.observation_space(0), other_game.action_space(0), seed=0)
    with pytest.raises(ValueError, match=r"game 'robot_delivery' with seats .* but this trainer plays 'tictactoe'"):
        other_game.train([learner, learner], [True, True], plot=False, resume=state)

    trainer, agents, mask = robots_run(update_freq=32)
    with pytest.raises(ValueError, match=r"other settings: update_freq=64 \(now 32\)"):
        trainer.train(agents, mask, plot=False, resume=state)

    trainer, agents, mask = robots_run()
    with pytest.raises(ValueError, match=r"agents \['OffPolicyLearner:dqn'\] \(kind:name\), now"):
        trainer.train([agents[0], RandomAgent()], [True, False], plot=False, resume=state)

    bigger = DecentralizedTrainer({**ROBOTS, "max_step": 80}, **SMALL)
    with pytest.raises(ValueError, match="trained with env args"):
        bigger.train(agents, mask, plot=False, resume=state)

    garbage = tmp_path / "garbage.state"
    garbage.write_bytes(b"not a state")
    with pytest.raises(ValueError, match=r"garbage.state is not a readable rbtrainer training state"):
        trainer.train(agents, mask, plot=False, resume=garbage)
    agents_file = save_agents(tmp_path / "agents.pt", agents)
    with pytest.raises(ValueError, match=r"agents.pt is not an rbtrainer training state"):
        trainer.train(agents, mask, plot=False, resume=agents_file)


def test_state_files_load_weights_only(tmp_path: Any) -> None:
    state = tmp_path / "run.state"
    trainer, agents, mask = robots_run(state_path=state)
    stop_after_tests(trainer, 2)
    trainer.train(agents, mask, plot=False)
    payload = torch.load(state, weights_only=True)
    assert payload["kind"] == "rbtrainer-training-state"
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def read_csv(path: Any) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_and_tensorboard_logs(tmp_path: Any) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log = MultiLogger([CSVLogger(tmp_path / "csv"), TensorBoardLogger(tmp_path / "tb")])
    trainer, groups, mask = board_run(logger=log)
    stats = trainer.train(groups, mask, plot=False)
    log.close()
    tests = read_csv(tmp_path / "csv" / "tests.csv")
    assert [int(row["step"]) for row in tests] == stats.test_steps
    assert [float(row["reward_metric"]) for row in tests] == pytest.approx(stats.reward_metric_history)
    for column in (
        "return/player_1",
        "return/player_2",
        "wins/player_1",
        "wins/player_2",
        "draws",
        "mean_episode_length",
        "group/vs bot/reward_metric",
        "group/vs random/return/player_2",
    ):
        assert column in tests[0], column
    updates = read_csv(tmp_path / "csv" / "updates.csv")
    assert {"env_steps_per_s", "gradient_steps_per_s", "ppo/loss", "ppo/vf_loss"} <= set(updates[0])
    assert int(updates[-1]["step"]) == stats.collected_steps
    events = EventAccumulator(os.fspath(tmp_path / "tb"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"test/reward_metric", "test/wins/player_1", "train/env_steps_per_s", "train/ppo/loss"} <= set(scalars)
    assert [e.step for e in events.Scalars("test/reward_metric")] == stats.test_steps
    assert [e.value for e in events.Scalars("test/reward_metric")] == pytest.approx(stats.reward_metric_history)


def test_logs_of_a_resumed_run_read_as_one_run(tmp_path: Any) -> None:
    whole_dir, split_dir, state = tmp_path / "whole", tmp_path / "split", tmp_path / "run.state"
    trainer, agents, mask = robots_run(logger=CSVLogger(whole_dir))
    trainer.train(agents, mask, plot=False)
    trainer, agents, mask = robots_run(logger=CSVLogger(split_dir), state_path=state, state_every=1)
    stop_after_tests(trainer, 4)
    trainer.train(agents, mask, plot=False)
    trainer, agents, mask = robots_run(logger=CSVLogger(split_dir))
    trainer.train(agents, mask, plot=False, resume=state)
    assert read_csv(split_dir / "tests.csv") == read_csv(whole_dir / "tests.csv")
    steps = [row["step"] for row in read_csv(split_dir / "updates.csv")]
    assert steps == [row["step"] for row in read_csv(whole_dir / "updates.csv")]


def test_request_stop_without_a_state_path_still_ends_cleanly() -> None:
    trainer, agents, mask = robots_run()
    stop_after_tests(trainer, 2)
    last: list[bool] = []
    trainer.save_last_fn = lambda: last.append(True)
    stats = trainer.train(agents, mask, plot=False)
    assert stats.interrupted and stats.state_path is None and last == [True]
    trainer.test_fn = None
    assert not trainer.train(agents, mask, plot=False).interrupted  # the request does not outlive its run


def test_logger_argument_is_checked() -> None:
    with pytest.raises(TypeError, match=r"logger must be an rbtrainer.logs.TrainingLogger"):
        DecentralizedTrainer(ROBOTS, logger="runs")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="state_path must be a file path"):
        DecentralizedTrainer(ROBOTS, state_path="")
    with pytest.raises(ValueError, match="state_every"):
        DecentralizedTrainer(ROBOTS, state_every=0)
