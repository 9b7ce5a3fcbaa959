"""Replay memories with one sub-buffer per (env, seat) stream, and n-step returns over them.

This is the one place where rbtrainer works around costs in Tianshou 2.0.1's replay path:

* ``ReplayBufferManager`` (the base of ``VectorReplayBuffer``) walks its sub-buffers with two
  Numba functions and compiles them whenever a memory is created (``_compile``): about 6 s of a
  fresh process on a 2-core machine, before the first game. Its ``next``/``prev`` then loop over
  every sub-buffer in each call.
* Every ``Policy`` compiles Tianshou's GAE and n-step Numba functions (three signatures) when it
  is built (``Policy._compile``, ~4 s of a fresh process), whether its algorithm uses them or not.
  ``Algorithm.compute_nstep_return`` then calls ``buffer.next`` ``n_step - 1`` times per update and
  copies the whole ``done`` array.
* ``DQN._target_q`` gathers every key of the sampled rows (``buffer[indices]``) to read
  ``obs_next``, and ``Algorithm.update`` gathers them again into a ``Batch`` for the loss; the
  algorithm walks all of its modules twice per gradient step to switch train/eval mode.

:class:`StreamReplayBuffer` and :class:`StreamPrioritizedReplayBuffer` are the Tianshou buffers
with the index walks written in vectorised NumPy (nothing is compiled), an ``nstep_indices``
walk of all ``n`` steps at once, and (plain replay) uniform sampling over all stored transitions
in one draw. :func:`nstep_returns` computes Tianshou's n-step targets from those walks, and
:class:`StreamDQN` is Tianshou's ``DQN`` using both, whose gradient step reads only the keys it
uses and whose mode switches reuse the flags they set before. :class:`QPolicy` and :class:`ActorPolicy` are
Tianshou's discrete Q-learning and actor policies without the eager compilation (GAE compiles on
an on-policy learner's first update, for the one signature it uses). The results equal Tianshou's own (the
returns up to float rounding); ``tests/test_stream_memory.py`` checks them against Tianshou's
implementations on random memories.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast

import numpy as np
import torch
from tianshou.algorithm import DQN
from tianshou.algorithm.algorithm_base import Algorithm, TrainingStats
from tianshou.algorithm.modelfree.dqn import DiscreteQLearningPolicy
from tianshou.algorithm.modelfree.reinforce import DiscreteActorPolicy, SimpleLossTrainingStats
from tianshou.data import (
    Batch,
    PrioritizedVectorReplayBuffer,
    ReplayBuffer,
    ReplayBufferManager,
    VectorReplayBuffer,
    to_torch_as,
)
from tianshou.data.types import BatchWithReturnsProtocol, RolloutBatchProtocol

from rbtrainer.agents.tianshou_internals import (
    normalizes_weights,
    reserved_keys,
    sampling_generator,
    saves_obs_next,
    saves_only_last_obs,
    set_write_counters,
    stored_batch,
    stream_lengths,
    stream_offsets,
    sync_lagged_network,
    write_counters,
)

__all__ = [
    "ActorPolicy",
    "QPolicy",
    "StreamDQN",
    "StreamPrioritizedReplayBuffer",
    "StreamReplayBuffer",
    "nstep_returns",
]


class _NumpyIndexWalk(ReplayBufferManager):
    """``ReplayBufferManager``'s index walks in NumPy (a base listed before a Tianshou buffer manager).

    Every sub-buffer has the same size, so the sub-buffer of an index is ``index // size``.
    """

    # the row arrays of the storage, as Tianshou's buffers give them (through ``__getattr__``)
    done: np.ndarray
    terminated: np.ndarray
    rew: np.ndarray

    def _compile(self) -> None:
        """Tianshou compiles its Numba index walks here; these walks need nothing compiled."""

    def _where(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per index: the index itself (wrapped), its sub-buffer's start, stored length and last write."""
        index = np.asarray(index, dtype=np.int64) % self.maxsize
        sub = index // (self.maxsize // self.buffer_num)
        return index, stream_offsets(self)[sub], np.maximum(stream_lengths(self)[sub], 1), self.last_index[sub]

    def prev(self, index: int | np.ndarray) -> np.ndarray:
        """The previous transition of each index's episode (itself at an episode's first)."""
        scalar = np.ndim(index) == 0
        index, start, length, last = self._where(np.atleast_1d(index))
        prev = start + (index - start - 1) % length
        end = self.done[prev] | (prev == last)
        result = start + (prev - start + end) % length
        return result[0] if scalar else result

    def next(self, index: int | np.ndarray) -> np.ndarray:
        """The next transition of each index's episode (itself at an episode's end or the stream's last)."""
        scalar = np.ndim(index) == 0
        index, start, length, last = self._where(np.atleast_1d(index))
        end = self.done[index] | (index == last)
        result = start + (index - start + 1 - end) % length
        return result[0] if scalar else result

    def unfinished_index(self) -> np.ndarray:
        """The last transition of every stream whose episode has not ended."""
        last = self.last_index[stream_lengths(self) > 0]
        return last[~self.done[last]]

    def nstep_indices(self, indices: np.ndarray, n_step: int) -> tuple[np.ndarray, np.ndarray]:
        """``(walk_NI, steps_I)``: ``walk_NI[k]`` is ``next`` applied ``k`` times to ``indices``;
        ``steps_I`` is how many of the ``n_step`` rewards count (the walk stops at an episode's end
        or a stream's last transition, which it then repeats)."""
        index, start, length, last = self._where(indices)
        ahead_N1 = np.arange(n_step)[:, None]
        candidate_NI = start + (index - start + ahead_N1) % length
        candidate_NI[0] = index  # as Tianshou's walk, which reads an index beyond a stream's stored rows as given
        end_NI = self.done[candidate_NI] | (candidate_NI == last)
        # first end at or after each index: there is always one within a stream's length
        first_end_I = np.where(end_NI.any(axis=0), end_NI.argmax(axis=0), n_step)
        walk_NI = np.take_along_axis(candidate_NI, np.minimum(ahead_N1, first_end_I), axis=0)
        return walk_NI, np.minimum(first_end_I + 1, n_step)


