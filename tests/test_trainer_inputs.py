"""Bad inputs to DecentralizedTrainer and the agent builders fail early, with the right
exception type and a message naming the argument; good inputs are never modified."""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from conftest import RecordingLearner

from rbtrainer import (
    DecentralizedTrainer,
    DQNConfig,
    PPOConfig,
    RandomAgent,
    ScriptedAgent,
    dqn_agent,
    ppo_agent,
)
from rbtrainer.agents.base import Agent

TINY: dict[str, Any] = {
    "num_train_envs": 2,
    "num_test_envs": 2,
    "episodes_per_train": 10,
    "episodes_per_test": 4,
    "test_freq": 5,
    "progress_bar": False,
}


@pytest.fixture(scope="module")
def trainer() -> DecentralizedTrainer:
    with DecentralizedTrainer({"game": "tictactoe"}, seed=0, **TINY) as t:
        yield t


@pytest.fixture(scope="module")
def learner(trainer: DecentralizedTrainer):
    return dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=0)


@pytest.fixture(scope="module")
def spaces(trainer: DecentralizedTrainer) -> tuple[gym.Space, gym.Space]:
    return trainer.observation_space(0), trainer.action_space(0)


# --------------------------------------------------------------------------------------------
# agents
# --------------------------------------------------------------------------------------------


def test_wrong_number_of_agents(trainer, learner) -> None:
    with pytest.raises(ValueError, match=r"agents has 1 entries .* 2 seats"):
        trainer.train([learner], [True, False], plot=False)
    with pytest.raises(ValueError, match=r"agents has 3 entries"):
        trainer.train([learner, learner, learner], [True, False], plot=False)


@pytest.mark.parametrize(
    "agents",
    [
        "learner",
        "dict",
        "none",
        "string",
        "long-string",
    ],
)
def test_agents_not_a_list(trainer, learner, agents: str) -> None:
    value = {
        "learner": learner,
        "dict": {0: learner, 1: learner},
        "none": None,
        "string": "ab",
        "long-string": "abc",
    }[agents]
    with pytest.raises(TypeError, match=r"agents must be a list"):
        trainer.train(value, [True, False], plot=False)


def test_non_agent_element(trainer, learner) -> None:
    with pytest.raises(TypeError, match=r"agents\[1\] must be an rbtrainer Agent"):
        trainer.train([learner, lambda obs, mask: 0], [True, False], plot=False)


def test_non_agent_element_in_test(trainer, learner) -> None:
    with pytest.raises(TypeError, match=r"agents\[0\] must be an rbtrainer Agent"):
        trainer.test(["random", learner])


def test_agents_incompatible_with_game_spaces(learner) -> None:
    connect_four = DecentralizedTrainer({"game": "connect_four"}, **TINY)
    with pytest.raises(ValueError, match=r"agents\[0\] cannot play seat 'player_0'"):
        connect_four.train([learner, RandomAgent()], [True, False], plot=False)
    with pytest.raises(ValueError, match=r"agents\[1\] cannot play seat 'player_1'"):
        connect_four.test([RandomAgent(), learner])


# --------------------------------------------------------------------------------------------
# learning / exploration masks
# --------------------------------------------------------------------------------------------


def test_learning_mask_wrong_length(trainer, learner) -> None:
    with pytest.raises(ValueError, match=r"learning_mask has 1 entries but the game has 2 seats"):
        trainer.train([learner, learner], [True], plot=False)
    with pytest.raises(ValueError, match=r"learning_mask has 3 entries"):
        trainer.train([learner, learner], [True, False, True], plot=False)


@pytest.mark.parametrize("bad", ["yes", None, 2, 0.5])
def test_learning_mask_wrong_element_type(trainer, learner, bad: Any) -> None:
    with pytest.raises(TypeError, match=r"learning_mask\[1\] must be a bool"):
        trainer.train([learner, learner], [True, bad], plot=False)


@pytest.mark.parametrize("mask", ["TF", b"TF", True, {0: True, 1: True}, None])
def test_learning_mask_not_a_list(trainer, learner, mask: Any) -> None:
    with pytest.raises(TypeError, match=r"learning_mask must be a list of 2 booleans"):
        trainer.train([learner, learner], mask, plot=False)


