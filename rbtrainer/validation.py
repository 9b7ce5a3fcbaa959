"""Argument checks shared by the configuration dataclasses (clear errors naming the argument)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np

__all__ = [
    "DEVICES",
    "MAX_ENVS",
    "boolean",
    "check_allocation",
    "check_device",
    "file_name",
    "hidden_sizes",
    "index",
    "non_negative_int",
    "not_a_file",
    "number_in",
    "optional_callable",
    "positive_int",
    "returned_real",
    "writable_dir",
]

MAX_ENVS = 65_536
"""Most games a pool may hold: a larger count is taken for a typo rather than built game by game."""


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def positive_int(name: str, value: Any) -> int:
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


def non_negative_int(name: str, value: Any) -> int:
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def number_in(name: str, value: Any, low: float, high: float, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        v = float(value)
    except OverflowError:  # an int beyond float range
        raise ValueError(f"{name} must be in [{low}, {high}], got an int of {len(str(abs(value)))} digits") from None
    if not (low < v if low_open else low <= v) or v > high:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}], got {value}")
    return v


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def hidden_sizes(name: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of layer widths such as (64, 64), got {value!r}")
    return tuple(positive_int(f"{name}[{i}]", v) for i, v in enumerate(value))


def optional_callable(name: str, value: Any) -> Callable[..., Any] | None:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be callable or None, got {value!r}")
    return value


def index(name: str, value: Any, size: int) -> int:
    """An int in ``0..size-1`` (bools and floats are refused: ``True`` or ``1.7`` is not an index)."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if not 0 <= value < size:
        raise ValueError(f"{name} {value} out of range 0..{size - 1}")
    return int(value)


def returned_real(hook: str, value: Any) -> float:
    """What ``hook`` returned, checked: one finite real number (Python or NumPy scalar, or a 0-d array)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.integer, np.floating)):
        raise TypeError(f"{hook} must return one real number (e.g. float(np.mean(rewards))), got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{hook} returned {v}; it must return a finite number")
    return v


def file_name(name: str, value: Any) -> str:
    """A plain file name: no directory part, not ``.`` or ``..``."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty file name, got {value!r}")
    separators = [os.sep] + ([os.altsep] if os.altsep else [])
    if any(sep in value for sep in separators) or value in (".", ".."):
        raise ValueError(f"{name} must be a plain file name without a directory part, got {value!r}")
    return value


def not_a_file(name: str, path: str) -> str:
    """``path`` may name a directory: it is one, or nothing is there yet."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{name} {path!r} exists and is not a directory")
    return path


def writable_dir(name: str, path: str) -> str:
    """``path`` is a writable directory, or can be created as one (its nearest existing parent is writable)."""
    not_a_file(name, path)
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{name} {path!r} cannot be created: {existing!r} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"{name} {path!r} is not writable ({existing!r} does not allow writing)")
    return path


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system: no bound known
        return None


def check_allocation(name: str, nbytes: float, what: str) -> None:
    """Refuse a setting whose ``what`` would need more bytes than the machine's physical memory."""
    total = _physical_memory()
    if total is not None and nbytes > total:
        raise ValueError(
            f"{name} is too large: {what} would need {nbytes / 2**30:,.1f} GiB, "
            f"more than this machine's {total / 2**30:,.1f} GiB of memory"
        )


DEVICES = ("cpu", "cuda", "cuda:N", "mps", "auto")
"""The device strings accepted."""

_CUDA_N = re.compile(r"cuda:(\d+)")


def check_device(name: str, value: Any) -> str:
    """``value`` if it is a device string of :data:`DEVICES` (whether or not this machine has it)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a device string ({', '.join(DEVICES)}), got {value!r}")
    if value not in ("cpu", "cuda", "mps", "auto") and not _CUDA_N.fullmatch(value):
        raise ValueError(f"{name} {value!r} is not a device; use one of {', '.join(DEVICES)}")
    return value
