"""Who sits where, checked: agents, masks and env groups given to ``train()`` / ``test()`` / ``play()``
turned into :class:`~rbtrainer.seating.Seating` objects and training plans, with errors that name
the argument and the fix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from rbtrainer.agents.base import Agent, Learner
from rbtrainer.league import League
from rbtrainer.seating import EnvGroup, Seating, SeatPlan, split_counts
from rbtrainer.validation import number_in

if TYPE_CHECKING:
    from rbtrainer.envs import GameInfo

__all__ = ["SeatChecker", "as_mask", "enough_envs", "plan_of"]


def as_mask(name: str, mask: Any, num_seats: int) -> np.ndarray:
    """``mask`` as a bool array of one entry per seat, or a clear error naming ``name``."""
    if isinstance(mask, (str, bytes, Mapping)) or not isinstance(mask, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a list of {num_seats} booleans (one per seat), got {mask!r}")
    values = list(mask)
    if len(values) != num_seats:
        raise ValueError(f"{name} has {len(values)} entries but the game has {num_seats} seats")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, np.integer)) and v in (0, 1)):
            out.append(bool(v))
        else:
            raise TypeError(f"{name}[{i}] must be a bool (or 0/1), got {v!r}")
    return np.array(out, dtype=bool)


def enough_envs(groups: int, pools: Sequence[tuple[str, int]]) -> None:
    """Every pool (``(setting name, envs)``) has an env for each of ``groups`` env groups."""
    for pool, envs in pools:
        if groups > envs:
            raise ValueError(f"{groups} env groups need at least as many envs, but {pool}={envs}")


def plan_of(seatings: list[Seating], num_envs: int, grouped: bool) -> SeatPlan:
    """The seatings shared out over ``num_envs`` envs by weight (at least one env each)."""
    return SeatPlan(seatings, split_counts(num_envs, [s.weight for s in seatings], minimum=1), grouped)


class SeatChecker:
    """The checks of one game's seats."""

    def __init__(self, game: GameInfo) -> None:
        self.game = game
        self.num_seats = len(game.seats)

    def check_agents(self, agents: Any, where: str = "agents") -> tuple[Agent, ...]:
        if isinstance(agents, (Agent, str, bytes, Mapping)) or not isinstance(agents, Sequence):
            raise TypeError(
                f"{where} must be a list with one Agent per seat ({self.num_seats} seats) or a list of EnvGroup"
            )
        agents = list(agents)
        if len(agents) != self.num_seats:
            raise ValueError(
                f"{where} has {len(agents)} entries but the game has {self.num_seats} seats {list(self.game.seats)}"
            )
        for i, agent in enumerate(agents):
            if not isinstance(agent, Agent):
                raise TypeError(
                    f"{where}[{i}] must be an rbtrainer Agent (e.g. dqn_agent(...), RandomAgent()), got {agent!r}"
                )
            self.check_seat(agent, i, f"{where}[{i}]")
        return tuple(agents)

    def check_seat(self, agent: Agent, seat: int, where: str) -> None:
        """The agent's own ``check_spaces`` for a seat, its error naming ``where`` and the seat."""
        try:
            agent.check_spaces(self.game.observation_spaces[seat], self.game.action_spaces[seat])
        except (TypeError, ValueError) as err:
            raise type(err)(f"{where} cannot play seat {self.game.seats[seat]!r}: {err}") from None

    def fits(self, learner: Learner, seat: int) -> bool:
        """Whether ``learner`` can store the transitions of ``seat`` (shared memory)."""
        try:
            learner.check_spaces(self.game.observation_spaces[seat], self.game.action_spaces[seat])
        except (TypeError, ValueError):
            return False
        return True

    def seatings(
        self,
        agents: Any,
        learning: np.ndarray | None = None,
        exploring: np.ndarray | None = None,
        *,
        pools: Sequence[tuple[str, int]] = (),
    ) -> tuple[list[Seating], bool]:
        """Checked seatings and whether the caller gave groups; ``pools``: (name, envs) each group needs one of."""
        if isinstance(agents, League):
            raise TypeError(
                "a League is for train(); to test its learner, seat league.learner and its opponents in a list "
                "(or play a tournament of them)"
            )
        no_masks = np.zeros(self.num_seats, dtype=bool)
        learning = no_masks if learning is None else learning  # test(): nobody learns or explores
        exploring = no_masks if exploring is None else exploring
        given = list(agents) if isinstance(agents, Sequence) and not isinstance(agents, (str, bytes)) else None
        if not given or not any(isinstance(g, EnvGroup) for g in given):
            return [Seating("all", self.check_agents(agents), 1.0, learning, exploring)], False
        if not all(isinstance(g, EnvGroup) for g in given):
            raise TypeError(
                "agents mixes EnvGroup objects with other entries; give one Agent per seat or only EnvGroups"
            )
        seatings: list[Seating] = []
        for k, group in enumerate(given):
            if not isinstance(group.name, str) or not group.name:
                raise TypeError(f"agents[{k}]: EnvGroup name must be a non-empty string, got {group.name!r}")
            where = f"EnvGroup {group.name!r}"
            if any(s.name == group.name for s in seatings):
                raise ValueError(f"{where} appears twice; give each EnvGroup its own name")
            seatings.append(
                Seating(
                    group.name,
                    self.check_agents(group.agents, where=f"{where} agents"),
                    number_in(f"{where} weight", group.weight, 0.0, 1e9, low_open=True),
                    self._own_mask(group.learning_mask, learning, f"{where} learning_mask"),
                    self._own_mask(group.exploration_mask, exploring, f"{where} exploration_mask"),
                )
            )
        enough_envs(len(seatings), pools)
        return seatings, True

    def _own_mask(self, mask: Sequence[bool] | None, default: np.ndarray, name: str) -> np.ndarray:
        """A group's own mask, or ``default`` (the one given to train()) when it has none."""
        return default if mask is None else as_mask(name, mask, self.num_seats)

    def learning_plan(
        self, seatings: list[Seating], grouped: bool, num_envs: int, shared_memory: bool
    ) -> tuple[SeatPlan, list[Learner]]:
        """The training plan and its learners, each seat's transitions routed to its learners' memories."""
        for seating in seatings:
            prefix = f"EnvGroup {seating.name!r}: " if grouped else ""
            for i, agent in enumerate(seating.agents):
                if seating.learning[i] and not isinstance(agent, Learner):
                    raise ValueError(
                        f"{prefix}learning_mask[{i}] is True but agents[{i}] ({agent!r}) is a fixed policy that "
                        "cannot learn"
                    )
        if not any(s.learning.any() for s in seatings):
            raise ValueError("learning_mask has no learning seat; set it True for at least one seat with a learner")
        plan = plan_of(seatings, num_envs, grouped)
        learners = plan.route(shared_memory, self.fits)
        return plan, learners

    @staticmethod
    def check_test_episodes(seatings: list[Seating], episodes_per_test: int) -> None:
        if len(seatings) > episodes_per_test:
            raise ValueError(
                f"{len(seatings)} env groups need at least one test episode each, "
                f"but episodes_per_test={episodes_per_test}"
            )
