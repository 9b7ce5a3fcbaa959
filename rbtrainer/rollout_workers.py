"""Rollout workers: each holds a block of the pool's games and copies of the agents, and plays a whole
collection phase (or test round) where its games are; the learners learn in the trainer's process.

``TrainerConfig(rollout_workers=N)`` splits a pool's envs into ``N`` contiguous blocks, one per
worker, on the ``backend``'s transport (:mod:`rbtrainer.worker_transports`: in this process,
worker processes or Ray actors). For every run the :class:`WorkerEngine`:

1. sends a copy of each agent the workers have not seen yet (:meth:`~rbtrainer.agents.base.Agent.acting_copy`:
   a learner without its memory; a league's snapshot once);
2. sends the agents' acting states (:meth:`~rbtrainer.agents.base.Agent.acting_state`: weights,
   epsilon) once for all workers, and each worker its block's seating and its copies' random
   generators: worker 0 gets the agents' own generator states, and hands them back after the run,
   so one worker gives exactly the statistics of the in-process engine; workers after the first
   restart their copies' generators from seeds drawn from those states and their index (and with
   more than one worker each agent's generators then take one draw, so those seeds change from run
   to run even for an agent worker 0 does not seat), so the same seed and the same number of
   workers give the same statistics;
3. lets every worker run its block for the run's ticks (a collection phase of ``update_freq`` env
   steps is ``ceil(update_freq / num_envs)`` ticks of every env, as in one engine), and takes back
   the counters, finished episodes and closed transitions as arrays;
4. merges them into the order one engine over all the envs would have produced (by tick, then
   env block) and stores the transitions in the learners' memories, one insertion per learner.

Training states hold where every env stands, as the in-process engine's do, so a run resumes on
any number of workers (or none). A worker whose game or agent raises, or that dies, closes all the
workers and raises: a :class:`~rbtrainer.envs.GameError` naming the worker for games and dead
workers, the agent's own error type for agents. An interrupt (Ctrl-C) while the trainer waits for
its workers closes them too.

A seat rotation (a :class:`~rbtrainer.league.League`, whose opponents are drawn as games end, in
this process) is played one tick at a time: after every tick the rotation hears of the games that
ended, in the order one engine ends them, and seats those envs' next games; new members (a
league's snapshots) go to the workers once, the weights once per run. So one worker gives the
in-process statistics with a league too, at a round trip per tick.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
import torch

from rbtrainer.agents.base import Agent
from rbtrainer.config import TrainerConfig
from rbtrainer.envs import GameError, make_pool
from rbtrainer.envs.pool import blocks
from rbtrainer.rng import advance_generators, generator_states, set_generator_states
from rbtrainer.rollout import Engine, RolloutEngine, RolloutResult, Transitions, store_transitions
from rbtrainer.seating import SeatPlan, SeatRotation
from rbtrainer.worker_core import BlockResult, RunOwn, RunShared, WorkerFailure
from rbtrainer.worker_transports import Answer, Lost, WorkerGroup, worker_group

__all__ = ["WorkerEngine", "make_engine"]

_UNUSED_RUNS = 16
"""Runs after which the workers drop a copy of an agent no plan has seated since."""


def make_engine(factory: Callable[[], Any], num_envs: int, num_seats: int, cfg: TrainerConfig) -> Engine:
    """The engine of a pool of ``num_envs`` games: on ``cfg.rollout_workers`` workers, or in this process."""
    if cfg.rollout_workers:
        return WorkerEngine(
            factory,
            num_envs,
            num_seats,
            cfg.rollout_workers,
            cfg.backend,
            cfg.batch_games,
            step_timeout=cfg.step_timeout,
            torch_threads=cfg.torch_threads,
        )
    pool = make_pool(factory, num_envs, cfg.backend, None, cfg.batch_games, cfg.step_timeout)
    return RolloutEngine(pool, num_seats)


@dataclass
class _Sent:
    """An agent whose copy the workers hold."""

    token: int
    agent: Agent  # held, so that its id is not reused while the workers know it by it
    last_run: int
    generators: frozenset[str] = frozenset()
    """The copy's random generators (by path): those of the agent it synchronises (an overlap actor's copy
    leaves out the learner it follows)."""


def _reseed(states: dict[str, Any], worker: int) -> int:
    """A seed for worker ``worker``'s copy of an agent whose generators are in ``states`` (the same states and
    worker, the same seed: tensors are hashed by their bytes, not by how pickle lays them out)."""
    digest = hashlib.blake2b(str(worker).encode(), digest_size=8)

    def feed(value: Any) -> None:
        if isinstance(value, dict):
            for key in sorted(value, key=str):
                digest.update(str(key).encode())
                feed(value[key])
        elif isinstance(value, (list, tuple)):
            for item in value:
                feed(item)
        elif isinstance(value, torch.Tensor):
            digest.update(value.detach().cpu().numpy().tobytes())
        elif isinstance(value, np.ndarray):
            digest.update(value.tobytes())
        else:
            digest.update(repr(value).encode())

    feed(states)
    return int.from_bytes(digest.digest(), "little") >> 1


class WorkerEngine:
    """Runs a plan's games on rollout workers (see the module); the trainer uses it as a
    :class:`~rbtrainer.rollout.RolloutEngine`."""

    def __init__(
        self,
        factory: Callable[[], Any],
        num_envs: int,
        num_seats: int,
        num_workers: int,
        backend: str,
        batch: bool = True,
        check_finite: bool = True,
        step_timeout: float | None = 60.0,
        torch_threads: int | None = 1,
    ) -> None:
        self.num_envs = num_envs
        self.torch_threads = torch_threads
        """Torch CPU threads of each worker while it runs (``None``: torch's own setting)."""
        self.num_seats = num_seats
        self.check_finite = check_finite
        self.blocks = blocks(num_envs, max(1, min(num_workers, num_envs)))
        self.group: WorkerGroup = worker_group(
            backend, [(factory, block, num_seats, batch) for block in self.blocks], step_timeout
        )
        self._sent: dict[int, _Sent] = {}
        self._next_token = 0
        self._runs = 0
        self._started = False

    @property
    def closed(self) -> bool:
        return self.group.closed

    def close(self) -> None:
        self.group.close()

    # ------------------------------------------------------------------ calls
    def _call(self, method: str, own: Sequence[tuple[Any, ...]], shared: Any = None) -> list[Any]:
        if self.group.closed:
            raise RuntimeError("the rollout workers are closed; build a new engine")
        try:
            answers = self.group.call_all(method, own, shared)
        except BaseException:  # an interrupt (Ctrl-C) while waiting: the answers would no longer match the calls
            self.group.close()
            raise
        for k, answer in enumerate(answers):
            if isinstance(answer, Lost) or answer[0] != "ok":
                self._fail(k, answer)
        return [answer[1] for answer in answers if not isinstance(answer, Lost)]

    def _fail(self, k: int, answer: Answer) -> NoReturn:
        """Close every worker and raise what worker ``k`` answered (an error or its death)."""
        block, label = self.blocks[k], self.group.labels[k]
        where = f"{label}, envs {block.start}-{block.stop - 1} (its envs 0-{len(block) - 1})"
        self.group.close()
        if isinstance(answer, Lost):
            raise GameError(
                f"{where} died: {answer.how} (the rollout workers have been closed)",
                env_ids=list(block),
                operation="run",
                error_type=None,
                error_message=answer.how,
                worker_traceback="",
            )
        failure: WorkerFailure = answer[1]
        kind = getattr(builtins, failure.error_type, None) if failure.builtin else None
        if failure.game_error is not None:
            err: Exception = GameError(f"{where}: {failure.message}", **failure.game_error)
        elif isinstance(kind, type) and issubclass(kind, Exception):
            err = kind(f"{where}: {failure.message}")  # an agent's or a setting's own error type
        else:
            err = RuntimeError(f"{where}: {failure.error_type}: {failure.message}")
        err.add_note(f"traceback in {label}:\n{failure.traceback.rstrip()}")
        raise err

    # ------------------------------------------------------------------ engine
    def start(self, seeds: Sequence[int]) -> None:
        if len(seeds) != self.num_envs:
            raise ValueError(f"start() needs one seed per env ({self.num_envs}), got {len(seeds)}")
        self._call("start", [([int(s) for s in seeds[b.start : b.stop]],) for b in self.blocks])
        self._started = True

    def state(self) -> dict[str, Any]:
        if not self._started:
            raise RuntimeError("call start() before state()")
        parts = self._call("state", [()] * len(self.blocks))
        return {"envs": [e for p in parts for e in p["envs"]], "open": [o for p in parts for o in p["open"]]}

    def restore(self, state: dict[str, Any]) -> None:
        envs, opened = state["envs"], state["open"]
        if len(envs) != self.num_envs or len(opened) != self.num_envs:
            raise ValueError(f"the saved state holds {len(envs)} envs but the pool has {self.num_envs}")
        own = [({"envs": envs[b.start : b.stop], "open": opened[b.start : b.stop]},) for b in self.blocks]
        self._call("restore", own)
        self._started = True

    def _tokens(self, plan: SeatPlan) -> list[int]:
        """The workers' token of each agent of ``plan``; copies of the agents they lack are sent first."""
        new: dict[int, Agent] = {}
        tokens = []
        for agent in plan.agents:
            sent = self._sent.get(id(agent))
            if sent is None:
                sent = _Sent(self._next_token, agent, self._runs)
                self._next_token += 1
                self._sent[id(agent)] = sent
                new[sent.token] = agent
            sent.last_run = self._runs
            tokens.append(sent.token)
        stale = [key for key, sent in self._sent.items() if self._runs - sent.last_run > _UNUSED_RUNS]
        if stale:
            self._call("drop_agents", [([self._sent.pop(key).token for key in stale],)] * len(self.blocks))
        if new:  # every worker its own copy (in this process too)
            copies = [{t: a.acting_copy() for t, a in new.items()} for _ in self.blocks]
            for sent in self._sent.values():
                if sent.token in new:
                    sent.generators = frozenset(generator_states(copies[0][sent.token]))
            self._call("add_agents", [(mine,) for mine in copies])
        return tokens

    def run(
        self,
        plan: SeatPlan,
        *,
        max_steps: int | None = None,
        episodes_per_env: Sequence[int] | None = None,
        explore: bool = False,
        store: bool = False,
        before_store: Callable[[], object] | None = None,
    ) -> RolloutResult:
        """As :meth:`RolloutEngine.run <rbtrainer.rollout.RolloutEngine.run>`, on the workers."""
        if not self._started:
            raise RuntimeError("call start() before run()")
        if plan.num_envs != self.num_envs:
            raise ValueError(f"the plan seats {plan.num_envs} envs but the pool has {self.num_envs}")
        self._runs += 1
        ticks = None if max_steps is None else math.ceil(max_steps / self.num_envs)
        if plan.rotation is None:
            result, parts = self._play(plan, ticks, episodes_per_env, explore, store)
        else:
            result, parts = self._play_rotating(plan, plan.rotation, ticks, episodes_per_env, explore, store)
        if store and parts:
            if before_store is not None:
                before_store()
            store_transitions(plan, Transitions.merged(parts))
        return result

    def _play_rotating(
        self,
        plan: SeatPlan,
        rotation: SeatRotation,
        ticks: int | None,
        episodes_per_env: Sequence[int] | None,
        explore: bool,
        store: bool,
    ) -> tuple[RolloutResult, list[Transitions]]:
        """A run whose seats a rotation changes as games end (a league's opponents), tick by tick: after every
        tick the rotation hears of the games that ended, in the order one engine ends them, and seats those
        envs' next games before the next tick (one round trip per tick; the weights go out with the first)."""
        remaining = None if episodes_per_env is None else np.array(episodes_per_env, dtype=np.int64)
        total = RolloutResult(illegal_E=np.zeros(self.num_envs, dtype=np.int64))
        parts: list[Transitions] = []
        tick = 0
        while (ticks is None or tick < ticks) and (remaining is None or (remaining > 0).any()):
            quota = None if remaining is None else remaining.tolist()
            result, new = self._play(plan, 1, quota, explore, store, first_tick=tick, acting=tick == 0, max_ticks=1)
            for episode in result.episodes:
                rotation.episode_ended(plan, episode)
                if remaining is not None:
                    remaining[episode.env_id] -= 1
            total.steps += result.steps
            total.episodes += result.episodes
            total.ticks += result.ticks
            total.illegal_E += result.illegal_E
            parts += new
            tick += 1
        return total, parts

    def _play(
        self,
        plan: SeatPlan,
        ticks: int | None,
        episodes_per_env: Sequence[int] | None,
        explore: bool,
        store: bool,
        *,
        first_tick: int = 0,
        acting: bool = True,
        max_ticks: int | None = None,
    ) -> tuple[RolloutResult, list[Transitions]]:
        """One call of the workers: ``ticks`` ticks of every env (or the episode quotas, or ``max_ticks``); the
        merged result and each worker's transitions, ticks counted from ``first_tick``. ``acting``: send the
        agents' acting states (not again within a run, where they have not changed)."""
        tokens = self._tokens(plan)
        states_out = {}
        for agent, token in zip(plan.agents, tokens):
            state = agent.acting_state() if acting else None
            if state is not None:
                states_out[token] = state
        shared = RunShared(states_out, explore, store, self.check_finite, self.torch_threads)
        states = {}
        for agent, token in zip(plan.agents, tokens):
            copied = self._sent[id(agent)].generators
            states[token] = {path: s for path, s in generator_states(agent).items() if path in copied}
        own = []
        for k, block in enumerate(self.blocks):
            first = k == 0
            own.append(
                (
                    RunOwn(
                        tokens=tokens,
                        rows=plan.rows(block),
                        generators=states if first else {},
                        reseed={} if first else {t: _reseed(s, k) for t, s in states.items()},
                        max_steps=None if ticks is None else ticks * len(block),
                        episodes_per_env=None
                        if episodes_per_env is None
                        else [int(n) for n in episodes_per_env[block.start : block.stop]],
                        max_ticks=max_ticks,
                    ),
                )
            )
        results: list[BlockResult] = self._call("run", own, shared)
        return self._merge(plan, tokens, results, first_tick)

    def _merge(
        self, plan: SeatPlan, tokens: list[int], results: list[BlockResult], first_tick: int
    ) -> tuple[RolloutResult, list[Transitions]]:
        by_token = {token: agent for agent, token in zip(plan.agents, tokens)}
        for token, states in results[0].generators.items():
            set_generator_states(by_token[token], states, part=True)
            if len(results) > 1:  # the other workers' next seeds differ even if worker 0 did not draw from it
                advance_generators(by_token[token])
        for result in results:
            for token, record in result.records.items():
                by_token[token].absorb_acting_record(record)
        ended = [(tick, k, i) for k, r in enumerate(results) for i, tick in enumerate(r.ticks)]
        ended.sort()  # by tick, then block: the order one engine over all the envs ends them
        merged = RolloutResult(
            steps=sum(r.steps for r in results),
            episodes=[results[k].episodes[i] for _, k, i in ended],
            illegal_E=np.concatenate([r.illegal_E for r in results]),
            ticks=[first_tick + tick for tick, _, _ in ended],
        )
        parts = [r.transitions for r in results if r.transitions is not None]
        if first_tick:
            parts = [dataclasses.replace(part, tick=part.tick + first_tick) for part in parts]
        return merged, parts