class StreamReplayBuffer(_NumpyIndexWalk, VectorReplayBuffer):
    """Tianshou's ``VectorReplayBuffer`` without Numba, sampling uniformly over all stored transitions."""

    def add(
        self, batch: RolloutBatchProtocol, buffer_ids: np.ndarray | list[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``ReplayBufferManager.add``, with each stream's counters advanced once per call
        rather than through a method call per row. The first insertion (which allocates the
        storage) and buffers with stacked or dropped observations take Tianshou's own path."""
        rew = np.asarray(batch.rew)
        stored = stored_batch(self)
        if (
            buffer_ids is None
            or len(stored.get_keys()) == 0
            or saves_only_last_obs(self)
            or not saves_obs_next(self)
            or rew.ndim != 1
        ):
            return cast(tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], super().add(batch, buffer_ids))
        kept = Batch()
        for key in set(reserved_keys(self)).intersection(batch.get_keys()):
            kept.__dict__[key] = batch[key]
        kept.__dict__["done"] = done = np.logical_or(kept.terminated, kept.truncated)
        if set(kept.get_keys()) - set(stored.get_keys()):  # a new key: Tianshou allocates it
            return cast(tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], super().add(batch, buffer_ids))
        ids = np.asarray(buffer_ids, dtype=np.int64)
        n = len(ids)
        index, ep_start = np.empty(n, np.int64), np.empty(n, np.int64)
        ep_return, ep_len = np.zeros(n), np.zeros(n, np.int64)
        rewards, dones = rew.tolist(), done.tolist()
        order = np.argsort(ids, kind="stable")  # rows of one stream stay in the order given
        cuts = np.flatnonzero(np.diff(ids[order])) + 1
        offsets, lengths = stream_offsets(self), stream_lengths(self)
        for rows in np.split(order, cuts):
            stream = int(ids[rows[0]])
            sub, offset = self.buffers[stream], int(offsets[stream])
            # ReplayBuffer._update_state_pre_add for each row, on local copies of the counters
            at, size, total, length, start = write_counters(sub)
            size_max = sub.maxsize
            for row in rows.tolist():
                index[row] = at + offset
                size = min(size + 1, size_max)
                at = (at + 1) % size_max
                total += rewards[row]
                length += 1
                ep_start[row] = start + offset
                if dones[row]:
                    ep_return[row], ep_len[row] = total, length
                    total, length, start = 0.0, 0, at
            sub.last_index[0] = index[rows[-1]] - offset
            set_write_counters(sub, (at, size, total, length, start))
            self.last_index[stream] = index[rows[-1]]
            lengths[stream] = size
        stored[index] = kept
        return index, ep_return, ep_len, ep_start

    def sample_indices(self, batch_size: int | None) -> np.ndarray:
        if batch_size is None or batch_size <= 0 or self.stack_num > 1:
            return cast(np.ndarray, super().sample_indices(batch_size))
        lengths = stream_lengths(self)
        total = int(lengths.sum())
        if total == 0:
            return np.array([], int)
        # uniform over the stored transitions, as Tianshou's (sub-buffer by its length, then a row in it)
        ends = np.cumsum(lengths)
        draw = sampling_generator(self).randint(0, total, batch_size)
        sub = np.searchsorted(ends, draw, side="right")
        return stream_offsets(self)[sub] + draw - (ends[sub] - lengths[sub])


