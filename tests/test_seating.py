"""Per-env seat plans: env groups seat different agents in shares of one pool, results per group;
PettingZoo's rule wrappers stay in force; the exploration default of the seed's contract."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import RecordingLearner

from rbtrainer import DecentralizedTrainer, EnvGroup, RandomAgent, ScriptedAgent
from rbtrainer.seating import split_counts

ROUNDS = 3
COOPERATE, DEFECT = 0, 1


def seat0(rewards: np.ndarray) -> float:
    return float(np.mean(rewards[:, 0]))


def matrix_trainer(backend: str = "dummy", **overrides: Any) -> DecentralizedTrainer:
    settings: dict[str, Any] = {
        "num_train_envs": 4,
        "num_test_envs": 4,
        "episodes_per_train": 12,
        "episodes_per_test": 8,
        "test_freq": 6,
        "update_freq": 8,
        "reward_metric": seat0,
        "seed": 0,
        "backend": backend,
        "progress_bar": False,
    }
    settings.update(overrides)
    return DecentralizedTrainer({"game": "matrix_game", "num_rounds": ROUNDS}, **settings)


def run_two_groups(backend: str) -> dict[str, Any]:
    """A defecting learner against an always-cooperate group and an always-defect group (prisoner's
    dilemma, 3 rounds): exact returns per group, and each opponent acts only in its own envs."""
    with matrix_trainer(backend) as trainer:
        learner = RecordingLearner(fn=lambda obs, mask: DEFECT, name="defector")
        cooperator = RecordingLearner(fn=lambda obs, mask: COOPERATE, name="always-C")
        defector = RecordingLearner(fn=lambda obs, mask: DEFECT, name="always-D")
        groups = [EnvGroup("vs-C", [learner, cooperator]), EnvGroup("vs-D", [learner, defector])]
        stats = trainer.train(groups, [True, False], plot=False)
        result = trainer.test(groups, eval_metrics=True)
    return {"stats": stats, "result": result, "cooperator": cooperator, "defector": defector, "learner": learner}


def check_two_groups(run: dict[str, Any]) -> None:
    stats, result = run["stats"], run["result"]
    # payoffs: (D, C) -> (5, 0) and (D, D) -> (1, 1) per round
    assert set(stats.groups) == {"vs-C", "vs-D"}
    rounds = len(stats.reward_metric_history)
    assert rounds >= 2
    assert stats.groups["vs-C"].reward_metric_history == [5.0 * ROUNDS] * rounds
    assert stats.groups["vs-D"].reward_metric_history == [1.0 * ROUNDS] * rounds
    assert stats.groups["vs-C"].per_seat_rewards == [[5.0 * ROUNDS, 0.0]] * rounds
    assert stats.reward_metric_history == [3.0 * ROUNDS] * rounds  # 4 test episodes of each group
    assert result.num_episodes == 8
    assert {name: g.num_episodes for name, g in result.groups.items()} == {"vs-C": 4, "vs-D": 4}
    np.testing.assert_array_equal(result.groups["vs-C"].per_seat_rewards, [15.0, 0.0])
    np.testing.assert_array_equal(result.groups["vs-D"].per_seat_rewards, [3.0, 3.0])
    assert result.groups["vs-C"].wins == {"player_0": 4, "player_1": 0}
    assert result.groups["vs-D"].draws == 4
    # 2 of the 4 envs each, every env active on every tick: one call of 2 rows per opponent per tick
    assert set(run["cooperator"].act_batch_sizes) == {2}
    assert set(run["defector"].act_batch_sizes) == {2}
    assert set(run["learner"].act_batch_sizes) == {4}  # the learner: one call for all 4 envs
    # the learner's memory: one stream per (env, seat); with shared memory it stores the opponents' seats too
    assert run["learner"].attached == [(4 * 2, 8, 64)]


@pytest.mark.parametrize("backend", ["dummy", "subproc"])
def test_two_opponent_groups_in_one_pool(backend: str) -> None:
    check_two_groups(run_two_groups(backend))


def test_one_list_reports_no_groups() -> None:
    with matrix_trainer() as trainer:
        learner = RecordingLearner(fn=lambda obs, mask: DEFECT)
        stats = trainer.train([learner, ScriptedAgent(lambda obs, mask: COOPERATE)], [True, False], plot=False)
        assert stats.groups == {}
        assert trainer.test([learner, learner]).groups == {}


def test_weights_share_envs_and_test_episodes() -> None:
    with matrix_trainer(num_test_envs=8, episodes_per_test=20) as trainer:
        learner = RecordingLearner(fn=lambda obs, mask: DEFECT)
        small = RecordingLearner(fn=lambda obs, mask: COOPERATE)
        large = RecordingLearner(fn=lambda obs, mask: COOPERATE)
        result = trainer.test([EnvGroup("small", [learner, small]), EnvGroup("large", [learner, large], weight=3)])
    assert {name: g.num_episodes for name, g in result.groups.items()} == {"small": 5, "large": 15}
    assert max(small.act_batch_sizes) == 2 and max(large.act_batch_sizes) == 6  # 8 envs split 2 : 6


def test_group_masks_replace_the_train_masks() -> None:
    """The learner plays seat 0 in one group and seat 1 in the other, learning in both."""
    with matrix_trainer(shared_memory=False) as trainer:
        learner = RecordingLearner()
        groups = [
            EnvGroup("first", [learner, RandomAgent(seed=1)]),
            EnvGroup("second", [RandomAgent(seed=2), learner], learning_mask=[False, True]),
        ]
        trainer.train(groups, [True, False], plot=False)
    assert learner.attached == [(4, 8, 64)]  # 2 envs x seat 0, 2 envs x seat 1
    seats = {int(t["stream"]) for t in learner.transitions()}
    assert seats == {0, 1, 2, 3}


def test_split_counts() -> None:
    assert split_counts(16, [1, 1], minimum=1) == [8, 8]
    assert split_counts(20, [1, 3], minimum=1) == [5, 15]
    assert split_counts(3, [100, 1, 1], minimum=1) == [1, 1, 1]
    assert split_counts(7, [1, 1, 1]) == [3, 2, 2]
    assert sum(split_counts(97, [0.3, 2, 5.5, 1], minimum=1)) == 97
    with pytest.raises(ValueError, match="at least 1"):
        split_counts(2, [1, 1, 1], minimum=1)


@pytest.mark.parametrize(
    ("groups", "error", "match"),
    [
        (lambda a, r: [EnvGroup("x", [a, r]), a], TypeError, "mixes EnvGroup"),
        (lambda a, r: [EnvGroup("x", [a, r]), EnvGroup("x", [a, r])], ValueError, "EnvGroup 'x' appears twice"),
        (lambda a, r: [EnvGroup("", [a, r])], TypeError, "non-empty string"),
        (lambda a, r: [EnvGroup("x", [a, r], weight=0)], ValueError, "EnvGroup 'x' weight"),
        (lambda a, r: [EnvGroup("x", [a])], ValueError, "EnvGroup 'x' agents has 1 entries"),
        (lambda a, r: [EnvGroup("x", [a, "random"])], TypeError, r"EnvGroup 'x' agents\[1\] must be an rbtrainer"),
        (lambda a, r: [EnvGroup(str(k), [a, r]) for k in range(5)], ValueError, "5 env groups .* num_train_envs=4"),
        (
            lambda a, r: [EnvGroup("x", [a, r], learning_mask=[False, True])],
            ValueError,
            r"EnvGroup 'x': learning_mask\[1\] is True but agents\[1\]",
        ),
        (lambda a, r: [EnvGroup("x", [a, r], exploration_mask=[1])], ValueError, "EnvGroup 'x' exploration_mask"),
    ],
)
def test_bad_groups(groups, error, match) -> None:
    with matrix_trainer() as trainer, pytest.raises(error, match=match):
        trainer.train(groups(RecordingLearner(), RandomAgent()), [True, False], plot=False)


def test_bad_groups_in_test() -> None:
    with matrix_trainer(episodes_per_test=2) as trainer:
        learner = RecordingLearner()
        groups = [EnvGroup(str(k), [learner, learner]) for k in range(3)]
        with pytest.raises(ValueError, match="3 env groups need at least one test episode each"):
            trainer.test(groups)


def test_every_seat_explores_by_default() -> None:
    """The seed documents ``exploration_mask=None`` as "all agents explore during training"."""

    class Spy(RecordingLearner):
        def __init__(self, name: str) -> None:
            super().__init__(name=name)
            self.explore_flags: list[np.ndarray] = []

        def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
            self.explore_flags.append(np.array(explore, copy=True))
            return super().act(obs, mask, explore)

    def collecting(spy: Spy) -> np.ndarray:
        # test rounds never explore; the default-explore case is the only one with True flags
        return np.concatenate(spy.explore_flags)

    with matrix_trainer(episodes_per_train=2, test_freq=10) as trainer:
        learner, opponent = Spy("learner"), Spy("opponent")
        trainer.train([learner, opponent], [True, False], plot=False)
        assert collecting(learner).any() and collecting(opponent).any()  # both seats explore
        learner, opponent = Spy("learner"), Spy("opponent")
        trainer.train([learner, opponent], [True, False], exploration_mask=[True, False], plot=False)
        assert collecting(learner).any()
        assert not collecting(opponent).any()


def test_pettingzoo_illegal_move_rule_is_kept() -> None:
    """tictactoe_v3 ends the game when a move breaks the mask (-1 for the mover) instead of crashing."""
    tictactoe_v3 = pytest.importorskip("pettingzoo.classic.tictactoe_v3")
    trainer = DecentralizedTrainer(
        env_fn=tictactoe_v3.env,
        num_train_envs=2,
        num_test_envs=2,
        episodes_per_train=10,
        episodes_per_test=4,
        test_freq=5,
        seed=0,
        progress_bar=False,
    )
    with trainer:
        stubborn = ScriptedAgent(lambda obs, mask: 0, name="always-0")  # ignores the mask
        result = trainer.test([RandomAgent(seed=1), stubborn], eval_metrics=True)
        assert result.illegal_actions == result.num_episodes == 4  # once square 0 is taken, it plays it
        assert np.all(result.rewards[:, 1] == -1.0)
        assert result.wins == {"player_1": 4, "player_2": 0}
        learner = RecordingLearner(seed=0)
        stats = trainer.train([learner, stubborn], [True, False], plot=False)
    assert stats.collected_episodes >= 10  # training went on after every illegal move
    assert stats.illegal_actions >= stats.collected_episodes
    losses = [t for t in learner.transitions() if t["stream"] % 2 == 1 and (t["terminated"] or t["truncated"])]
    assert losses and all(t["rew"] == -1.0 for t in losses)


def test_per_seat_rewards_keep_their_old_name() -> None:
    with matrix_trainer(episodes_per_train=2) as trainer:
        learner = RecordingLearner(fn=lambda obs, mask: DEFECT)
        stats = trainer.train([learner, ScriptedAgent(lambda obs, mask: COOPERATE)], [True, False], plot=False)
        result = trainer.test([learner, learner])
    assert stats.per_agent_rewards is stats.per_seat_rewards
    assert stats.per_seat_rewards[-1] == [5.0 * ROUNDS, 0.0]
    assert result.per_agent_rewards is result.per_seat_rewards
