"""The stream memories and StreamDQN give exactly what Tianshou's own code gives, without Numba.

Tianshou's references run through the pure-Python originals of its Numba functions (``py_func``),
so these tests compile nothing either.
"""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch
from tianshou.algorithm import DQN, algorithm_base
from tianshou.data import Batch, VectorReplayBuffer
from tianshou.data.buffer import manager
from tianshou.utils.torch_utils import policy_within_training_step

from rbtrainer import dqn_agent
from rbtrainer.agents.memory_state import load_memory_state, memory_state
from rbtrainer.agents.stream_memory import (
    StreamDQN,
    StreamPrioritizedReplayBuffer,
    StreamReplayBuffer,
    nstep_returns,
)

OBS, ACTIONS = 6, 4


class _TianshouWalks(VectorReplayBuffer):
    """Tianshou's VectorReplayBuffer, its index walks run as plain Python (nothing compiled)."""

    def _compile(self) -> None:
        pass

    def prev(self, index):  # type: ignore[no-untyped-def]
        args = (self._extend_offset, self.done, self.last_index, self._lengths)
        return manager._prev_index.py_func(np.atleast_1d(np.asarray(index)), *args)

    def next(self, index):  # type: ignore[no-untyped-def]
        args = (self._extend_offset, self.done, self.last_index, self._lengths)
        return manager._next_index.py_func(np.atleast_1d(np.asarray(index)), *args)


def _batch(rng: np.random.Generator, n: int, end_rate: float) -> Batch:
    obs = rng.random((n, OBS), dtype=np.float32)
    mask = (rng.random((n, ACTIONS)) < 0.7).astype(np.int8)
    return Batch(
        obs=Batch(obs=obs, mask=mask),
        act=rng.integers(0, ACTIONS, n),
        rew=rng.normal(size=n),
        terminated=rng.random(n) < end_rate,
        truncated=rng.random(n) < end_rate / 3,
        obs_next=Batch(obs=rng.random((n, OBS), dtype=np.float32), mask=mask),
    )


def _stored(memory: StreamReplayBuffer) -> np.ndarray:
    """The indices of the rows each stream holds."""
    size = memory.maxsize // memory.buffer_num
    return np.flatnonzero(np.arange(memory.maxsize) % size < np.repeat(memory._lengths, size))


def _filled(kind: type, streams: int = 5, size: int = 60, adds: int = 40, seed: int = 0, **kwargs) -> list:
    """Memories of each kind in ``kind`` (``size`` rows over ``streams``) fed the same random rows
    (uneven streams, wrapping around, the last stream empty)."""
    rng = np.random.default_rng(seed)
    buffers = [k(size, streams, **kwargs) for k in kind]
    for _ in range(adds):
        n = int(rng.integers(1, 9))
        batch = _batch(rng, n, end_rate=0.15)
        ids = rng.integers(0, streams - 1, n)  # the last stream stays empty
        results = [b.add(copy.deepcopy(batch), buffer_ids=ids) for b in buffers]
        for r in results[1:]:
            for got, want in zip(r, results[0]):
                np.testing.assert_array_equal(got, want)
    return buffers


def test_adding_rows_keeps_the_same_storage_and_counters_as_tianshou() -> None:
    ours, theirs = _filled((StreamReplayBuffer, _TianshouWalks))
    for key in ("act", "rew", "terminated", "truncated", "done"):
        np.testing.assert_array_equal(getattr(ours, key), getattr(theirs, key))
    np.testing.assert_array_equal(ours.obs.obs, theirs.obs.obs)
    np.testing.assert_array_equal(ours.obs_next.mask, theirs.obs_next.mask)
    np.testing.assert_array_equal(ours.last_index, theirs.last_index)
    np.testing.assert_array_equal(ours._lengths, theirs._lengths)
    for a, b in zip(ours.buffers, theirs.buffers):
        for key in ("_insertion_idx", "_size", "_ep_len", "_ep_start_idx"):
            assert getattr(a, key) == getattr(b, key), key
        assert a._ep_return == pytest.approx(b._ep_return, abs=1e-12)
        np.testing.assert_array_equal(a.last_index, b.last_index)
    assert len(ours) == len(theirs)


