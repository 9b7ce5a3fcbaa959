"""What a rollout worker runs where its games are: a block of games, copies of the agents, one engine.

A :class:`WorkerCore` holds a block of a pool's envs (global ids ``env_ids``) as an in-process pool
(on the batch path when the game has a batch twin), a :class:`~rbtrainer.rollout.RolloutEngine` over
it and a copy of every agent it has been sent, by token. Each :meth:`WorkerCore.run` brings the
copies up to date (:class:`RunShared`: the agents' acting states, the same for every worker; a
:class:`RunOwn`: this block's seating and the copies' random generators), runs the engine for the
phase and answers with a :class:`BlockResult`: counters, finished episodes and the closed
transitions as arrays, env ids global.

:class:`Served` wraps a core for a transport (:mod:`rbtrainer.worker_transports`): every call
answers ``("ok", value)`` or ``("error", WorkerFailure)``, so an error inside a worker reaches the
trainer as data, whatever carries it.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rbtrainer.agents.base import Agent
from rbtrainer.envs import Episode, GameError, make_pool
from rbtrainer.rng import generator_states, set_generator_states
from rbtrainer.rollout import RolloutEngine, Transitions
from rbtrainer.seating import PlanRows

__all__ = ["BlockResult", "RunOwn", "RunShared", "Served", "WorkerCore", "WorkerFailure"]


@dataclass(frozen=True)
class RunShared:
    """The part of a run's order that every worker gets (sent once per run: weights are the bulk of it)."""

    acting: dict[int, dict[str, Any]]
    """Acting state of each agent that has one (:meth:`~rbtrainer.agents.base.Agent.acting_state`), by token."""
    explore: bool
    store: bool
    check_finite: bool
    torch_threads: int | None = 1
    """Torch CPU threads while the worker runs (``None``: torch's own setting): a worker process left at one
    thread per core would make the workers' threads fight over the cores."""


@dataclass(frozen=True)
class RunOwn:
    """The part of a run's order for one worker."""

    tokens: list[int]
    """The token of each agent of the plan, in the plan's order."""
    rows: PlanRows
    """This block's seating."""
    generators: dict[int, dict[str, Any]]
    """Generator states to put into the copies (by token) before the run..."""
    reseed: dict[int, int]
    """...or seeds to restart them with (the agents of workers after the first)."""
    max_steps: int | None
    episodes_per_env: list[int] | None
    max_ticks: int | None = None
    """Stop after this many ticks too (a seat rotation's games are played tick by tick)."""


@dataclass
class BlockResult:
    """What one worker's run collected (env ids global)."""

    steps: int
    episodes: list[Episode]
    ticks: list[int]
    """The tick of the run in which each episode ended."""
    illegal_E: np.ndarray
    transitions: Transitions | None
    generators: dict[int, dict[str, Any]]
    """After the run, the generator states of the copies whose states the run was given (:attr:`RunOwn.generators`),
    by token."""
    records: dict[int, Any]
    """The copies' acting records (:meth:`~rbtrainer.agents.base.Agent.acting_record`), by token."""


@dataclass(frozen=True)
class WorkerFailure:
    """An exception raised inside a worker, as plain data."""

    error_type: str
    """Qualified name of the exception type (``"ValueError"``, ``"rbtrainer.envs.base.GameError"``)."""
    builtin: bool
    message: str
    traceback: str
    game_error: dict[str, Any] | None = None
    """A :class:`~rbtrainer.envs.GameError`'s fields (env ids global)."""

    @classmethod
    def of(cls, exc: BaseException, offset: int) -> WorkerFailure:
        kind = type(exc)
        builtin = kind.__module__ == "builtins"
        name = kind.__qualname__ if builtin else f"{kind.__module__}.{kind.__qualname__}"
        fields = None
        if isinstance(exc, GameError):
            fields = {
                "env_ids": [offset + env_id for env_id in exc.env_ids],
                "operation": exc.operation,
                "error_type": exc.error_type,
                "error_message": exc.error_message,
                "worker_traceback": exc.worker_traceback,
            }
        return cls(name, builtin, str(exc), "".join(traceback.format_exception(exc)), fields)