def test_exploration_mask_wrong_length(trainer, learner) -> None:
    with pytest.raises(ValueError, match=r"exploration_mask has 3 entries but the game has 2 seats"):
        trainer.train([learner, learner], [True, True], [True, True, True], plot=False)


def test_exploration_mask_wrong_types(trainer, learner) -> None:
    with pytest.raises(TypeError, match=r"exploration_mask\[0\] must be a bool"):
        trainer.train([learner, learner], [True, True], ["no", True], plot=False)
    with pytest.raises(TypeError, match=r"exploration_mask must be a list"):
        trainer.train([learner, learner], [True, True], "TT", plot=False)


def test_no_learning_seat(trainer, learner) -> None:
    with pytest.raises(ValueError, match=r"learning_mask has no learning seat"):
        trainer.train([learner, learner], [False, False], plot=False)


@pytest.mark.parametrize("fixed", ["random", "scripted", "frozen"])
def test_learning_seat_with_a_fixed_policy(trainer, learner, fixed: str) -> None:
    agent: Agent = {
        "random": RandomAgent,
        "scripted": lambda: ScriptedAgent(lambda obs, mask: int(np.flatnonzero(mask)[0])),
        "frozen": learner.frozen,
    }[fixed]()
    with pytest.raises(ValueError, match=r"learning_mask\[1\] is True but agents\[1\] .* cannot learn"):
        trainer.train([learner, agent], [True, True], plot=False)


def test_plot_flag_must_be_boolean(trainer, learner) -> None:
    with pytest.raises(TypeError, match=r"plot must be True or False"):
        trainer.train([learner, learner], [True, True], plot="no")


# --------------------------------------------------------------------------------------------
# learner memory
# --------------------------------------------------------------------------------------------


def test_buffer_too_small_for_the_streams(spaces) -> None:
    trainer = DecentralizedTrainer({"game": "tictactoe"}, **{**TINY, "num_train_envs": 16})
    tiny = dqn_agent(*spaces, seed=0, buffer_size=10)
    # 16 envs x 2 seats stored (shared memory) = 32 streams for 10 transitions
    with pytest.raises(ValueError, match=r"buffer_size=10 .* 32 \(env, seat\) streams"):
        trainer.train([tiny, RandomAgent()], [True, False], plot=False)
    assert tiny.memory is None


def test_buffer_smaller_than_batch(spaces) -> None:
    trainer = DecentralizedTrainer({"game": "tictactoe"}, **{**TINY, "batch_size": 256})
    small = dqn_agent(*spaces, seed=0, buffer_size=128)
    with pytest.raises(ValueError, match=r"buffer_size=128 is smaller than batch_size=256"):
        trainer.train([small, RandomAgent()], [True, False], plot=False)


def test_on_policy_buffer_too_small_for_a_collection_phase(spaces) -> None:
    trainer = DecentralizedTrainer({"game": "tictactoe"}, **{**TINY, "update_freq": 500})
    small = ppo_agent(*spaces, seed=0, buffer_size=100)
    with pytest.raises(ValueError, match=r"buffer_size=100"):
        trainer.train([small, RandomAgent()], [True, False], plot=False)


# --------------------------------------------------------------------------------------------
# hooks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hook", ["train_fn", "test_fn", "save_best_fn", "save_last_fn", "stop_fn", "reward_metric"])
@pytest.mark.parametrize("value", [3, "mean", [print]])
def test_non_callable_hook(hook: str, value: Any) -> None:
    with pytest.raises(TypeError, match=rf"^{hook} must be callable or None"):
        DecentralizedTrainer({"game": "tictactoe"}, **TINY, **{hook: value})


# --------------------------------------------------------------------------------------------
# the game
# --------------------------------------------------------------------------------------------


def test_unknown_game_name() -> None:
    with pytest.raises(ValueError, match=r"unknown game 'chess'; registered games are \[.*'tictactoe'"):
        DecentralizedTrainer({"game": "chess"}, **TINY)


