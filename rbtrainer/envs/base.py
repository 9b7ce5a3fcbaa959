"""What every env pool shares: the :class:`Pool` protocol, the backends and :class:`GameError`.

Two kinds of pool implement :class:`Pool`: :class:`~rbtrainer.envs.pool.GamePool` (PettingZoo
games behind the workers of a Tianshou vector env, stepped game by game with
``step(actions, env_ids)``) and :class:`~rbtrainer.envs.batch_pool.BatchGamePool` (a batch-native
game in this process, stepped a tick at a time with ``decisions`` / ``step_batch``). Both modules
import their shared names from here and neither imports the other; :func:`~rbtrainer.envs.make_pool`
(in :mod:`rbtrainer.envs.backends`) chooses between them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from rbtrainer.config import BACKENDS
from rbtrainer.envs.adapters import ReplayPoint
from rbtrainer.envs.reports import Decision

__all__ = ["BACKENDS", "GameError", "Pool"]


@runtime_checkable
class Pool(Protocol):
    """``num_envs`` games addressed by env id, each seeded, reset at once when it ends, and
    restorable from its :class:`~rbtrainer.envs.adapters.ReplayPoint`.

    A game that raises closes the pool, which then raises :class:`GameError`; a closed pool
    cannot be used again.
    """

    num_envs: int
    """Games in the pool (env ids ``0 .. num_envs - 1``)."""
    closed: bool
    """The pool was closed (by :meth:`close`, or after a :class:`GameError`)."""

    def reset(self, env_id: int, seed: int | None = None) -> Decision:
        """Start game ``env_id`` anew (``seed`` seeds it and the games after it); returns who acts first."""
        ...

    def restore(self, env_id: int, point: ReplayPoint) -> Decision:
        """Put game ``env_id`` back where ``point`` says; returns who acts next."""
        ...

    def replay_points(self) -> list[ReplayPoint | None]:
        """Where every game stands, in env order (``None`` for a game reset without a seed)."""
        ...

    def game_names(self) -> tuple[str, tuple[str, ...]]:
        """The game's name and its seat names, in seat order (for messages)."""
        ...

    def close(self) -> None:
        """Release the games (a no-op on a closed pool)."""
        ...


class GameError(RuntimeError):
    """A game raised inside an env pool worker, a worker died, a worker did not answer within the
    pool's ``step_timeout`` (it was killed), or a game reported a NaN or infinite reward or
    observation (found by the rollout engine); the pool has been closed.

    The message names the env(s), the operation and the game's exception type and message (or
    the worker's exit); the game's traceback as the worker printed it is in
    :attr:`worker_traceback` and is also attached as a note (shown under the error's own
    traceback). The pool that raised it is closed; a trainer builds a fresh one on its next call.
    """

    def __init__(
        self,
        message: str,
        *,
        env_ids: Sequence[int],
        operation: str,
        error_type: str | None,
        error_message: str,
        worker_traceback: str,
    ) -> None:
        super().__init__(message)
        self.env_ids: tuple[int, ...] = tuple(env_ids)
        """The game that raised, or every game of a worker that died (global env indices)."""
        self.operation = operation
        """What the pool was doing: ``"step"``, ``"reset"``, ``"restore"`` or ``"replay_points"``."""
        self.error_type = error_type
        """The game's exception type (``"ValueError"``, ``"module.Error"``); ``None`` if the worker died;
        ``"timeout"`` if the worker did not answer within ``step_timeout`` (it was killed);
        ``"non-finite value"`` if the game reported NaN or inf (the rollout engine's check)."""
        self.error_message = error_message
        """``str()`` of the game's exception (for a dead worker: how it ended; for a timeout: the time waited)."""
        self.worker_traceback = worker_traceback
        """The game's traceback, formatted inside the worker (empty if the worker died)."""

    @property
    def worker_exited(self) -> bool:
        """Whether the worker process died (rather than a game raising in a live worker)."""
        return self.error_type is None

    @property
    def timed_out(self) -> bool:
        """Whether a worker did not answer within the pool's ``step_timeout`` (and was killed)."""
        return self.error_type == "timeout"

    def __reduce__(self) -> tuple[Any, ...]:
        # the keyword-only arguments need their own reduce (BaseException's passes only args)
        kwargs = {
            "env_ids": self.env_ids,
            "operation": self.operation,
            "error_type": self.error_type,
            "error_message": self.error_message,
            "worker_traceback": self.worker_traceback,
        }
        return (_rebuild_game_error, (str(self), kwargs), dict(self.__dict__))  # keeps the notes


def _rebuild_game_error(message: str, kwargs: dict[str, Any]) -> GameError:
    return GameError(message, **kwargs)
