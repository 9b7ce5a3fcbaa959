"""A script of ``benchmarks/`` loaded as a module in the test process (the tests call its functions)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load_benchmark(name: str, monkeypatch: pytest.MonkeyPatch | None = None) -> ModuleType:
    """``benchmarks/NAME.py`` as the module ``benchmark_NAME``, registered in ``sys.modules`` (its
    dataclasses look their module up) until ``monkeypatch`` undoes it, or for good without one."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    if monkeypatch is None:
        sys.modules[spec.name] = module
    else:
        monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def benchmark_fixture(name: str) -> Any:
    """A module-scoped fixture holding ``benchmarks/NAME.py`` loaded, unregistered after the module's tests."""

    @pytest.fixture(scope="module")
    def loaded() -> Iterator[ModuleType]:
        module = load_benchmark(name)
        yield module
        del sys.modules[module.__name__]

    return loaded