def test_game_name_not_a_string() -> None:
    with pytest.raises(TypeError, match=r"game name must be a string"):
        DecentralizedTrainer({"game": 3}, **TINY)


def test_unknown_game_argument() -> None:
    with pytest.raises(ValueError, match=r"env_args: unknown argument\(s\) \['size'\] for game 'tictactoe'"):
        DecentralizedTrainer({"game": "tictactoe", "size": 4}, **TINY)


def test_env_args_not_a_mapping() -> None:
    with pytest.raises(TypeError, match=r"env_args must be a dict"):
        DecentralizedTrainer([("game", "tictactoe")], **TINY)


def test_env_fn_not_callable() -> None:
    with pytest.raises(TypeError, match=r"env_fn must be a callable"):
        DecentralizedTrainer(env_fn="tictactoe", **TINY)


class _ClosableNonGame:
    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: gym.make("CartPole-v1"), id="gymnasium-env"),
        pytest.param(_ClosableNonGame, id="object-with-close"),
        pytest.param(object, id="plain-object"),
        pytest.param(lambda: None, id="none"),
    ],
)
def test_env_fn_returning_a_non_pettingzoo_object(make) -> None:
    with pytest.raises(TypeError, match=r"env_fn must return a PettingZoo AECEnv or ParallelEnv"):
        DecentralizedTrainer(env_fn=make, **TINY)


# --------------------------------------------------------------------------------------------
# counts and settings
# --------------------------------------------------------------------------------------------

COUNTS = [
    "num_train_envs",
    "num_test_envs",
    "batch_size",
    "update_freq",
    "test_freq",
    "episodes_per_train",
    "episodes_per_test",
]


@pytest.mark.parametrize("name", COUNTS)
@pytest.mark.parametrize("value", [0, -3])
def test_non_positive_count(name: str, value: int) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be a positive int, got {value}$"):
        DecentralizedTrainer({"game": "tictactoe"}, **{**TINY, name: value})


@pytest.mark.parametrize("name", COUNTS)
@pytest.mark.parametrize("value", [1.5, 2.0, "4", True, None])
def test_non_int_count(name: str, value: Any) -> None:
    if name == "episodes_per_train" and value is None:  # None: no episode budget, so a step budget is needed
        with pytest.raises(ValueError, match=r"^episodes_per_train and max_env_steps are both None"):
            DecentralizedTrainer({"game": "tictactoe"}, **{**TINY, name: value})
        return
    with pytest.raises(TypeError, match=rf"^{name} must be an int"):
        DecentralizedTrainer({"game": "tictactoe"}, **{**TINY, name: value})


@pytest.mark.parametrize("value", [0, -3, 1.5, True])
def test_bad_max_env_steps(value: Any) -> None:
    with pytest.raises((TypeError, ValueError), match=r"^max_env_steps must be"):
        DecentralizedTrainer({"game": "tictactoe"}, **{**TINY, "max_env_steps": value})


def test_bad_backend() -> None:
    with pytest.raises(ValueError, match=r"backend must be one of \['dummy', 'subproc', 'ray'\], got 'gpu'"):
        DecentralizedTrainer({"game": "tictactoe"}, backend="gpu", **TINY)


@pytest.mark.parametrize("value", [-0.5, 1e9])
def test_update_per_step_out_of_range(value: float) -> None:
    with pytest.raises(ValueError, match=r"update_per_step must be in"):
        DecentralizedTrainer({"game": "tictactoe"}, update_per_step=value, **TINY)


@pytest.mark.parametrize("name", ["shared_memory", "progress_bar"])
def test_boolean_settings(name: str) -> None:
    with pytest.raises(TypeError, match=rf"{name} must be True or False"):
        DecentralizedTrainer({"game": "tictactoe"}, **{**TINY, name: "yes"})