@pytest.mark.parametrize("kind", [StreamReplayBuffer, StreamPrioritizedReplayBuffer])
def test_index_walks_equal_tianshou_on_every_index(kind: type) -> None:
    extra = {"alpha": 0.6, "beta": 0.4} if kind is StreamPrioritizedReplayBuffer else {}
    ours = _filled((kind,), **extra)[0]
    theirs = _filled((_TianshouWalks,))[0]
    every = np.arange(-3, ours.maxsize + 3)
    np.testing.assert_array_equal(ours.next(every), theirs.next(every))
    np.testing.assert_array_equal(ours.prev(every), theirs.prev(every))
    assert ours.next(7) == theirs.next(7)[0] and np.ndim(ours.next(7)) == 0
    np.testing.assert_array_equal(np.sort(ours.unfinished_index()), np.sort(theirs.unfinished_index()))
    stored = _stored(ours)
    walk, steps = ours.nstep_indices(stored, 9)
    step, counted, ended = stored, np.zeros(len(stored), np.int64), np.zeros(len(stored), bool)
    for k in range(9):
        np.testing.assert_array_equal(walk[k], step)
        counted += ~ended  # rewards up to and including an episode's end or a stream's last row
        ended |= theirs.done[step] | np.isin(step, theirs.last_index)
        step = theirs.next(step)
    np.testing.assert_array_equal(steps, counted)


def test_prioritized_stream_memory_still_sets_priorities_when_adding() -> None:
    memory = _filled((StreamPrioritizedReplayBuffer,), alpha=0.6, beta=0.4)[0]
    stored = _stored(memory)
    assert (memory.weight[stored] > 0).all()
    _, indices = memory.sample(32)
    assert set(indices.tolist()) <= set(stored.tolist())


def test_uniform_sampling_draws_every_stored_row_alike_and_repeats_with_the_seed() -> None:
    ours = _filled((StreamReplayBuffer,), size=150, random_seed=3)[0]
    stored = set(_stored(ours).tolist())
    draws = ours.sample_indices(200_000)
    assert set(draws.tolist()) == stored
    counts = np.bincount(draws, minlength=ours.maxsize)[sorted(stored)]
    expected = len(draws) / len(stored)
    assert np.abs(counts - expected).max() < 5 * np.sqrt(expected)
    first, second = (_filled((StreamReplayBuffer,), size=150, random_seed=3)[0] for _ in range(2))
    np.testing.assert_array_equal(first.sample_indices(500), second.sample_indices(500))
    assert len(ours.sample_indices(0)) == len(ours)


def _learner(seed: int = 0, **overrides):
    space = gym.spaces.Box(0.0, 1.0, (OBS,), np.float32)
    learner = dqn_agent(space, gym.spaces.Discrete(ACTIONS), seed=seed, hidden_sizes=(16,), **overrides)
    learner.attach_memory(5, 20, 8)
    rng = np.random.default_rng(seed)
    for _ in range(40):
        batch = _batch(rng, 6, end_rate=0.1)
        learner.memory.add(batch, buffer_ids=rng.integers(0, 4, 6))
    return learner


@pytest.mark.parametrize("double", [True, False])
@pytest.mark.parametrize("target_update_freq", [0, 50])
@pytest.mark.parametrize("n_step", [1, 3, 12])
def test_nstep_returns_and_target_equal_tianshou(
    monkeypatch: pytest.MonkeyPatch, double: bool, target_update_freq: int, n_step: int
) -> None:
    monkeypatch.setattr(algorithm_base, "_nstep_return", algorithm_base._nstep_return.py_func)
    learner = _learner(double=double, target_update_freq=target_update_freq, n_step=n_step)
    algorithm, memory = learner.algorithm, learner.memory
    assert isinstance(algorithm, StreamDQN)
    with torch.no_grad():  # the target network differs from the online one
        for p in algorithm.policy.model.parameters():
            p.add_(0.1)
    indices = memory.sample_indices(0)
    with torch.no_grad():
        np.testing.assert_allclose(
            algorithm._target_q(memory, indices).numpy(), DQN._target_q(algorithm, memory, indices).numpy(), rtol=1e-6
        )
    reference = copy.deepcopy(memory)
    reference.__class__ = _TianshouWalks  # Tianshou's walks on the same storage
    ours = nstep_returns(memory[indices], memory, indices, algorithm._target_q, 0.9, n_step)
    theirs = algorithm_base.Algorithm.compute_nstep_return(
        reference[indices], reference, indices, lambda b, i: DQN._target_q(algorithm, b, i), 0.9, n_step
    )
    assert ours.returns.shape == theirs.returns.shape
    np.testing.assert_allclose(ours.returns.numpy(), theirs.returns.numpy(), rtol=1e-9, atol=1e-9)


