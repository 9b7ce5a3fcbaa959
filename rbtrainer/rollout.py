"""The one rollout engine, used by both ``train()`` and ``test()``.

Each *tick* the engine asks every active env which seats must act, groups those rows by the
agent that fills the seat and makes one batched ``act`` call per agent (an agent filling several
seats, as in self-play, gets all its rows in one call), then steps every env once. Envs reset
themselves when a game ends (see :class:`rbtrainer.envs.SeatEnv`), so no env waits for another.

Transitions are built per (env, seat) stream: a seat's transition opens at its decision (``obs``,
``mask``, ``act``), collects every reward that seat receives until its next decision or the end
of the episode (including rewards caused by other seats' moves), and closes with that seat's own
next observation as ``obs_next`` and the episode's terminated/truncated flags. Closed transitions
are routed to the learners that store the seat (see :class:`SeatPlan`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rbtrainer.agents.base import Agent, Learner

__all__ = ["Episode", "RolloutEngine", "RolloutResult", "SeatPlan"]


@dataclass(frozen=True)
class Episode:
    """A finished game."""

    returns: np.ndarray
    """Sum of rewards per seat."""
    length: int
    """Env steps (AEC: single-seat actions; parallel: joint steps)."""
    winner: str | None
    """Winner as reported by the game (a player or seat name), ``None`` for a draw."""
    time_span: float
    """The game's own clock when it reports one (robot delivery: legal moves), else the length."""
    env_id: int


@dataclass
class SeatPlan:
    """Who plays each seat, who explores, and which learner memories store each seat."""

    agents: list[Agent]
    """Agent of each seat."""
    explore: np.ndarray
    """Per seat: explores while collecting for training."""
    store_to: list[list[tuple[Learner, int]]] = field(default_factory=list)
    """Per seat: (learner, local stream index) pairs that store its transitions."""
    stored_seats: dict[int, list[int]] = field(default_factory=dict)
    """Per learner id: the seats it stores, in stream order."""

    def __post_init__(self) -> None:
        unique: dict[int, Agent] = {}
        for agent in self.agents:
            unique.setdefault(id(agent), agent)
        self.unique_agents: list[Agent] = list(unique.values())
        index = {key: i for i, key in enumerate(unique)}
        self.agent_index = np.array([index[id(a)] for a in self.agents], dtype=np.int64)
        if not self.store_to:
            self.store_to = [[] for _ in self.agents]


@dataclass
class RolloutResult:
    steps: int = 0
    episodes: list[Episode] = field(default_factory=list)
    illegal_actions: int = 0


class _Pending:
    __slots__ = ("act", "mask", "obs", "rew")

    def __init__(self, obs: np.ndarray, mask: np.ndarray, act: int) -> None:
        self.obs = obs
        self.mask = mask
        self.act = act
        self.rew = 0.0