class WorkerCore:
    """A block of games (global ids ``env_ids``), copies of agents and the engine that runs them.

    :attr:`beat` is the time the last tick of a run ended (or the run began), for a watchdog.
    """

    def __init__(self, factory: Callable[[], Any], env_ids: range, num_seats: int, batch: bool) -> None:
        self.env_ids = env_ids
        self.engine = RolloutEngine(make_pool(factory, len(env_ids), "dummy", batch=batch), num_seats)
        self.agents: dict[int, Agent] = {}
        self.running = False
        self.beat = time.monotonic()
        self.engine.on_tick = self._beat

    def _beat(self) -> None:
        self.beat = time.monotonic()

    def add_agents(self, copies: dict[int, Agent]) -> None:
        self.agents.update(copies)

    def drop_agents(self, tokens: Sequence[int]) -> None:
        for token in tokens:
            self.agents.pop(token, None)

    def start(self, seeds: Sequence[int]) -> None:
        self.engine.start(seeds)

    def run(self, shared: RunShared, own: RunOwn) -> BlockResult:
        self.beat, self.running = time.monotonic(), True
        if shared.torch_threads is not None and torch.get_num_threads() != shared.torch_threads:
            # left so: resizing torch's thread pool at every run costs more than a short run (in this process
            # the trainer has set the same count for the call already, and puts its own back afterwards)
            torch.set_num_threads(shared.torch_threads)
        try:
            return self._run(shared, own)
        finally:
            self.running = False

    def _run(self, shared: RunShared, own: RunOwn) -> BlockResult:
        agents = [self.agents[token] for token in own.tokens]
        for token, agent in zip(own.tokens, agents):
            if token in shared.acting:
                agent.load_acting_state(shared.acting[token])
            if token in own.generators:
                set_generator_states(agent, own.generators[token])
            elif token in own.reseed:
                agent.seed(own.reseed[token])
        self.engine.check_finite = shared.check_finite
        result, transitions = self.engine.collect(
            own.rows.plan(agents),
            max_steps=own.max_steps,
            episodes_per_env=own.episodes_per_env,
            explore=shared.explore,
            store=shared.store,
            max_ticks=own.max_ticks,
        )
        offset = self.env_ids.start
        if transitions is not None:
            transitions.env_id += offset
        records = {}
        for token, agent in zip(own.tokens, agents):
            record = agent.acting_record()
            if record is not None:
                records[token] = record
        return BlockResult(
            steps=result.steps,
            episodes=[dataclasses.replace(e, env_id=e.env_id + offset) for e in result.episodes],
            ticks=result.ticks,
            illegal_E=result.illegal_E,
            transitions=transitions,
            generators={token: generator_states(self.agents[token]) for token in own.generators},
            records=records,
        )

    def where(self) -> str:
        """``"pid 4242 on host"``: the worker's process (messages name it)."""
        return f"pid {os.getpid()} on {socket.gethostname()}"

    def state(self) -> dict[str, Any]:
        return self.engine.state()

    def restore(self, state: dict[str, Any]) -> None:
        self.engine.restore(state)

    def close(self) -> None:
        self.engine.close()


class Served:
    """A :class:`WorkerCore` behind one entry point that answers with data, never with an exception.

    ``step_timeout`` (seconds; ``None``: none), for workers that run apart from the trainer: a watchdog
    thread calls ``on_stuck`` with a timeout failure when a run goes that long without finishing a tick
    (a game or an agent stuck); ``on_stuck`` answers it if it can and ends the worker's process.
    """

    def __init__(
        self,
        *args: Any,
        step_timeout: float | None = None,
        on_stuck: Callable[[WorkerFailure], None] | None = None,
    ) -> None:
        self.core: WorkerCore | None = None
        self._args = args
        self._offset = args[1].start
        if step_timeout is not None and on_stuck is not None:
            watch = threading.Thread(
                target=self._watch, args=(step_timeout, on_stuck), name="rbtrainer-worker-watchdog", daemon=True
            )
            watch.start()

    def call(self, method: str, *args: Any) -> tuple[str, Any]:
        try:
            if self.core is None:  # built on the first call, where the worker runs (its errors answer too)
                self.core = WorkerCore(*self._args)
            return "ok", getattr(self.core, method)(*args)
        except Exception as exc:  # any error of a game or an agent: answered as data (see the class)
            return "error", WorkerFailure.of(exc, self._offset)

    def _watch(self, timeout: float, on_stuck: Callable[[WorkerFailure], None]) -> None:
        while True:
            time.sleep(min(1.0, timeout / 4))
            core = self.core
            if core is None or not core.running or time.monotonic() - core.beat <= timeout:
                continue
            env_ids = list(core.env_ids)
            what = f"no tick of its games finished within step_timeout={timeout:g} s (a game or an agent stuck?)"
            on_stuck(
                WorkerFailure(
                    "timeout",
                    False,
                    f"envs {env_ids[0]}-{env_ids[-1]}: {what}; the worker was ended",
                    "",
                    {
                        "env_ids": env_ids,
                        "operation": "step",
                        "error_type": "timeout",
                        "error_message": what,
                        "worker_traceback": "",
                    },
                )
            )
            return