class StreamPrioritizedReplayBuffer(_NumpyIndexWalk, PrioritizedVectorReplayBuffer):
    """Tianshou's ``PrioritizedVectorReplayBuffer`` with the index walks in NumPy (its priority
    tree still compiles on first use)."""


def nstep_returns(
    batch: RolloutBatchProtocol,
    buffer: ReplayBuffer,
    indices: np.ndarray,
    target_q_fn: Callable[[ReplayBuffer, np.ndarray], torch.Tensor],
    gamma: float = 0.99,
    n_step: int = 1,
) -> BatchWithReturnsProtocol:
    """Tianshou's ``Algorithm.compute_nstep_return`` (same arguments, same ``batch.returns``),
    vectorised over the n steps for the stream memories (other buffers: Tianshou's own).

    ``returns = sum_{k < m} gamma^k r_{t+k} + gamma^m (1 - terminated) Q_target(s_{t+m})`` where
    ``m <= n_step`` stops at the end of the episode or at the stream's last transition.
    """
    if not isinstance(buffer, _NumpyIndexWalk):
        return Algorithm.compute_nstep_return(batch, buffer, indices, target_q_fn, gamma, n_step)
    if len(indices) != len(batch):
        raise ValueError(f"Batch size {len(batch)} and indices size {len(indices)} mismatch.")
    returns_IA, target_q = _nstep_targets(buffer, indices, target_q_fn, gamma, n_step)
    batch.returns = to_torch_as(returns_IA, target_q)
    if hasattr(batch, "weight"):
        batch.weight = to_torch_as(batch.weight, target_q)
    return cast(BatchWithReturnsProtocol, batch)


