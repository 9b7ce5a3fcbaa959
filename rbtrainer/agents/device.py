"""Where a learner's networks live: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``.

A device that is not there is an error naming it and what this machine has; nothing falls back to
the CPU silently. ``"auto"`` is the explicit way to take the best device available (CUDA, then
Apple's MPS, then the CPU).
"""

from __future__ import annotations

import re
from typing import Any

import torch

from rbtrainer.validation import DEVICES, check_device

__all__ = ["DEVICES", "available_devices", "check_device", "resolve_device"]

_CUDA_N = re.compile(r"cuda:(\d+)")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """The devices this machine has, e.g. ``['cpu', 'cuda:0', 'cuda:1']``."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{k}" for k in range(torch.cuda.device_count())]
    if _mps_available():
        found.append("mps")
    return found


def resolve_device(value: Any, name: str = "device") -> torch.device:
    """The torch device ``value`` names, if this machine has it; ``ValueError`` naming what it has otherwise."""
    check_device(name, value)
    if value == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    if value == "cpu":
        return torch.device("cpu")
    missing = f"{name} {value!r} is not available on this machine (it has {available_devices()})"
    if value == "mps":
        if not _mps_available():
            raise ValueError(f"{missing}; use 'cpu', or 'auto' for the best available")
        return torch.device("mps")
    if not torch.cuda.is_available():
        raise ValueError(f"{missing}: torch finds no CUDA device; use 'cpu', or 'auto' for the best available")
    match = _CUDA_N.fullmatch(value)
    if match is not None and int(match.group(1)) >= torch.cuda.device_count():
        raise ValueError(missing)
    return torch.device(value)
