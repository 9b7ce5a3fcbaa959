"""Overlapped collection and learning (``overlap=True``): lag, determinism, resume, errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import SMALL_ROBOT_GAME, SMALL_RUN, TIMING_FIELDS

from rbtrainer import DecentralizedTrainer, DQNConfig, League, LeagueConfig, RandomAgent, dqn_agent, ppo_agent
from rbtrainer.callbacks import EpsilonSchedule

ROBOTS = SMALL_ROBOT_GAME
SMALL = {**SMALL_RUN, "update_per_step": 0.25}


OPENED: list[DecentralizedTrainer] = []
"""The trainers run() made in the current test, closed after it (their subproc games with them)."""


@pytest.fixture(autouse=True)
def _close_trainers() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().close()


def run(**kw: Any) -> tuple[DecentralizedTrainer, list[Any]]:
    trainer = DecentralizedTrainer(ROBOTS, **{**SMALL, **kw})
    OPENED.append(trainer)
    config = DQNConfig(buffer_size=4096, n_step=3, target_update_freq=20, hidden_sizes=(32,))
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=config, seed=4)
    trainer.train_fn = EpsilonSchedule(learners=[learner], start=1.0, end=0.1, episodes=30)
    return trainer, [learner, learner]


def fields(stats: Any) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(stats).items() if k not in TIMING_FIELDS}


def test_the_same_seed_gives_the_same_statistics_on_every_backend() -> None:
    first = run(overlap=True)
    whole = first[0].train(first[1], [True, True], plot=False)
    again = run(overlap=True)
    assert fields(again[0].train(again[1], [True, True], plot=False)) == fields(whole)
    workers = run(overlap=True, backend="subproc")
    assert fields(workers[0].train(workers[1], [True, True], plot=False)) == fields(whole)
    plain = run()
    other = plain[0].train(plain[1], [True, True], plot=False)
    assert other.gradient_steps == whole.gradient_steps  # the same updates, collected with a lag
    assert other.collected_steps == whole.collected_steps


def test_learners_lag_one_phase_and_catch_up_before_each_test_round() -> None:
    plain, lagged = run(), run(overlap=True)
    counts: list[tuple[int, int, bool]] = []
    with (
        plain[0].start(plain[1], [True, True], plot=False) as a,
        lagged[0].start(lagged[1], [True, True], plot=False) as b,
    ):
        while not a.done:
            pa, pb = a.step(), b.step()
            counts.append((pa.gradient_steps, pb.gradient_steps, pb.tested))
    per_phase = round(SMALL["update_freq"] * SMALL["update_per_step"])
    for k, (plain_steps, lagged_steps, tested) in enumerate(counts):
        if tested:  # the owed update ran before the test round
            assert lagged_steps == plain_steps
        else:
            assert lagged_steps == plain_steps - per_phase, k
    assert any(not t for *_, t in counts) and counts[-1][0] == counts[-1][1]


def test_the_actors_act_with_the_weights_the_learner_had_when_the_phase_began() -> None:
    trainer, agents = run(overlap=True)
    learner = agents[0]
    with trainer.start(agents, [True, True], plot=False) as training:
        progress = training.step()
        while progress.gradient_steps == 0 or progress.tested:  # until a phase ran an update in the background
            progress = training.step()
        # that update moved the learner on; the actors still hold the weights from before it
        actor = training._overlap._actors[0]  # type: ignore[union-attr]
        obs = np.random.default_rng(0).random((8, *trainer.observation_space(0).shape), np.float32)
        mask = np.ones((8, trainer.action_space(0).n), np.int8)
        before = actor._copy.policy.model(obs.reshape(8, -1))[0].detach()
        now = learner.policy.model(obs.reshape(8, -1))[0].detach()
        assert not np.allclose(before.numpy(), now.numpy())
        training.step()
        assert np.allclose(actor._copy.policy.model(obs.reshape(8, -1))[0].detach().numpy(), now.numpy())
        assert actor.act(obs, mask, np.zeros(8, bool)).shape == (8,)


def test_a_stopped_and_resumed_overlapped_run_ends_like_an_uninterrupted_one(tmp_path: Any) -> None:
    trainer, agents = run(overlap=True)
    whole = trainer.train(agents, [True, True], plot=False)
    state = tmp_path / "run.state"
    trainer, agents = run(overlap=True, state_path=state)
    with trainer.start(agents, [True, True], plot=False) as training:
        for _ in range(9):  # stop between test rounds, with an update owed
            progress = training.step()
        assert not progress.tested and training.position.owed_gradient_steps > 0
    stopped = training.stats
    assert stopped.interrupted
    trainer, agents = run(overlap=True)
    resumed = trainer.train(agents, [True, True], plot=False, resume=state)
    assert fields(resumed) == fields(whole)
    plain, agents = run()
    with pytest.raises(ValueError, match="overlap=True"):
        plain.train(agents, [True, True], plot=False, resume=state)


def test_overlap_is_refused_where_it_cannot_run() -> None:
    trainer = DecentralizedTrainer(ROBOTS, **{**SMALL, "overlap": True})
    ppo = ppo_agent(trainer.observation_space(0), trainer.action_space(0), seed=1)
    with pytest.raises(ValueError, match=r"overlap=True needs off-policy learners.*'ppo' is a OnPolicyLearner"):
        trainer.train([ppo, ppo], [True, True], plot=False)
    dqn = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=1)
    league = League(dqn, [RandomAgent(seed=2)], LeagueConfig(snapshot_every=10))
    with pytest.raises(ValueError, match="overlap=True does not run with a League"):
        trainer.train(league, [True, False], plot=False)
    with pytest.raises(TypeError, match="overlap"):
        DecentralizedTrainer(ROBOTS, overlap="yes")  # type: ignore[arg-type]


def test_an_error_in_the_background_update_surfaces_and_ends_the_run() -> None:
    trainer, agents = run(overlap=True)

    def broken(batch_size: int, gradient_steps: int) -> int:
        raise RuntimeError("update failed")

    agents[0].update = broken
    with pytest.raises(RuntimeError, match="update failed"):
        trainer.train(agents, [True, True], plot=False)
