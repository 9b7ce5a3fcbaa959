"""Who sits where: env groups, the per-env seat plan and the learners' memory streams.

A user seats agents with one list (one agent per seat, the same in every env) or with
:class:`EnvGroup` objects: each group seats its own agents in a share of the pool's envs (e.g.
the learner against random players in half of the envs and against a frozen snapshot in the
other half). The trainer turns either into a :class:`SeatPlan` for a pool: for every (env, seat)
the agent that plays it, whether it explores while collecting, and which learner memories store
its transitions, in which stream (:class:`StreamLayout`). The rollout engine reads nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rbtrainer.agents.base import Agent, Learner

if TYPE_CHECKING:
    from rbtrainer.envs import Episode

__all__ = ["EnvGroup", "PlanRows", "SeatPlan", "SeatRotation", "Seating", "StreamLayout", "split_counts"]


@dataclass(frozen=True)
class EnvGroup:
    """A group of envs and the agents seated in them.

    ``train()`` and ``test()`` take a list of groups in place of one agent list; the pool's envs
    (and a test round's episodes) are shared out in proportion to ``weight``, each group getting
    at least one env. Results are reported per group (by ``name``) as well as together.
    """

    name: str
    """Label of the group in results, statistics and curves."""
    agents: Sequence[Agent]
    """One agent per seat (the same object in several seats is self-play)."""
    weight: float = 1.0
    """Share of the envs (and of a test round's episodes), relative to the other groups."""
    learning_mask: Sequence[bool] | None = None
    """Seats that learn in this group's envs; ``None``: ``train()``'s ``learning_mask``."""
    exploration_mask: Sequence[bool] | None = None
    """Seats that explore in this group's envs; ``None``: ``train()``'s ``exploration_mask``."""


@dataclass(frozen=True)
class Seating:
    """A checked group: its agents and masks as the trainer uses them."""

    name: str
    agents: tuple[Agent, ...]
    weight: float
    learning: np.ndarray
    """bool per seat."""
    exploring: np.ndarray
    """bool per seat."""


def split_counts(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders), each at least ``minimum``."""
    if total < minimum * len(weights):
        raise ValueError(f"cannot give {len(weights)} groups at least {minimum} of {total}")
    w = np.asarray(weights, dtype=np.float64)
    exact = total * w / w.sum()
    counts = np.maximum(np.floor(exact).astype(np.int64), minimum)
    while counts.sum() > total:  # minimums taken from the groups furthest above their share
        over = np.where(counts > minimum, counts - exact, -np.inf)
        counts[int(np.argmax(over))] -= 1
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - int(counts.sum())]] += 1
    return [int(c) for c in counts]


class StreamLayout:
    """For each learner, which (env, seat) pairs its memory stores and in which stream.

    Streams are numbered per learner in (env, seat) order, so with the same agents in every env
    the stream of (env, seat) is ``env * width + k`` for the ``k``-th stored seat.
    """

    def __init__(self, num_envs: int, num_seats: int) -> None:
        self.learners: list[Learner] = []
        self.num_streams: list[int] = []
        #: routes[env][seat]: (learner slot, stream) pairs that store that seat's transitions
        self.routes: list[list[list[tuple[int, int]]]] = [[[] for _ in range(num_seats)] for _ in range(num_envs)]

    def add(self, learner: Learner, pairs: Sequence[tuple[int, int]]) -> None:
        """Give ``learner`` one stream per (env, seat) pair, numbered in the order given."""
        slot = len(self.learners)
        self.learners.append(learner)
        self.num_streams.append(len(pairs))
        for stream, (env, seat) in enumerate(pairs):
            self.routes[env][seat].append((slot, stream))

    def streams_of(self, learner: Learner) -> int:
        """Number of streams ``learner`` stores (its memory has one sub-buffer per stream)."""
        return self.num_streams[next(i for i, known in enumerate(self.learners) if known is learner)]


class SeatRotation(ABC):
    """Changes who sits in a plan's seats between episodes (a league's opponent sampling).

    The rollout engine calls :meth:`episode_ended` for every game that ends, before the env's next
    game is acted on, so the rotation can seat other agents there (:meth:`SeatPlan.seat`). Memory
    streams are laid out once per run, per (env, seat): whoever a rotation seats in a seat that has
    routes, its transitions go where that seat's routes say.
    """

    @abstractmethod
    def begin(self, plan: SeatPlan) -> None:
        """A run starts on ``plan`` from fresh envs: seat every env's first game."""

    @abstractmethod
    def episode_ended(self, plan: SeatPlan, episode: Episode) -> None:
        """``episode`` ended in env ``episode.env_id``; seat that env's next game."""

    def round_ended(self) -> None:  # noqa: B027 (optional hook)
        """A test round on the plan has ended (the trainer calls it after every test round)."""


class SeatPlan:
    """Per (env, seat): the agent, whether it explores while collecting, where it is stored.

    ``rotation``: when set, it reseats envs between episodes (see :class:`SeatRotation`); the
    agents it seats are added to :attr:`agents` with :meth:`add_agent`.
    """

    def __init__(self, seatings: Sequence[Seating], env_counts: Sequence[int], grouped: bool = False) -> None:
        #: the caller gave env groups: results are reported per group as well as together
        self.grouped = grouped
        unique: dict[int, Agent] = {}
        for seating in seatings:
            for agent in seating.agents:
                unique.setdefault(id(agent), agent)
        #: distinct agents; the engine makes one batched act call per agent per tick
        self.agents: list[Agent] = list(unique.values())
        index = {key: i for i, key in enumerate(unique)}
        self.group_names = [s.name for s in seatings]
        self.group_weights = [s.weight for s in seatings]
        groups: list[int] = []
        rows_agent: list[list[int]] = []
        rows_explore: list[np.ndarray] = []
        rows_learning: list[np.ndarray] = []
        for g, (seating, count) in enumerate(zip(seatings, env_counts)):
            groups += [g] * count
            rows_agent += [[index[id(a)] for a in seating.agents] for _ in range(count)]  # one row per env
            rows_explore += [seating.exploring] * count
            rows_learning += [seating.learning] * count
        self.num_envs = len(groups)
        self.num_seats = len(seatings[0].agents)
        #: group index of each env
        self.group_of_env = np.array(groups, dtype=np.int64)
        #: agent_of[env][seat]: index into ``agents`` (plain lists: read per row in the hot loop)
        self.agent_of: list[list[int]] = rows_agent
        self.explore_ES = np.array(rows_explore, dtype=bool).reshape(self.num_envs, self.num_seats)
        self.learning_ES = np.array(rows_learning, dtype=bool).reshape(self.num_envs, self.num_seats)
        self.streams = StreamLayout(self.num_envs, self.num_seats)
        #: agents the seatings gave (the first ``num_given`` of :attr:`agents`); a rotation adds others
        self.num_given = len(self.agents)
        self.rotation: SeatRotation | None = None

    def add_agent(self, agent: Agent) -> int:
        """Index of ``agent`` in :attr:`agents`, appended if it is not there yet."""
        for k, known in enumerate(self.agents):
            if known is agent:
                return k
        self.agents.append(agent)
        return len(self.agents) - 1

    def seat(self, env: int, seat: int, agent: Agent) -> None:
        """Seat ``agent`` at ``seat`` of ``env`` from the env's next decision on."""
        self.agent_of[env][seat] = self.add_agent(agent)

    def keep_agents(self, keep: Sequence[Agent]) -> None:
        """Drop the added agents not in ``keep`` that no env seats (indices are renumbered)."""
        seated = {k for row in self.agent_of for k in row}
        wanted = {id(a) for a in keep}
        kept = [k for k, a in enumerate(self.agents) if k < self.num_given or k in seated or id(a) in wanted]
        if len(kept) == len(self.agents):
            return
        renumber = {old: new for new, old in enumerate(kept)}
        self.agents = [self.agents[k] for k in kept]
        self.agent_of = [[renumber[k] for k in row] for row in self.agent_of]

    def route(self, shared_memory: bool, fits: Callable[[Learner, int], bool]) -> list[Learner]:
        """Lay out the memory streams; returns the learners that have a learning (env, seat).

        A learner stores the (env, seat) pairs where it learns; with ``shared_memory`` also those
        where it plays without learning and, if it is off-policy, every other seat it ``fits``.
        The caller has checked that every learning seat holds a :class:`Learner`.
        """
        learners: dict[int, Learner] = {}
        for env, seat in zip(*np.nonzero(self.learning_ES)):
            agent = self.agent(int(env), int(seat))
            if isinstance(agent, Learner):
                learners.setdefault(id(agent), agent)
        for learner in learners.values():
            fitting = [fits(learner, seat) for seat in range(self.num_seats)]
            pairs = []
            for env in range(self.num_envs):
                for seat in range(self.num_seats):
                    own = self.agent(env, seat) is learner
                    if (own and self.learning_ES[env, seat]) or (
                        shared_memory and (own or not learner.on_policy) and fitting[seat]
                    ):
                        pairs.append((env, seat))
            self.streams.add(learner, pairs)
        return list(learners.values())

    def agent(self, env: int, seat: int) -> Agent:
        return self.agents[self.agent_of[env][seat]]

    def rows(self, envs: range) -> PlanRows:
        """The seating of envs ``envs`` without the agents (what a rollout worker is sent)."""
        return PlanRows(
            [list(row) for row in self.agent_of[envs.start : envs.stop]],
            self.explore_ES[envs.start : envs.stop].copy(),
            [[list(routes) for routes in row] for row in self.streams.routes[envs.start : envs.stop]],
        )

    def envs_of_group(self, group: int) -> np.ndarray:
        return np.flatnonzero(self.group_of_env == group)


@dataclass(frozen=True)
class PlanRows:
    """A block of a :class:`SeatPlan`'s envs without its agents: who sits where by index, who explores and the
    memory routes (row ``i`` is the block's ``i``-th env). A rollout worker seats its copies of the agents by it."""

    agent_of: list[list[int]]
    explore_ES: np.ndarray
    routes: list[list[list[tuple[int, int]]]]

    def plan(self, agents: Sequence[Agent]) -> SeatPlan:
        """The plan of this block with ``agents`` (indexed as the original plan's) in the seats.

        No learner is attached to its memory routes: an engine run on it collects the transitions the
        original plan stores (:meth:`~rbtrainer.rollout.RolloutEngine.collect`), it does not store them."""
        num_envs, num_seats = self.explore_ES.shape
        if not num_envs:
            raise ValueError("a block of a plan holds at least one env")
        no = np.zeros(num_seats, dtype=bool)
        plan = SeatPlan([Seating("block", tuple(agents[k] for k in self.agent_of[0]), 1.0, no, no)], [num_envs])
        plan.agents = list(agents)
        plan.num_given = len(plan.agents)
        plan.agent_of = [list(row) for row in self.agent_of]
        plan.explore_ES = self.explore_ES.copy()
        plan.learning_ES = np.array([[bool(r) for r in row] for row in self.routes], dtype=bool).reshape(
            num_envs, num_seats
        )
        plan.streams.routes = [[list(r) for r in row] for row in self.routes]
        return plan
