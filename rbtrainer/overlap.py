"""Overlapped collection and learning (``TrainerConfig.overlap``).

In the plain loop each phase collects ``update_freq`` env steps and then updates the learners
on what was collected. With ``overlap=True`` a phase starts the update owed for the previous
phase's steps in a background thread and collects its own steps meanwhile:

* the learners' seats are played by *actors*: copies of the learners whose weights and epsilon
  (:meth:`~rbtrainer.agents.base.Agent.acting_state`) are taken from the learners when the phase
  starts, before the owed update runs, so a phase acts with the learners as they were one update
  earlier (one collection phase of policy lag, never more);
* the phase's transitions are stored once the update has finished, so an update samples exactly
  the memory the plain loop would have given it;
* before a test round, at the end of the run, the owed update runs at once: tests, ``stop_fn``,
  checkpoints and training states see learners that learned from every step collected.

Env stepping (in worker processes with ``backend="subproc"`` or ``"ray"``, or whole phases on
rollout workers) and the engine run while the learners' tensor work proceeds. The same seed gives
the same statistics within this mode (not the plain loop's: the actors explore with their own
generators, seeded per phase from the run's seed and step count). Only off-policy learners can
overlap (the DQN family, the planning learner, whose search targets the actors hand over before the
phase is stored; an on-policy update needs data of the current policy), and not with a League.
Agents that draw from the global NumPy, ``random`` or torch generators while acting are not
reproducible in this mode: updates seed and restore those generators in the background thread.
"""

from __future__ import annotations

import concurrent.futures
import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rbtrainer.agents.base import Agent, Learner
from rbtrainer.rng import spawn_seeds
from rbtrainer.seating import SeatPlan

__all__ = ["OverlappedUpdates", "check_overlap"]

_ACTOR_SEEDS = 21
"""Seed stream of the actors' exploration generators (see :func:`rbtrainer.rng.spawn_seeds`)."""


def check_overlap(learners: Sequence[Learner], league: bool) -> None:
    """Raise ``ValueError`` if these learners cannot be trained with ``overlap=True``."""
    if league:
        raise ValueError("overlap=True does not run with a League; train the league with overlap=False")
    for learner in learners:
        if learner.on_policy:
            raise ValueError(
                f"overlap=True needs off-policy learners (the DQN family, the planning learner), but {learner.name!r} "
                f"is a {type(learner).__name__}: an on-policy update needs data collected by its current policy; "
                "use overlap=False"
            )


class _Actor(Agent):
    """Plays a learner's seats from a copy of the learner (:meth:`~rbtrainer.agents.base.Agent.acting_copy`)
    brought up to date at the last :meth:`follow`."""

    def __init__(self, learner: Learner, seed: int) -> None:
        self.learner = learner
        self.name = learner.name
        self._seed = seed
        self._copy = learner.acting_copy()

    def follow(self, phase: int) -> None:
        """Take the learner's acting state (weights, epsilon) now; act with a generator for ``phase``."""
        state = self.learner.acting_state()
        if state is not None:
            self._copy.load_acting_state(state)
        self._copy.seed(spawn_seeds(self._seed, 1, stream=phase)[0])

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        return self._copy.act(obs, mask, explore)

    def hand_over(self) -> None:
        """Give the learner what the copy recorded while acting (a planning learner's search targets)."""
        record = self._copy.acting_record()
        if record is not None:
            self.learner.absorb_acting_record(record)

    # in a rollout worker: the copy travels without the learner (and its memory) it follows here
    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "learner"}

    def acting_state(self) -> dict[str, Any] | None:
        return self._copy.acting_state()

    def load_acting_state(self, state: dict[str, Any]) -> None:
        self._copy.load_acting_state(state)

    def acting_record(self) -> Any:
        return self._copy.acting_record()

    def absorb_acting_record(self, record: Any) -> None:
        self._copy.absorb_acting_record(record)  # what the workers' copies recorded, handed over with this copy's


class OverlappedUpdates:
    """The actors of a training plan and the one background update in flight."""

    def __init__(self, plan: SeatPlan, learners: Sequence[Learner], seed: int) -> None:
        seeds = spawn_seeds(seed, len(learners), stream=_ACTOR_SEEDS)
        actors = {id(learner): _Actor(learner, s) for learner, s in zip(learners, seeds)}
        self._actors = list(actors.values())
        #: the training plan with every learner's seats played by its actor (memories stay the learners')
        self.plan = copy.copy(plan)
        self.plan.agents = [actors.get(id(agent), agent) for agent in plan.agents]
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="rbtrainer-update")
        self._pending: concurrent.futures.Future[int] | None = None
        self._taken = 0

    def follow(self, phase: int) -> None:
        """Every actor takes its learner's weights and epsilon as they are now."""
        for actor in self._actors:
            actor.follow(phase)

    def launch(self, update: Callable[[], int]) -> None:
        """Run ``update`` (returns gradient steps taken) in the background."""
        if self._pending is not None:
            raise RuntimeError("an update is already running; wait() for it first")
        self._pending = self._executor.submit(update)

    def wait(self) -> None:
        """Wait for the background update (if one runs; re-raises its error), then give the learners what their
        actors recorded while acting (before the phase's transitions are stored)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self._taken += pending.result()
        for actor in self._actors:
            actor.hand_over()

    def taken(self) -> int:
        """Gradient steps the updates took since the last call (waits for a running one)."""
        self.wait()
        taken, self._taken = self._taken, 0
        return taken

    def close(self) -> None:
        """Wait for a running update and stop the background thread."""
        try:
            self.wait()
        finally:
            self._executor.shutdown(wait=True)
