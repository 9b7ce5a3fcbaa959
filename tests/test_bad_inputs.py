"""The catalogue of bad inputs: what the user can get wrong, and the error each one gets.

The library's promise: a bad input fails at the earliest point it can be seen (construction, the
start of ``train()``/``test()``, or the value a user's hook or agent returns), with ``TypeError``
for a value of the wrong kind, ``ValueError`` for a value out of range, and a message that names
the argument, hook or agent and says what it expected. Nothing the caller passed is modified.

This module holds the cases of values returned by user code, checks made before training and
absurd sizes. The other cases sit beside the code they exercise:

* trainer arguments, agents, masks, env groups, hooks: ``test_trainer_inputs.py``
* env args and game registry: ``test_registry.py``; seat plans: ``test_seating.py``
* games (seeds, actions, agents, ``env_fn`` observations) and property-based tests:
  ``test_game_inputs.py``, ``test_properties.py``
* pools (a game raising in a worker, a worker dying): ``test_pool_failures.py``
* checkpoints and training states: ``test_checkpoint.py``, ``test_resume.py``, ``test_files.py``
* tournaments, agent specs, ratings: ``test_evaluation.py``, ``test_baselines.py``
* the command line (one line on stderr, exit status 2): ``test_cli.py``
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import RecordingLearner

from rbtrainer import DecentralizedTrainer, DQNConfig, RandomAgent, dqn_agent, ppo_agent
from rbtrainer.agents.base import Agent

TINY: dict[str, Any] = {
    "num_train_envs": 2,
    "num_test_envs": 2,
    "episodes_per_train": 6,
    "episodes_per_test": 2,
    "test_freq": 3,
    "progress_bar": False,
}


@pytest.fixture
def trainer(tmp_path) -> DecentralizedTrainer:
    with DecentralizedTrainer({"game": "tictactoe"}, seed=0, plot_dir=str(tmp_path / "plots"), **TINY) as t:
        yield t


def randoms() -> list[Agent]:
    return [RandomAgent(seed=1), RandomAgent(seed=2)]


# --------------------------------------------------------------------------------------------
# values returned by user code
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (math.nan, ValueError, "reward_metric returned nan; it must return a finite number"),
        (math.inf, ValueError, "reward_metric returned inf"),
        ("1.5", TypeError, "reward_metric must return one real number .* got '1.5'"),
        (np.array([1.0, 2.0]), TypeError, r"reward_metric must return one real number .* got array\(\[1\., 2\.\]\)"),
        (None, TypeError, "reward_metric must return one real number .* got None"),
        (True, TypeError, "reward_metric must return one real number .* got True"),
    ],
)
def test_reward_metric_must_return_a_finite_number(trainer, value, error, message) -> None:
    trainer.reward_metric = lambda rewards: value
    with pytest.raises(error, match=message):
        trainer.test(randoms())


@pytest.mark.parametrize("value", [np.float32(0.5), np.array(0.5), 1, np.int64(2)])
def test_reward_metric_may_return_any_real_scalar(trainer, value) -> None:
    trainer.reward_metric = lambda rewards: value
    assert trainer.test(randoms()).reward_metric == float(value)


@pytest.mark.parametrize("value", ["no", 0, None, np.array([True])])
def test_stop_fn_must_return_a_bool(trainer, value) -> None:
    trainer.stop_fn = lambda metric, episodes: value
    with pytest.raises(TypeError, match="stop_fn must return True or False"):
        trainer.train([RecordingLearner(), RecordingLearner()], [True, True], plot=False)


class Returns(Agent):
    """An agent whose ``act`` returns ``value`` (a callable of the row count) whatever it is asked."""

    def __init__(self, value: Callable[[int], Any], name: str) -> None:
        self.value = value
        self.name = name

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> Any:
        return self.value(len(obs))


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (lambda n: [-1] * n, ValueError, r"returned action -1 for seat 0 of env 0; actions are 0\.\.8"),
        (lambda n: [9] * n, ValueError, r"returned action 9 for seat 0 of env 0; actions are 0\.\.8"),
        (lambda n: [None] * n, TypeError, "must return integer actions, got dtype object"),
        (lambda n: [2.7] * n, TypeError, "must return integer actions, got dtype float64"),
        (lambda n: [True] * n, TypeError, "must return integer actions, got dtype bool"),
        (lambda n: [0] * (n + 1), ValueError, r"must return one action per row, shape \(2,\); got shape \(3,\)"),
        (lambda n: 0, ValueError, r"must return one action per row, shape \(2,\); got shape \(\)"),
    ],
)
def test_act_must_return_one_legal_int_per_row(trainer, value, error, message) -> None:
    with pytest.raises(error, match=f"agent 'odd': act {message}"):
        trainer.test([Returns(value, "odd"), RandomAgent()])


# --------------------------------------------------------------------------------------------
# checked before training
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seat", [1.7, True, np.float64(1.0), None])
def test_seat_index_must_be_an_int(trainer, seat) -> None:
    with pytest.raises(TypeError, match="seat must be an int"):
        trainer.observation_space(seat)
    with pytest.raises(TypeError, match="seat must be an int"):
        trainer.action_space(seat)


def test_seat_index_out_of_range(trainer) -> None:
    with pytest.raises(ValueError, match=r"seat 2 out of range 0\.\.1"):
        trainer.observation_space(2)
    assert trainer.observation_space(np.int64(1)) == trainer.observation_space(1)


def test_plot_dir_that_is_a_file_fails_at_construction(tmp_path) -> None:
    existing = tmp_path / "a-file"
    existing.write_text("")
    with pytest.raises(ValueError, match=r"plot_dir '.*a-file' exists and is not a directory"):
        DecentralizedTrainer({"game": "tictactoe"}, plot_dir=str(existing), **TINY)


@pytest.mark.parametrize("name", ["../../x.png", "sub/x.png", "..", "."])
def test_plot_name_must_be_a_plain_file_name(name) -> None:
    with pytest.raises(ValueError, match="plot_name must be a plain file name without a directory part"):
        DecentralizedTrainer({"game": "tictactoe"}, plot_name=name, **TINY)


def test_plot_settings_changed_after_construction_fail_before_training(trainer, tmp_path) -> None:
    learners = [RecordingLearner(), RecordingLearner()]
    existing = tmp_path / "a-file"
    existing.write_text("")
    trainer.config.plot_dir = str(existing)
    with pytest.raises(ValueError, match=r"plot_dir .* exists and is not a directory"):
        trainer.train(learners, [True, True])
    trainer.config.plot_dir = str(existing / "below")
    with pytest.raises(ValueError, match=r"plot_dir .* cannot be created: .*a-file' is not a directory"):
        trainer.train(learners, [True, True])
    trainer.config.plot_dir = str(tmp_path)
    trainer.config.plot_name = "../escape.png"
    with pytest.raises(ValueError, match="plot_name must be a plain file name"):
        trainer.train(learners, [True, True])
    assert not any(learner.stored for learner in learners)  # nothing was played
    assert trainer.train(learners, [True, True], plot=False).collected_episodes >= TINY["episodes_per_train"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user for permissions")
def test_unwritable_plot_dir_fails_before_training(trainer, tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    trainer.config.plot_dir = str(locked / "plots")
    with pytest.raises(PermissionError, match=r"plot_dir .* is not writable"):
        trainer.train([RecordingLearner(), RecordingLearner()], [True, True])


@pytest.mark.parametrize("value", ["0.1", None, [0.1]])
def test_epsilon_must_be_a_number(value) -> None:
    with pytest.raises(TypeError, match="epsilon must be a number"):
        DQNConfig(epsilon=value)


def test_learner_epsilon_set_later_must_be_a_number(trainer) -> None:
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), hidden_sizes=(8,), buffer_size=100)
    with pytest.raises(TypeError, match="epsilon must be a number"):
        learner.epsilon = "0.1"
    with pytest.raises(ValueError, match=r"epsilon must be in \[0\.0, 1\.0\]"):
        learner.epsilon = 1.5
    assert learner.epsilon == 0.1


# --------------------------------------------------------------------------------------------
# absurd sizes fail before anything is allocated
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["num_train_envs", "num_test_envs"])
def test_absurd_env_counts(name) -> None:
    with pytest.raises(ValueError, match=f"{name} must be at most 65,536, got 1,000,000,000"):
        DecentralizedTrainer({"game": "tictactoe"}, **{**TINY, name: 10**9})


@pytest.mark.parametrize("build", [dqn_agent, ppo_agent])
def test_absurd_buffer_and_network(trainer, build) -> None:
    spaces = trainer.observation_space(0), trainer.action_space(0)
    with pytest.raises(ValueError, match=r"buffer_size is too large: 1,000,000,000,000 transitions would need"):
        build(*spaces, buffer_size=10**12)
    with pytest.raises(ValueError, match=r"hidden_sizes is too large: a network of [\d,]+ parameters would need"):
        build(*spaces, hidden_sizes=(10**6, 10**6))


@pytest.mark.parametrize("name", ["lr", "gamma"])
def test_an_int_beyond_float_range_is_a_bad_value(name) -> None:
    with pytest.raises(ValueError, match=f"{name} must be in .* got an int of 401 digits"):
        DQNConfig(**{name: 10**400})
