"""Choosing an env pool: :func:`make_pool` builds the :class:`~rbtrainer.envs.base.Pool` of a game.

It is the one place that sees both kinds of pool (:mod:`rbtrainer.envs.pool`,
:mod:`rbtrainer.envs.batch_pool`), so neither of them imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rbtrainer.envs.base import BACKENDS, Pool
from rbtrainer.envs.batch_pool import BatchGamePool
from rbtrainer.envs.factory import batch_twin
from rbtrainer.envs.pool import game_pool

__all__ = ["BACKENDS", "make_pool"]


def make_pool(
    factory: Callable[[], Any],
    num_envs: int,
    backend: str,
    num_workers: int | None = None,
    batch: bool = False,
    step_timeout: float | None = None,
) -> Pool:
    """A :class:`~rbtrainer.envs.pool.GamePool` of ``num_envs`` games on ``backend``.

    ``dummy`` keeps every game in one in-process worker; ``subproc`` and ``ray`` spread them over
    ``num_workers`` workers (default: one per CPU core, at most one per game). ``step_timeout``
    (seconds, ``None``: wait forever): a worker that does not answer a step, reset or restore in
    time is killed and the pool raises :class:`~rbtrainer.envs.GameError`; only ``subproc`` and
    ``ray`` honour it (a game stuck in this process cannot be interrupted). With ``batch`` on
    the ``dummy`` backend, a game with a batch-native twin (:func:`~rbtrainer.envs.factory.batch_twin`)
    gets a :class:`~rbtrainer.envs.batch_pool.BatchGamePool` instead.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if batch and backend == "dummy":
        twin = batch_twin(factory, num_envs)
        if twin is not None:
            return BatchGamePool(twin, factory)
    return game_pool(factory, num_envs, backend, num_workers, step_timeout=step_timeout)
