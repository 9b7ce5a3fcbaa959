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
from typing import Any

import numpy as np
import torch

__all__ = ["advance_generators", "generator_states", "isolated_global_rng", "set_generator_states", "spawn_seeds"]


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


# Objects whose attributes are searched for generators: the library's and the bundled games' own
# classes (agents, controllers, learners). Networks, Tianshou objects and memories are not entered.
_OWN_MODULES = ("rbtrainer.", "games.")
_MAX_DEPTH = 4


def _generators(obj: Any, prefix: str, depth: int, seen: set[int], out: dict[str, Any]) -> None:
    if id(obj) in seen or depth > _MAX_DEPTH:
        return
    seen.add(id(obj))
    for name, value in sorted(vars(obj).items()):
        path = f"{prefix}{name}"
        if isinstance(value, (np.random.Generator, random.Random, torch.Generator)):
            out[path] = value
        elif hasattr(value, "__dict__") and type(value).__module__.startswith(_OWN_MODULES):
            _generators(value, f"{path}.", depth + 1, seen, out)


def _find_generators(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if hasattr(obj, "__dict__"):
        _generators(obj, "", 0, set(), out)
    return out


def generator_states(obj: Any) -> dict[str, Any]:
    """The states of the random generators ``obj`` holds, by attribute path (``"agent._rng"``).

    NumPy ``Generator``, ``random.Random`` and ``torch.Generator`` attributes are found in ``obj``
    and, recursively, in the rbtrainer and bundled-game objects it holds (an ``EpsilonAgent``'s
    wrapped agent, the A* agent's controller, a frozen agent's copy). States are plain data and
    tensors, loadable with ``torch.load(weights_only=True)``.
    """
    states: dict[str, Any] = {}
    for path, gen in _find_generators(obj).items():
        if isinstance(gen, np.random.Generator):
            states[path] = {"numpy": gen.bit_generator.state}
        elif isinstance(gen, random.Random):
            states[path] = {"python": gen.getstate()}
        else:
            states[path] = {"torch": gen.get_state()}
    return states


def set_generator_states(obj: Any, states: dict[str, Any], part: bool = False) -> None:
    """Put back what :func:`generator_states` returned; ``ValueError`` if the generators differ.

    ``part``: ``states`` may hold only some of ``obj``'s generators (a copy's, which lacks some of the
    original's); those it holds are put back."""
    found = _find_generators(obj)
    if not (set(states) <= set(found) if part else set(found) == set(states)):
        raise ValueError(f"{obj!r} holds random generators {sorted(found)}, but the saved state has {sorted(states)}")
    for path, gen in found.items():
        if path not in states:
            continue
        state = states[path]
        if isinstance(gen, np.random.Generator) and "numpy" in state:
            gen.bit_generator.state = state["numpy"]
        elif isinstance(gen, random.Random) and "python" in state:
            gen.setstate(_tuples(state["python"]))
        elif isinstance(gen, torch.Generator) and "torch" in state:
            gen.set_state(state["torch"])
        else:
            raise ValueError(f"{obj!r}: generator {path} is a {type(gen).__name__}, the saved state is {sorted(state)}")


def _tuples(value: Any) -> Any:
    """``random.Random.setstate`` needs tuples where a round trip may have produced lists."""
    if isinstance(value, (list, tuple)):
        return tuple(_tuples(v) for v in value)
    return value


def advance_generators(obj: Any) -> None:
    """Draw one number from every random generator ``obj`` holds (see :func:`generator_states`), so that its
    next states differ from these even when it drew nothing itself since."""
    for gen in _find_generators(obj).values():
        if isinstance(gen, np.random.Generator):
            gen.integers(0, 2)
        elif isinstance(gen, random.Random):
            gen.random()
        else:
            torch.randint(0, 2, (1,), generator=gen)