@pytest.mark.parametrize(
    ("seed", "error", "pattern"),
    [
        ("1", TypeError, r"seed must be an int"),
        (1.5, TypeError, r"seed must be an int, got 1\.5"),
        (-1, ValueError, r"seed .*got -1"),
        (True, TypeError, r"seed must be an int"),
    ],
)
def test_bad_seed(seed: Any, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        DecentralizedTrainer({"game": "tictactoe"}, seed=seed, **TINY)


def test_bad_plot_dir() -> None:
    with pytest.raises(TypeError, match=r"plot_dir"):
        DecentralizedTrainer({"game": "tictactoe"}, plot_dir=3, **TINY)


def test_bad_plot_name() -> None:
    with pytest.raises(TypeError, match=r"plot_name"):
        DecentralizedTrainer({"game": "tictactoe"}, plot_name=3, **TINY)


# --------------------------------------------------------------------------------------------
# agent builders
# --------------------------------------------------------------------------------------------

BUILDERS = {"dqn": dqn_agent, "ppo": ppo_agent}


@pytest.mark.parametrize("builder", sorted(BUILDERS))
@pytest.mark.parametrize(
    ("overrides", "error", "pattern"),
    [
        ({"lr": 0}, ValueError, r"^lr must be in \(0\.0, 1\.0\], got 0$"),
        ({"lr": -1e-3}, ValueError, r"^lr must be in"),
        ({"lr": "fast"}, TypeError, r"^lr must be a number"),
        ({"gamma": 2}, ValueError, r"^gamma must be in \[0\.0, 1\.0\], got 2$"),
        ({"hidden_sizes": (64, 0)}, ValueError, r"^hidden_sizes\[1\] must be a positive int"),
        ({"hidden_sizes": 64}, TypeError, r"^hidden_sizes must be a sequence"),
        ({"buffer_size": 0}, ValueError, r"^buffer_size must be a positive int"),
        ({"buffer_size": 1.5}, TypeError, r"^buffer_size must be an int"),
        ({"learning_rate": 1e-3}, TypeError, r"unknown (DQN|PPO)Config field\(s\) \['learning_rate'\]"),
    ],
)
def test_bad_builder_values(spaces, builder: str, overrides: dict[str, Any], error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        BUILDERS[builder](*spaces, **overrides)


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "pattern"),
    [
        (DQNConfig, {"epsilon": 1.5}, ValueError, r"^epsilon must be in"),
        (DQNConfig, {"n_step": 0}, ValueError, r"^n_step must be a positive int"),
        (DQNConfig, {"target_update_freq": -1}, ValueError, r"^target_update_freq must be >= 0"),
        (DQNConfig, {"double": "yes"}, TypeError, r"^double must be True or False"),
        (DQNConfig, {"alpha": 0}, ValueError, r"^alpha must be in"),
        (PPOConfig, {"algorithm": "sac"}, ValueError, r"^algorithm must be 'ppo' or 'a2c'"),
        (PPOConfig, {"eps_clip": 0}, ValueError, r"^eps_clip must be in"),
        (PPOConfig, {"repeat": 0}, ValueError, r"^repeat must be a positive int"),
        (PPOConfig, {"max_grad_norm": 0}, ValueError, r"^max_grad_norm must be in"),
    ],
)
def test_bad_config_values(cls: type, kwargs: dict[str, Any], error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        cls(**kwargs)


def test_unknown_config_field() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'lrate'"):
        DQNConfig(lrate=0.1)


def test_builder_config_of_the_wrong_type(spaces) -> None:
    with pytest.raises(TypeError, match=r"config must be a DQNConfig, got PPOConfig"):
        dqn_agent(*spaces, config=PPOConfig())
    with pytest.raises(TypeError, match=r"config must be a PPOConfig, got DQNConfig"):
        ppo_agent(*spaces, config=DQNConfig())


def test_builder_overrides_are_checked_against_a_given_config(spaces) -> None:
    with pytest.raises(ValueError, match=r"^gamma must be in"):
        dqn_agent(*spaces, config=DQNConfig(lr=1e-2), gamma=-0.5)


def test_builder_rejects_non_discrete_actions(spaces) -> None:
    with pytest.raises(TypeError, match=r"action_space must be gymnasium.spaces.Discrete"):
        dqn_agent(spaces[0], gym.spaces.Box(0, 1, shape=(2,)))


# --------------------------------------------------------------------------------------------
# nothing passed in is changed
# --------------------------------------------------------------------------------------------


def test_inputs_are_not_modified() -> None:
    env_args = {"game": "tictactoe"}
    env_args_copy = copy.deepcopy(env_args)
    trainer = DecentralizedTrainer(env_args, seed=1, **TINY)
    learner, opponent = RecordingLearner(seed=0), RandomAgent(seed=0)
    agents = [learner, opponent]
    learning_mask = [True, False]
    exploration_mask = [True, False]
    with trainer:
        stats = trainer.train(agents, learning_mask, exploration_mask, plot=False)
    assert stats.collected_episodes >= TINY["episodes_per_train"]
    assert learner.stored_count > 0
    assert env_args == env_args_copy
    assert list(env_args) == ["game"]
    assert len(agents) == 2
    assert agents[0] is learner
    assert agents[1] is opponent
    assert learning_mask == [True, False]
    assert exploration_mask == [True, False]
    assert all(type(v) is bool for v in learning_mask + exploration_mask)
    # the trainer keeps its own copy of env_args
    assert trainer.env_args == env_args_copy
    assert trainer.env_args is not env_args


def test_array_masks_and_tuple_agents_are_not_modified() -> None:
    env_args = {"game": "matrix_game", "num_rounds": 3}
    trainer = DecentralizedTrainer(env_args, seed=2, **TINY)
    learner = RecordingLearner(seed=1)
    agents = (learner, learner)
    learning_mask = np.array([True, False])
    with trainer:
        trainer.train(agents, learning_mask, plot=False)  # exploration_mask defaults to learning_mask
    assert env_args == {"game": "matrix_game", "num_rounds": 3}
    assert agents == (learner, learner)
    np.testing.assert_array_equal(learning_mask, [True, False])
    assert learning_mask.dtype == bool
    # the learner also stores the other seat (shared memory): 2 envs x 2 seats
    assert learner.attached == [(4, 100, 64)]


def test_failed_train_attaches_no_memory(spaces) -> None:
    fresh = dqn_agent(*spaces, seed=3)
    trainer = DecentralizedTrainer({"game": "tictactoe"}, **TINY)
    with pytest.raises(ValueError, match=r"learning_mask\[1\]"):
        trainer.train([fresh, RandomAgent()], [True, True], plot=False)
    assert fresh.memory is None


# --------------------------------------------------------------------------------------------
# wrong type -> TypeError, bad value -> ValueError, also on learners built by hand
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"buffer_size": 1.5}, TypeError, r"^buffer_size must be an int"),
        ({"buffer_size": 0}, ValueError, r"^buffer_size must be a positive int"),
        ({"repeat": 1.5}, TypeError, r"^repeat must be an int"),
        ({"repeat": 0}, ValueError, r"^repeat must be a positive int"),
    ],
)
def test_hand_built_on_policy_learner_values(spaces, kwargs: dict[str, Any], error: type, pattern: str) -> None:
    from rbtrainer import OnPolicyLearner

    algorithm = ppo_agent(*spaces, seed=0).algorithm
    with pytest.raises(error, match=pattern):
        OnPolicyLearner(algorithm, *spaces, **kwargs)


def test_epsilon_must_be_a_number(learner) -> None:
    with pytest.raises(TypeError, match=r"^epsilon must be a number"):
        learner.epsilon = "0.5"
    with pytest.raises(ValueError, match=r"^epsilon must be in"):
        learner.epsilon = 1.5


@pytest.mark.parametrize("hook", ["train_fn", "test_fn", "save_best_fn", "save_last_fn", "stop_fn", "reward_metric"])
def test_hooks_assigned_after_construction_are_checked(hook: str) -> None:
    with DecentralizedTrainer({"game": "tictactoe"}, seed=0, **TINY) as trainer:
        setattr(trainer, hook, 3)
        with pytest.raises(TypeError, match=rf"^{hook} must be callable or None, got 3"):
            trainer.train([RecordingLearner(), RandomAgent()], [True, False], plot=False)
        with pytest.raises(TypeError, match=rf"^{hook} must be callable"):
            trainer.test([RandomAgent(), RandomAgent()])
