"""Random-number plumbing: every env and agent owns its generator; nothing global is consumed.

Tianshou 2.0 draws from process-global generators in a few places the trainer relies on:
``Batch.split(shuffle=True)`` (PPO/A2C minibatches) and ``PrioritizedReplayBuffer`` sampling
use ``np.random``, and ``torch.nn`` layer initialisation and ``Categorical.sample`` use torch's
global generator. :func:`isolated_global_rng` is the one place that deals with it: it seeds
those global generators from the caller's own generator for the duration of a block and puts
the user's global state back afterwards, so runs are reproducible and the user's streams are
left exactly as they were.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["isolated_global_rng", "spawn_seeds"]


def spawn_seeds(seed: int | None, count: int, stream: int = 0) -> list[int]:
    """``count`` independent 32-bit seeds derived from ``seed`` (``stream`` separates uses)."""
    sequence = np.random.SeedSequence(seed, spawn_key=(stream,))
    return [int(s.generate_state(1)[0]) for s in sequence.spawn(count)]


@contextlib.contextmanager
def isolated_global_rng(rng: np.random.Generator) -> Iterator[None]:
    """Run a block with the global NumPy/torch/random generators seeded from ``rng``.

    The global states are saved before and restored after, so code outside the block sees no
    change. Draws one 63-bit integer from ``rng`` per use, which keeps runs reproducible.
    """
    seed = int(rng.integers(0, 2**63 - 1))
    np_state = np.random.get_state()
    py_state = random.getstate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed % (2**32))
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
