"""Where a measured figure comes from: the command, the git commit, the date and the machine.

Benchmarks write these beside their figures, so that a table rendered from the JSON says what was
run, on which code and on what kind of machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rbtrainer.files import atomic_write

__all__ = [
    "benchmark_parser",
    "cpu_model",
    "git_commit",
    "machine",
    "median_range",
    "provenance",
    "table_of",
    "write_figures",
]


def git_commit(root: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkout's commit at ``root`` and whether it has uncommitted changes (None outside a git checkout)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def cpu_model() -> str:
    """The CPU's model name (Linux: ``/proc/cpuinfo``; elsewhere what :mod:`platform` knows).

    Recorded because the same code and seed can give other statistics on another CPU (its
    floating-point kernels differ), so a figure says which kind of CPU it came from.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:  # one line per CPU: the first named one will do
            fields = (line.partition(":") for line in handle)
            names = (value.strip() for key, _, value in fields if key.strip() == "model name")
            name = next((n for n in names if n), "")
    except OSError:  # not Linux
        name = ""
    return name or platform.processor() or platform.machine() or "unknown"


def machine() -> dict[str, Any]:
    """Python, torch, Tianshou and NumPy versions, the platform, the CPU's model, the widest vector instructions
    torch finds on it (``cpu_capability``, e.g. AVX2 or AVX512: torch's math libraries round by the instructions
    they use, so a long training run's statistics can differ between CPUs) and the CPU count."""
    import numpy
    import tianshou
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "tianshou": tianshou.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": os.cpu_count(),
    }


def provenance(root: str | os.PathLike[str]) -> dict[str, Any]:
    """The command line, the git commit of ``root``, the UTC date and the machine, as one dict."""
    return {
        "command": " ".join([os.path.relpath(sys.argv[0], root), *sys.argv[1:]]) if sys.argv else "",
        "git": git_commit(root),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
    }


def median_range(values: Sequence[float]) -> dict[str, float]:
    """A repeated measurement as benchmarks record it: ``{"median", "min", "max"}``."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def write_figures(path: str | os.PathLike[str], origin: Mapping[str, Any], figures: Mapping[str, Any]) -> None:
    """Write ``{**origin, **figures}`` (``origin``: a :func:`provenance`) to ``path`` as indented JSON, atomically."""
    with atomic_write(path) as handle:
        handle.write(json.dumps({**origin, **figures}, indent=2).encode())


def benchmark_parser(doc: str | None, skipped: str = "time nothing") -> argparse.ArgumentParser:
    """A benchmark script's argument parser: its docstring as the help, ``--json FILE`` (write the
    figures with their provenance) and ``--render JSON`` (print a file's table and ``skipped``)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="also write the figures (with command, commit, date, machine) to this file")
    parser.add_argument("--render", metavar="JSON", help=f"print the table of a JSON file this script wrote; {skipped}")
    return parser


def table_of(path: str | os.PathLike[str], table: Callable[[list[dict[str, Any]]], str]) -> str:
    """``table`` of the rows of the JSON file a benchmark wrote (what its ``--render`` prints)."""
    with open(path, encoding="utf-8") as handle:
        return table(json.load(handle)["rows"])