def _rows(buffer: ReplayBuffer, key: str, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The observations ``key`` (``obs`` or ``obs_next``) of the rows ``indices`` and their legal-action
    masks (None for a plain observation), read from the memory's arrays without building a ``Batch``."""
    stored = stored_batch(buffer).__dict__.get(key)
    if isinstance(stored, Batch) and stored.__dict__.keys() == {"obs", "mask"}:
        return stored.obs[indices], stored.mask[indices]
    value = buffer.get(indices, key)
    return (value.obs if hasattr(value, "obs") else value), getattr(value, "mask", None)


def _nstep_targets(
    buffer: _NumpyIndexWalk,
    indices: np.ndarray,
    target_q_fn: Callable[[ReplayBuffer, np.ndarray], torch.Tensor],
    gamma: float,
    n_step: int,
) -> tuple[np.ndarray, torch.Tensor]:
    """The n-step returns of the rows ``indices`` (float64, one column per target column) and the
    target network's output they were computed from."""
    walk_NI, steps_I = buffer.nstep_indices(indices, n_step)
    after_I = walk_NI[-1]
    with torch.no_grad():
        target_q = target_q_fn(cast(ReplayBuffer, buffer), after_I)
    target_q_IA = target_q.reshape(len(indices), -1).cpu().numpy().astype(np.float64)
    target_q_IA *= ~buffer.terminated[after_I][:, None]
    discount_N = gamma ** np.arange(n_step + 1, dtype=np.float64)
    counted_NI = np.arange(n_step)[:, None] < steps_I
    rewards_I = (np.asarray(buffer.rew[walk_NI], dtype=np.float64) * counted_NI * discount_N[:n_step, None]).sum(0)
    return target_q_IA * discount_N[steps_I][:, None] + rewards_I[:, None], target_q


class StreamDQN(DQN):
    """Tianshou's ``DQN``, with :func:`nstep_returns`, a target computed from ``obs_next`` alone
    by the networks directly, and mode switches that do not walk the networks when nothing changed."""

    compute_nstep_return = staticmethod(nstep_returns)

    def update(self, buffer: ReplayBuffer, sample_size: int | None) -> TrainingStats:
        """One gradient step, as Tianshou's ``update`` (same draws, targets, loss, priorities and
        target-network syncs); on the stream memories it reads only the keys it uses (Tianshou's
        gathers every key of the rows into a ``Batch``) and calls the network directly."""
        if not isinstance(buffer, _NumpyIndexWalk) or not sample_size or sample_size < 0 or buffer.stack_num > 1:
            return super().update(buffer, sample_size)
        if not self.policy.is_within_training_step:
            return super().update(buffer, sample_size)  # Tianshou raises its own error
        began = time.time()
        indices = buffer.sample_indices(sample_size)
        weight: np.ndarray | float = 1.0
        if isinstance(buffer, PrioritizedVectorReplayBuffer):
            weight = np.asarray(buffer.get_weight(indices))
            weight = weight / np.max(weight) if normalizes_weights(buffer) else weight
        returns_IA, target_q = _nstep_targets(buffer, indices, self._target_q, self.gamma, self.n_step)
        obs_arr = _rows(buffer, "obs", indices)[0]
        mode = self.training
        self.train(True)
        try:
            sync_lagged_network(self)
            logits = self.policy.model(obs_arr, state=None, info=Batch())[0]
            rows = torch.arange(len(logits), device=logits.device)
            q = logits[rows, torch.as_tensor(buffer.act[indices], device=logits.device)]
            returns = to_torch_as(returns_IA.reshape(-1), q)
            td_error = returns - q
            if self.huber_loss_delta is not None:
                loss = torch.nn.functional.huber_loss(
                    q.reshape(-1, 1), returns.reshape(-1, 1), delta=self.huber_loss_delta, reduction="mean"
                )
            elif isinstance(weight, np.ndarray):
                loss = (td_error.pow(2) * to_torch_as(weight, target_q)).mean()
            else:  # Tianshou multiplies by the weight 1.0, which changes nothing
                loss = td_error.pow(2).mean()
            self.optim.step(loss)
            stats = SimpleLossTrainingStats(loss=loss.item())
        finally:
            self.train(mode)
        if isinstance(buffer, PrioritizedVectorReplayBuffer):
            buffer.update_weight(indices, td_error)
        for lr_scheduler in self.lr_schedulers:
            lr_scheduler.step()
        stats.train_time = time.time() - began
        return stats

    def _target_q(self, buffer: ReplayBuffer, indices: np.ndarray) -> torch.Tensor:
        if not isinstance(buffer, _NumpyIndexWalk):
            return super()._target_q(buffer, indices)
        # what DiscreteQLearningPolicy.forward does with a Batch(obs=obs_next), without building Batches
        obs, mask = _rows(buffer, "obs_next", indices)
        info = Batch()
        online_q: torch.Tensor | None = None
        if self.is_double or self.model_old is None:
            online_q = self.policy.model(obs, state=None, info=info)[0]
        target_q = cast(
            torch.Tensor, online_q if self.model_old is None else self._lagged()(obs, state=None, info=info)[0]
        )
        if self.is_double:
            act = self.policy.compute_q_value(cast(torch.Tensor, online_q), mask).argmax(dim=1)
            return cast(torch.Tensor, target_q[torch.arange(len(act), device=act.device), act])
        return cast(torch.Tensor, target_q.max(dim=1)[0])

    def updates(self, buffer: ReplayBuffer, sample_size: int, gradient_steps: int) -> TrainingStats:
        """``gradient_steps`` calls of :meth:`update`; the mode switches around each step use the
        modules listed once (nothing adds or replaces a module between the steps)."""
        self.__dict__["_frozen_modules"] = list(self.modules())
        if self.model_old is not None:
            self.__dict__["_frozen_target"] = list(cast(torch.nn.Module, self.model_old.module).modules())
        try:
            stats = TrainingStats()
            for _ in range(gradient_steps):
                stats = self.update(buffer, sample_size)
        finally:
            del self.__dict__["_frozen_modules"]
            self.__dict__.pop("_frozen_target", None)
        return stats

    def _lagged(self) -> torch.nn.Module:
        """The target network: Tianshou's wrapper switches it to eval mode on every call (a walk
        over its modules); when every module is in eval mode already, the network itself."""
        wrapper = cast(torch.nn.Module, self.model_old)
        network = cast(torch.nn.Module, wrapper.module)
        modules = self.__dict__.get("_frozen_target") or network.modules()
        return wrapper if any(m.training for m in modules) else network

    def train(self, mode: bool = True) -> StreamDQN:
        """``nn.Module.train``; a switch to a mode it was switched to before, with the same
        networks, sets the flags that switch left (Tianshou switches modes around every update)."""
        frozen = self.__dict__.get("_frozen_modules")
        modules = frozen or list(self.modules())
        flags = self.__dict__.setdefault("_mode_flags", {})
        known = flags.get(mode)
        if known is None or ((frozen is None or known[2] is not frozen) and known[0] != [id(m) for m in modules]):
            super().train(mode)
            flags[mode] = ([id(m) for m in modules], [m.training for m in modules], frozen)
            return self
        for module, flag in zip(modules, known[1]):
            object.__setattr__(module, "training", flag)
        flags[mode] = (known[0], known[1], frozen)
        return self


class QPolicy(DiscreteQLearningPolicy):
    """Tianshou's ``DiscreteQLearningPolicy`` without compiling GAE and n-step functions it never uses."""

    @staticmethod
    def _compile() -> None:
        """Nothing: :func:`nstep_returns` needs no compiled function."""


class ActorPolicy(DiscreteActorPolicy):
    """Tianshou's ``DiscreteActorPolicy`` without the eager compilation (GAE compiles when first used)."""

    @staticmethod
    def _compile() -> None:
        """Nothing: Numba compiles GAE on the first update, for the arguments it is given."""
