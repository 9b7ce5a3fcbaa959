"""A Tianshou replay memory as plain data and back (for training-state checkpoints).

Tianshou 2.0.1 gives its buffers no ``state_dict``: they can be pickled or written to HDF5 (which
pickles what it cannot store), and neither loads under ``torch.load(weights_only=True)``. This
module saves exactly what sampling depends on, reading the buffers' internals through
:mod:`~rbtrainer.agents.tianshou_internals` (the one place that reads them): the
stored batch, the write positions and sizes of the buffer and of each of its sub-buffers (one per
(env, seat) stream), the buffer's sampling generator and, for prioritized replay, the priority
tree. Restoring writes those back into a buffer of the same kind and sizes, which the learner
builds first (``attach_memory``). ``tests/test_resume.py`` checks that a restored memory samples
exactly what the original does.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from tianshou.data import Batch, PrioritizedVectorReplayBuffer, ReplayBuffer, ReplayBufferManager

from rbtrainer.agents.tianshou_internals import (
    WriteCounters,
    priority_scalars,
    priority_tree,
    sampling_generator,
    set_priority_scalars,
    set_stream_lengths,
    set_write_counters,
    stored_batch,
    stream_lengths,
    write_counters,
)

__all__ = ["load_memory_state", "memory_nbytes", "memory_state"]

_COUNTERS = ("_insertion_idx", "_size", "_ep_return", "_ep_len", "_ep_start_idx")
"""The keys of a buffer's :data:`~rbtrainer.agents.tianshou_internals.WriteCounters` in saved
states, in their order (Tianshou's attribute names: saved states have always used them)."""


def _random_state(rs: np.random.RandomState) -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = rs.get_state(legacy=True)
    return {
        "name": name,
        "keys": np.asarray(keys).astype(np.int64),
        "pos": pos,
        "has_gauss": has_gauss,
        "cached": cached,
    }


def _set_random_state(rs: np.random.RandomState, state: dict[str, Any]) -> None:
    keys = np.asarray(state["keys"]).astype(np.uint32)
    rs.set_state((state["name"], keys, int(state["pos"]), int(state["has_gauss"]), float(state["cached"])))


def _counters(buffer: ReplayBuffer) -> dict[str, Any]:
    return {
        "last_index": np.asarray(buffer.last_index).copy(),
        **dict(zip(_COUNTERS, write_counters(buffer), strict=True)),
        "random_state": _random_state(sampling_generator(buffer)),
    }


def _set_counters(buffer: ReplayBuffer, state: dict[str, Any]) -> None:
    buffer.last_index = np.asarray(state["last_index"]).copy()
    set_write_counters(buffer, cast(WriteCounters, tuple(state[k] for k in _COUNTERS)))
    _set_random_state(sampling_generator(buffer), state["random_state"])


def _kind(buffer: ReplayBuffer) -> str:
    """The Tianshou class a buffer is (rbtrainer's stream memories save and load as their Tianshou base)."""
    return next(c.__name__ for c in type(buffer).__mro__ if c.__module__.startswith("tianshou."))


def memory_state(buffer: ReplayBuffer) -> dict[str, Any]:
    """Everything ``buffer`` holds, as dicts, lists, Python scalars and NumPy arrays."""
    stored = stored_batch(buffer)
    state: dict[str, Any] = {
        "kind": _kind(buffer),
        "maxsize": int(buffer.maxsize),
        "batch": stored.to_dict(recursive=True) if len(stored.get_keys()) else None,
        **_counters(buffer),
    }
    if isinstance(buffer, ReplayBufferManager):
        state["lengths"] = np.asarray(stream_lengths(buffer)).copy()
        state["buffers"] = [_counters(sub) for sub in buffer.buffers]
    if isinstance(buffer, PrioritizedVectorReplayBuffer):
        max_prio, min_prio, beta = priority_scalars(buffer)
        state["priorities"] = {
            "tree": priority_tree(buffer).copy(),
            # NumPy scalars stay NumPy scalars: a float32 priority raised to alpha is not a float's
            "max_prio": np.asarray(max_prio)[()],
            "min_prio": np.asarray(min_prio)[()],
            "beta": beta,
        }
    return state


def load_memory_state(buffer: ReplayBuffer, state: dict[str, Any]) -> None:
    """Write ``state`` (from :func:`memory_state`) into ``buffer``, a buffer of the same kind and sizes."""
    if state["kind"] != _kind(buffer) or int(state["maxsize"]) != buffer.maxsize:
        raise ValueError(
            f"the saved memory is a {state['kind']} of {state['maxsize']} transitions, but the learner's is a "
            f"{_kind(buffer)} of {buffer.maxsize}"
        )
    subs = state.get("buffers")
    if isinstance(buffer, ReplayBufferManager) and (subs is None or len(subs) != buffer.buffer_num):
        raise ValueError(
            f"the saved memory has {0 if subs is None else len(subs)} streams, the learner's has {buffer.buffer_num}"
        )
    if state["batch"] is not None:
        buffer.set_batch(Batch(state["batch"]))  # a manager also points its sub-buffers at their slices
    _set_counters(buffer, state)
    if isinstance(buffer, ReplayBufferManager) and subs is not None:
        set_stream_lengths(buffer, np.asarray(state["lengths"]).copy())
        for sub, sub_state in zip(buffer.buffers, subs):
            _set_counters(sub, sub_state)
    if isinstance(buffer, PrioritizedVectorReplayBuffer):
        prio = state["priorities"]
        priority_tree(buffer)[:] = np.asarray(prio["tree"])
        set_priority_scalars(buffer, (prio["max_prio"], prio["min_prio"], prio["beta"]))


def memory_nbytes(buffer: ReplayBuffer) -> int:
    """Bytes of the arrays ``buffer`` stores."""

    def size(value: Any) -> int:
        if isinstance(value, Batch):
            return sum(size(v) for v in value.__dict__.values())
        return int(value.nbytes) if isinstance(value, np.ndarray) else 0

    return size(stored_batch(buffer))