def test_mode_switches_set_what_torch_sets_and_notice_changes_made_by_hand() -> None:
    algorithm = _learner(target_update_freq=10).algorithm
    for mode in (True, False, True, False):
        algorithm.train(mode)
        flags = [m.training for m in algorithm.modules()]
        torch.nn.Module.train(algorithm, mode)
        assert flags == [m.training for m in algorithm.modules()]
    algorithm.train(True)
    algorithm.policy.model.eval()  # by hand
    algorithm.train(True)
    assert algorithm.policy.model.training
    assert algorithm.model_old is not None and not algorithm.model_old.module.training  # Tianshou keeps it in eval


def test_learning_compiles_none_of_tianshous_numba_functions() -> None:
    compiled = {f: len(f.signatures) for f in (manager._next_index, manager._prev_index, algorithm_base._nstep_return)}
    learner = _learner(n_step=5)
    with policy_within_training_step(learner.policy):
        assert learner.update(8, 3) == 3
    assert {f: len(f.signatures) for f in compiled} == compiled


def test_memory_states_load_across_tianshou_and_stream_memories() -> None:
    ours, theirs = _filled((StreamReplayBuffer, _TianshouWalks), random_seed=1)
    saved = memory_state(theirs)
    assert saved["kind"] == memory_state(ours)["kind"] == "VectorReplayBuffer"
    fresh = StreamReplayBuffer(60, 5, random_seed=9)
    load_memory_state(fresh, saved)
    np.testing.assert_array_equal(fresh.sample_indices(50), ours.sample_indices(50))  # same generator state
    np.testing.assert_array_equal(fresh.rew, theirs.rew)


@pytest.mark.parametrize("prioritized", [False, True])
@pytest.mark.parametrize("double", [True, False])
def test_gradient_steps_equal_tianshous_update(prioritized: bool, double: bool) -> None:
    """StreamDQN.update reads only the keys it uses; the weights, target-network syncs, losses and
    priorities it leaves equal those of Tianshou's own DQN.update, step for step."""
    ours = _learner(double=double, target_update_freq=3, n_step=4, prioritized=prioritized)
    theirs = copy.deepcopy(ours)
    theirs_alg = theirs.algorithm
    with policy_within_training_step(ours.policy), policy_within_training_step(theirs_alg.policy):
        for _ in range(7):
            state = np.random.get_state()
            ours_stats = ours.algorithm.update(ours.memory, 16)
            np.random.set_state(state)  # prioritized sampling draws from NumPy's global generator
            theirs_stats = DQN.update(theirs_alg, theirs.memory, 16)
            assert ours_stats.loss == pytest.approx(theirs_stats.loss, rel=1e-6)
    assert ours.algorithm._iter == theirs_alg._iter == 7
    for mine, reference in zip(ours.algorithm.state_dict().values(), theirs_alg.state_dict().values()):
        if isinstance(mine, torch.Tensor):
            torch.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-6)
    assert not ours.algorithm.training and not theirs_alg.training
    if prioritized:
        stored = np.arange(ours.memory.maxsize)
        np.testing.assert_allclose(ours.memory.weight[stored], theirs.memory.weight[stored], rtol=1e-5)


def test_learner_updates_leave_eval_mode_and_later_switches_see_new_modules() -> None:
    learner = _learner(target_update_freq=2, n_step=3)
    assert learner.update(8, 5) == 5
    algorithm = learner.algorithm
    assert "_frozen_modules" not in algorithm.__dict__ and "_frozen_target" not in algorithm.__dict__
    assert not any(m.training for m in algorithm.modules())  # acting runs in eval mode
    algorithm.policy.extra = torch.nn.Dropout()  # a module added after the steps
    algorithm.train(True)
    assert algorithm.policy.extra.training
