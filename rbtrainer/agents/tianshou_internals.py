"""The Tianshou internals rbtrainer reads, in one place, behind a check of the Tianshou version.

Tianshou 2.0.1 gives no public access to what rbtrainer needs of its replay buffers and
algorithms: a buffer's stored batch, write position and episode counters, its sub-buffers'
offsets and lengths, its sampling generator, the priority tree of prioritized replay, and DQN's
update counter. rbtrainer reads them to add rows to its stream memories without a method call
per row (:mod:`~rbtrainer.agents.stream_memory`), to save and restore memories exactly
(:mod:`~rbtrainer.agents.memory_state`) and to resume a DQN on the same target-network syncs
(:mod:`~rbtrainer.agents.learners`). They are private attributes, which Tianshou does not
promise to keep: any release, a patch release included, may rename, retype or drop them, and
code that reads them would then fail far from the cause or, worse, silently save and restore
the wrong state. So importing this module checks that the installed Tianshou is the version
this code was tested with, and every read or write of a private Tianshou attribute goes through
a function here (``tests/test_structure.py`` lets no other module read another module's
private names).

The stream memories and :class:`~rbtrainer.agents.stream_memory.StreamDQN` also subclass
Tianshou classes and override their private hooks ``_compile`` (buffers and policies) and
``_target_q`` (DQN); those overrides have to keep Tianshou's names and stay where they are, and
the version check covers them as well.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from typing import cast

import numpy as np
from tianshou.algorithm.modelfree.dqn import QLearningOffPolicyAlgorithm
from tianshou.data import Batch, PrioritizedReplayBuffer, ReplayBuffer, ReplayBufferManager

__all__ = [
    "TESTED_TIANSHOU",
    "WriteCounters",
    "check_tianshou_version",
    "normalizes_weights",
    "priority_scalars",
    "priority_tree",
    "reserved_keys",
    "sampling_generator",
    "saves_obs_next",
    "saves_only_last_obs",
    "set_priority_scalars",
    "set_stream_lengths",
    "set_update_counters",
    "set_write_counters",
    "stored_batch",
    "stream_lengths",
    "stream_offsets",
    "sync_lagged_network",
    "update_counters",
    "write_counters",
]

TESTED_TIANSHOU = "2.0.1"
"""The one Tianshou version whose internals this module was written against and tested with."""


def check_tianshou_version(installed: str | None = None) -> str:
    """The installed Tianshou version (or ``installed``), if it is :data:`TESTED_TIANSHOU`;
    otherwise an ``ImportError`` naming both versions and the fix."""
    if installed is None:
        try:
            installed = importlib.metadata.version("tianshou")
        except importlib.metadata.PackageNotFoundError as error:
            raise ImportError(
                "rbtrainer cannot tell which Tianshou is installed (no package metadata for 'tianshou'); it reads "
                f"private replay-buffer internals and is tested with tianshou=={TESTED_TIANSHOU} only. "
                f"Fix: pip install tianshou=={TESTED_TIANSHOU}"
            ) from error
    if installed != TESTED_TIANSHOU:
        raise ImportError(
            f"rbtrainer needs tianshou=={TESTED_TIANSHOU} (the tested range), but tianshou {installed} is installed. "
            "rbtrainer reads private internals of Tianshou's replay buffers and DQN, which Tianshou does not "
            f"promise to keep between releases. Fix: pip install tianshou=={TESTED_TIANSHOU}"
        )
    return installed


check_tianshou_version()


# ----------------------------------------------------------------------------------- replay buffers
def stored_batch(buffer: ReplayBuffer) -> Batch:
    """The batch holding the buffer's rows (``_meta``), itself: writing into it writes the buffer.
    Empty (no keys) until the first row is added."""
    return cast(Batch, buffer._meta)


def reserved_keys(buffer: ReplayBuffer) -> tuple[str, ...]:
    """The keys a row of the buffer stores (``obs``, ``act``, ``rew``, ...: ``_reserved_keys``)."""
    return cast(tuple[str, ...], buffer._reserved_keys)


def saves_obs_next(buffer: ReplayBuffer) -> bool:
    """Whether the buffer stores ``obs_next`` (not ``ignore_obs_next``)."""
    return bool(buffer._save_obs_next)


def saves_only_last_obs(buffer: ReplayBuffer) -> bool:
    """Whether the buffer keeps only the last frame of stacked observations (``save_only_last_obs``)."""
    return bool(buffer._save_only_last_obs)


def sampling_generator(buffer: ReplayBuffer) -> np.random.RandomState:
    """The generator the buffer draws its samples from (``_random_state``)."""
    return buffer._random_state


WriteCounters = tuple[int, int, float, int, int]
"""A buffer's ``(insertion index, size, return, length and start index of the running episode)``."""


