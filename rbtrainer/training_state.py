"""Training-state files: what a run needs to continue exactly where it stopped.

:meth:`DecentralizedTrainer.train` writes one every ``state_every`` test rounds and when a stop is
requested (``state_path``), and ``train(..., resume=path)`` continues from it. A state holds the
counters and statistics so far, every agent's random generators, every learner's networks,
optimisers, counters and (optionally) memory, the hooks' own state where they have one, and where
every training env stands (see :meth:`rbtrainer.rollout.RolloutEngine.state`).

Files are written atomically and read with ``torch.load(weights_only=True)``: NumPy arrays travel
as tensors tagged with their dtype (:func:`to_saveable` / :func:`from_saveable`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from rbtrainer.files import atomic_write

__all__ = ["STATE_FORMAT", "from_saveable", "read_training_state", "to_saveable", "write_training_state"]

STATE_FORMAT = 1
_KIND = "rbtrainer-training-state"
_ARRAY = "__ndarray__"


def to_saveable(value: Any) -> Any:
    """``value`` with NumPy arrays and scalars turned into tensors tagged with their dtype."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError("object arrays cannot go into a training state")
        stored = value.astype(np.int64) if value.dtype.kind == "u" and value.dtype.itemsize > 1 else value
        return {_ARRAY: torch.from_numpy(np.array(stored, order="C", copy=True)), "dtype": value.dtype.str}
    if isinstance(value, np.generic):  # kept a NumPy scalar: float32 arithmetic differs from Python floats
        return {**to_saveable(np.asarray(value)), "scalar": True}
    if isinstance(value, dict):
        return {k: to_saveable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_saveable(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_saveable(v) for v in value)
    return value


def from_saveable(value: Any) -> Any:
    """The inverse of :func:`to_saveable`."""
    if isinstance(value, dict):
        if _ARRAY in value:
            array = value[_ARRAY].numpy().astype(np.dtype(value["dtype"]))
            return array[()] if value.get("scalar") else array
        return {k: from_saveable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_saveable(v) for v in value]
    if isinstance(value, tuple):
        return tuple(from_saveable(v) for v in value)
    return value


def write_training_state(path: str | os.PathLike[str], state: dict[str, Any]) -> str:
    """Write ``state`` atomically to ``path``; returns the path."""
    payload = {"kind": _KIND, "format": STATE_FORMAT, "state": to_saveable(state)}
    with atomic_write(path) as handle:
        torch.save(payload, handle)
    return os.fspath(path)


def read_training_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state in ``path``; ``FileNotFoundError`` / ``ValueError`` naming the file otherwise."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(f"training state {name!r} does not exist (resume needs a file written by a run)")
    if os.path.isdir(name):
        raise IsADirectoryError(f"training state {name!r} is a directory, not a training-state file")
    try:
        payload = torch.load(name, map_location="cpu", weights_only=True)  # device-independent
    except Exception as err:  # torch raises many types for damaged files; all mean the same here
        raise ValueError(f"{name} is not a readable rbtrainer training state ({type(err).__name__}: {err})") from None
    if not isinstance(payload, dict) or payload.get("kind") != _KIND:
        raise ValueError(f"{name} is not an rbtrainer training state (an agents checkpoint? use load_agents for those)")
    if payload.get("format") != STATE_FORMAT:
        raise ValueError(
            f"{name} is a training state of format {payload.get('format')}; this version reads {STATE_FORMAT}"
        )
    state: dict[str, Any] = from_saveable(payload["state"])
    return state