class RolloutEngine:
    """Steps a pool of :class:`~rbtrainer.envs.SeatEnv` envs with a :class:`SeatPlan`."""

    def __init__(self, pool: Any, num_envs: int, num_seats: int) -> None:
        self.pool = pool
        self.num_envs = num_envs
        self.num_seats = num_seats
        self._decisions: list[dict[str, Any]] = []
        self._pending: list[dict[int, _Pending]] = []

    def start(self, seeds: Sequence[int]) -> None:
        """Reset every env with its own seed and forget all open transitions."""
        self._decisions = []
        for env_id, seed in enumerate(seeds):
            _, infos = self.pool.reset(env_id=[env_id], seed=int(seed))
            self._decisions.append(infos[0])
        self._pending = [{} for _ in range(self.num_envs)]

    def run(
        self,
        plan: SeatPlan,
        *,
        max_steps: int | None = None,
        episodes_per_env: Sequence[int] | None = None,
        explore: bool = False,
        store: bool = False,
    ) -> RolloutResult:
        """Collect until ``max_steps`` env steps, or until each env finished its episode quota.

        ``explore``: apply the plan's exploration mask (training); otherwise every seat acts
        greedily / takes its mode. ``store``: route closed transitions to learner memories.
        """
        if not self._decisions:
            raise RuntimeError("call start() before run()")
        result = RolloutResult()
        quota = None if episodes_per_env is None else np.array(episodes_per_env, dtype=np.int64)
        done_count = np.zeros(self.num_envs, dtype=np.int64)
        explore_seat = plan.explore if explore else np.zeros(self.num_seats, dtype=bool)
        num_agents = len(plan.unique_agents)
        # closed transitions, in the order they closed; stored once when the run ends (one memory
        # insertion per learner per run; nothing learns before run() returns)
        emitted: list[tuple[int, int, _Pending, np.ndarray, np.ndarray, bool, bool]] = []
        while True:
            if quota is not None:
                active = np.flatnonzero(done_count < quota)
                if len(active) == 0:
                    break
            else:
                active = np.arange(self.num_envs)
            if max_steps is not None and result.steps >= max_steps:
                break
            # 1. group the rows that must act by agent
            rows: list[list[tuple[int, int, np.ndarray, np.ndarray]]] = [[] for _ in range(num_agents)]
            for pos, active_id in enumerate(active.tolist()):
                decision = self._decisions[active_id]
                for seat, obs, mask in zip(decision["seats"], decision["obs"], decision["mask"]):
                    rows[plan.agent_index[seat]].append((pos, seat, obs, mask))
            actions = np.full((len(active), self.num_seats), -1, dtype=np.int64)
            # 2. one batched call per agent
            for agent_id, agent_rows in enumerate(rows):
                if not agent_rows:
                    continue
                seats = np.array([r[1] for r in agent_rows], dtype=np.int64)
                obs_B = np.stack([r[2] for r in agent_rows])
                mask_B = np.stack([r[3] for r in agent_rows])
                act_B = np.asarray(plan.unique_agents[agent_id].act(obs_B, mask_B, explore_seat[seats]))
                if act_B.shape != (len(agent_rows),):
                    raise ValueError(
                        f"{plan.unique_agents[agent_id]!r}.act returned shape {act_B.shape}, "
                        f"expected ({len(agent_rows)},)"
                    )
                chosen = mask_B[np.arange(len(agent_rows)), act_B]
                result.illegal_actions += int(np.sum((chosen == 0) & mask_B.any(axis=1)))
                positions = np.fromiter((r[0] for r in agent_rows), dtype=np.int64, count=len(agent_rows))
                actions[positions, seats] = act_B
                if store:
                    for (pos, seat, obs, mask), act in zip(agent_rows, act_B.tolist()):
                        if plan.store_to[seat]:
                            self._pending[active[pos]][seat] = _Pending(obs, mask, act)
            # 3. step every active env once
            _, _, _, _, infos = self.pool.step(actions, id=active)
            result.steps += len(active)
            for env_id, info in zip(active.tolist(), infos):
                pending = self._pending[env_id]
                if pending:
                    rew = info["rew"]
                    for seat, p in pending.items():
                        p.rew += rew[seat]
                    for seat, term, trunc, f_obs, f_mask in info["closed"]:
                        closing = pending.pop(seat, None)
                        if closing is not None:
                            emitted.append((env_id, seat, closing, f_obs, f_mask, term, trunc))
                    for seat, obs, mask in zip(info["seats"], info["obs"], info["mask"]):
                        opened = pending.pop(seat, None)
                        if opened is not None:
                            emitted.append((env_id, seat, opened, obs, mask, False, False))
                self._decisions[env_id] = info
                summary = info["episode"]
                if summary is not None:
                    episode = Episode(
                        returns=summary["returns"],
                        length=summary["length"],
                        winner=summary["winner"],
                        time_span=summary["time_span"],
                        env_id=env_id,
                    )
                    result.episodes.append(episode)
                    done_count[env_id] += 1
        if emitted:
            self._store(plan, emitted)
        return result

    def _store(
        self, plan: SeatPlan, emitted: list[tuple[int, int, _Pending, np.ndarray, np.ndarray, bool, bool]]
    ) -> None:
        per_learner: dict[int, tuple[Learner, list[int], list[tuple]]] = {}
        for env_id, seat, p, obs_next, mask_next, term, trunc in emitted:
            for learner, local in plan.store_to[seat]:
                entry = per_learner.setdefault(id(learner), (learner, [], []))
                width = len(plan.stored_seats[id(learner)])
                entry[1].append(env_id * width + local)
                entry[2].append((p, obs_next, mask_next, term, trunc))
        for learner, streams, items in per_learner.values():
            learner.store(
                streams=np.array(streams, dtype=np.int64),
                obs=np.stack([it[0].obs for it in items]),
                mask=np.stack([it[0].mask for it in items]),
                act=np.array([it[0].act for it in items], dtype=np.int64),
                rew=np.array([it[0].rew for it in items], dtype=np.float64),
                obs_next=np.stack([it[1] for it in items]),
                mask_next=np.stack([it[2] for it in items]),
                terminated=np.array([it[3] for it in items], dtype=bool),
                truncated=np.array([it[4] for it in items], dtype=bool),
            )