def write_counters(buffer: ReplayBuffer) -> WriteCounters:
    """The buffer's :data:`WriteCounters` (``_insertion_idx``, ``_size``, ``_ep_return``,
    ``_ep_len``, ``_ep_start_idx``), as stored (no conversion)."""
    return buffer._insertion_idx, buffer._size, buffer._ep_return, buffer._ep_len, buffer._ep_start_idx


def set_write_counters(buffer: ReplayBuffer, counters: WriteCounters) -> None:
    """Set the buffer's :data:`WriteCounters` (as given, no conversion)."""
    buffer._insertion_idx, buffer._size, buffer._ep_return, buffer._ep_len, buffer._ep_start_idx = counters


def stream_offsets(manager: ReplayBufferManager) -> np.ndarray:
    """The first index of each sub-buffer in the manager's storage (``_offset``)."""
    return cast(np.ndarray, manager._offset)


def stream_lengths(manager: ReplayBufferManager) -> np.ndarray:
    """The number of rows each sub-buffer holds (``_lengths``), itself: writing into it writes the manager."""
    return cast(np.ndarray, manager._lengths)


def set_stream_lengths(manager: ReplayBufferManager, lengths: np.ndarray) -> None:
    """Replace the manager's sub-buffer lengths (``_lengths``) by ``lengths``."""
    manager._lengths = lengths


# ---------------------------------------------------------------------------- prioritized replay
def normalizes_weights(buffer: PrioritizedReplayBuffer) -> bool:
    """Whether sampled importance weights are divided by their maximum (``weight_norm``)."""
    return bool(buffer._weight_norm)


def priority_tree(buffer: PrioritizedReplayBuffer) -> np.ndarray:
    """The array behind the buffer's priority segment tree (``weight._value``), itself: writing
    into it writes the tree."""
    return cast(np.ndarray, buffer.weight._value)


def priority_scalars(buffer: PrioritizedReplayBuffer) -> tuple[float, float, float]:
    """``(max priority, min priority, beta)`` (``_max_prio``, ``_min_prio``, ``_beta``), as stored."""
    return buffer._max_prio, buffer._min_prio, buffer._beta


def set_priority_scalars(buffer: PrioritizedReplayBuffer, scalars: tuple[float, float, float]) -> None:
    """Set ``(max priority, min priority, beta)`` (as given, no conversion)."""
    buffer._max_prio, buffer._min_prio, buffer._beta = scalars


# ------------------------------------------------------------------------------------- algorithms
_UPDATE_COUNTER = "_iter"
"""Tianshou's Q-learning algorithms count their updates here (when to sync the target network),
outside their ``state_dict``."""


def _expects_update_counter(algorithm: object) -> bool:
    return isinstance(algorithm, QLearningOffPolicyAlgorithm)


def update_counters(algorithm: object) -> dict[str, int]:
    """The algorithm's update counters that its ``state_dict`` leaves out, by Tianshou's attribute
    name: ``{"_iter": n}`` for the Q-learning algorithms (DQN, C51, QR-DQN, ...), nothing for the
    others. A resumed DQN needs it to sync its target network on the same updates, so a
    Q-learning algorithm without it is an error (a Tianshou this module does not know)."""
    if hasattr(algorithm, _UPDATE_COUNTER):
        return {_UPDATE_COUNTER: int(getattr(algorithm, _UPDATE_COUNTER))}
    if _expects_update_counter(algorithm):
        raise RuntimeError(
            f"Tianshou's {type(algorithm).__name__} has no update counter {_UPDATE_COUNTER!r} (when to sync the "
            "target network), which training states save so that a resumed run syncs on the same updates. This "
            f"Tianshou is not the one rbtrainer is tested with: pip install tianshou=={TESTED_TIANSHOU}"
        )
    return {}


def set_update_counters(algorithm: object, counters: Mapping[str, int]) -> None:
    """Write counters from :func:`update_counters` back (a Q-learning algorithm needs its ``_iter``)."""
    unknown = set(counters) - {_UPDATE_COUNTER}
    if unknown:
        raise ValueError(f"the training state holds unknown update counters {sorted(unknown)}")
    if _UPDATE_COUNTER not in counters and _expects_update_counter(algorithm):
        raise ValueError(
            f"the training state has no update counter {_UPDATE_COUNTER!r} for {type(algorithm).__name__}: "
            "without it the resumed run would sync its target network on other updates than the original"
        )
    for name, value in counters.items():
        setattr(algorithm, name, int(value))


def sync_lagged_network(algorithm: QLearningOffPolicyAlgorithm) -> None:
    """Tianshou's own step before each DQN update: copy the online network into the target
    network when the update counter says so, and advance the counter."""
    algorithm._periodically_update_lagged_network_weights()
