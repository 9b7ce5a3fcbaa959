"""The one rollout engine, used by both ``train()`` and ``test()``.

Each *tick* the engine asks every active env which seats must act, groups those rows by the
agent that the :class:`~rbtrainer.seating.SeatPlan` seats there and makes one batched ``act``
call per agent (an agent filling several seats or envs, as in self-play, gets all its rows in one
call), then steps every active env once and absorbs the reports. Envs reset themselves when a
game ends (see :mod:`rbtrainer.envs.adapters`), so no env waits for another.

Transitions are built per (env, seat) stream: a seat's transition opens at its decision (``obs``,
``mask``, ``act``), collects every reward that seat receives until its next decision or the end
of the episode (including rewards caused by other seats' moves), and closes with that seat's own
next observation as ``obs_next`` and the episode's terminated/truncated flags. Closed transitions
go to the learners the plan's :class:`~rbtrainer.seating.StreamLayout` routes the seat to.

On a batch-native pool (:class:`~rbtrainer.envs.BatchGamePool`) the engine runs the same ticks
with arrays: each tick's acting seats, observations and masks come as one array each, an agent's
rows are picked by a comparison over the tick's games, rewards and endings come back as arrays
and open transitions live in (env, seat) slots. Rows, ``act`` calls, transitions and episodes are
those of the per-game path, in the same order within each (env, seat) stream.

Non-finite values: with ``check_finite`` (the default) every reward and observation a game reports
(at a reset and after every step, on both paths) is checked right where the engine takes it from the
pool, before it is acted on or stored. A NaN or infinite value closes the pool and raises
:class:`~rbtrainer.envs.GameError` naming the game, the env, the seat and the step of that env's game,
so no learner's memory ever holds one (and a test round blames the game, not the reward metric).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, NoReturn, Protocol, cast

import numpy as np

from rbtrainer.envs import Decision, Episode, GameError, GamePool, Pool, StepReport
from rbtrainer.envs.adapters import ReplayPoint
from rbtrainer.envs.batch_pool import BatchGamePool, BatchStep
from rbtrainer.seating import SeatPlan

__all__ = ["Engine", "RolloutEngine", "RolloutResult", "Transitions", "store_transitions"]


@dataclass
class RolloutResult:
    """What one :meth:`RolloutEngine.run` collected."""

    steps: int = 0
    """Env steps taken."""
    episodes: list[Episode] = field(default_factory=list)
    """Games that ended, in the order they ended."""
    illegal_E: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Actions outside the action mask, per env."""
    ticks: list[int] = field(default_factory=list)
    """The tick of the run in which each of :attr:`episodes` ended (0: the first)."""

    @property
    def illegal_actions(self) -> int:
        return int(self.illegal_E.sum())


class _Open:
    """A transition waiting for its seat's next decision or the end of its episode."""

    __slots__ = ("act", "mask", "obs", "rew")

    def __init__(self, obs: np.ndarray, mask: np.ndarray, act: int) -> None:
        self.obs = obs
        self.mask = mask
        self.act = act
        self.rew = 0.0


@dataclass(slots=True)
class _Closed:
    """A finished transition of one (env, seat), waiting to be stored."""

    env_id: int
    seat: int
    opened: _Open
    obs_next: np.ndarray
    mask_next: np.ndarray
    terminated: bool
    truncated: bool
    tick: int = 0
    """The tick of the run that closed it."""
    group: int = 0
    """Within its tick: 0 for the transitions its game's end closed or a per-game step closed, 1 for those the
    next decisions of a batch step closed (the order in which the engine closes them)."""


class _OpenArrays:
    """The open transitions of a batch-native pool: one slot per (env, seat)."""

    __slots__ = ("act", "flag", "mask", "obs", "rew")

    def __init__(self, num_envs: int, num_seats: int, obs_shape: tuple[int, ...], num_actions: int) -> None:
        self.flag = np.zeros((num_envs, num_seats), dtype=bool)
        self.obs = np.zeros((num_envs, num_seats, *obs_shape), dtype=np.float32)
        self.mask = np.zeros((num_envs, num_seats, num_actions), dtype=np.int8)
        self.act = np.zeros((num_envs, num_seats), dtype=np.int64)
        self.rew = np.zeros((num_envs, num_seats))

    def open(self, envs: np.ndarray, seats: np.ndarray, obs: np.ndarray, mask: np.ndarray, act: np.ndarray) -> None:
        self.flag[envs, seats] = True
        self.obs[envs, seats] = obs
        self.mask[envs, seats] = mask
        self.act[envs, seats] = act
        self.rew[envs, seats] = 0.0

    def close(
        self,
        envs: np.ndarray,
        seats: np.ndarray,
        obs_next: np.ndarray,
        mask_next: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        closed: list[_Closed],
        tick: int,
        group: int,
    ) -> None:
        """Close the slots ``(envs[i], seats[i])`` with these next views and flags, appending to ``closed``."""
        obs, mask = self.obs[envs, seats], self.mask[envs, seats]
        acts, rews = self.act[envs, seats].tolist(), self.rew[envs, seats].tolist()
        for i, (env_id, seat) in enumerate(zip(envs.tolist(), seats.tolist())):
            opened = _Open(obs[i], mask[i], acts[i])
            opened.rew = rews[i]
            ended = bool(terminated[i]), bool(truncated[i])
            closed.append(_Closed(env_id, seat, opened, obs_next[i], mask_next[i], *ended, tick, group))
        self.flag[envs, seats] = False

    def entries(self, env_id: int) -> list[dict[str, Any]]:
        """The open transitions of ``env_id`` in the training-state layout."""
        return [
            {
                "seat": seat,
                "obs": self.obs[env_id, seat].copy(),
                "mask": self.mask[env_id, seat].copy(),
                "act": int(self.act[env_id, seat]),
                "rew": float(self.rew[env_id, seat]),
            }
            for seat in np.flatnonzero(self.flag[env_id]).tolist()
        ]


class _AgentRows:
    """The seats one agent must act for this tick, column by column (one entry per row)."""

    __slots__ = ("env_ids", "masks", "obs", "positions", "seats")

    def __init__(self) -> None:
        self.positions: list[int] = []
        """Position of the row's env among the tick's active envs."""
        self.env_ids: list[int] = []
        self.seats: list[int] = []
        self.obs: list[np.ndarray] = []
        self.masks: list[np.ndarray] = []


def _checked_actions(
    agent: Any, returned: Any, num_actions: int, seats: Sequence[int] | np.ndarray, env_ids: Sequence[int] | np.ndarray
) -> np.ndarray:
    """What ``agent.act`` returned, checked: one int action in ``0..num_actions-1`` per row."""
    act_B = np.asarray(returned)
    n = len(seats)
    if (
        act_B.shape == (n,)
        and act_B.dtype.kind in "iu"
        and (n == 0 or (act_B.min() >= 0 and act_B.max() < num_actions))
    ):
        return act_B  # the usual case: no message is built
    where = f"agent {getattr(agent, 'name', type(agent).__name__)!r}: act"
    if act_B.shape != (n,):
        raise ValueError(f"{where} must return one action per row, shape ({n},); got shape {act_B.shape}: {returned!r}")
    if act_B.dtype.kind not in "iu":
        raise TypeError(f"{where} must return integer actions, got dtype {act_B.dtype}: {returned!r}")
    row = int(np.flatnonzero((act_B < 0) | (act_B >= num_actions))[0])
    raise ValueError(
        f"{where} returned action {act_B[row]} for seat {seats[row]} of env {env_ids[row]}; "
        f"actions are 0..{num_actions - 1}"
    )


def _sum_is_finite(values: np.ndarray) -> bool:
    """The quick test of the non-finite check: one reduction instead of an element-wise test. A sum of finite
    entries that overflows is not finite either; the rows are then searched and nothing is refused."""
    return math.isfinite(float(values.sum()))


def _first_non_finite(values: np.ndarray) -> tuple[int, ...] | None:
    """The index of the first NaN or infinite entry of ``values`` (``None`` when all are finite)."""
    bad = np.argwhere(~np.isfinite(values))
    return None if len(bad) == 0 else tuple(int(i) for i in bad[0])


def _check_views(
    pool: Pool,
    env_ids: Sequence[int] | np.ndarray,
    seats: Sequence[int] | np.ndarray,
    obs: Sequence[np.ndarray] | np.ndarray,
) -> None:
    """Refuse the first of these observations (what seat ``seats[i]`` of env ``env_ids[i]`` sees now) that
    holds NaN or inf."""
    for env_id, seat, view in zip(env_ids, seats, obs):
        if not _sum_is_finite(view) and _first_non_finite(view) is not None:
            _refuse(pool, int(env_id), int(seat), observation=view)


def _check_reports(pool: Pool, env_ids: Sequence[int], reports: Sequence[StepReport]) -> None:
    """Refuse the first report (in env order) with a NaN or infinite reward or final view of a seat.

    The observations of the seats to act next are checked where they are acted on (or stored)."""
    finals = [c.obs for r in reports for c in r.closed]
    if _sum_is_finite(np.concatenate([r.rewards for r in reports])) and all(_sum_is_finite(o) for o in finals):
        return
    for env_id, report in zip(env_ids, reports):
        ended = None if report.episode is None else report.episode.length
        hit = _first_non_finite(report.rewards)
        if hit is not None:
            _refuse(pool, env_id, hit[0], reward=float(report.rewards[hit]), ended=ended)
        for closed in report.closed:
            if _first_non_finite(closed.obs) is not None:
                _refuse(pool, env_id, closed.seat, observation=closed.obs, ended=ended)


def _check_batch_step(pool: BatchGamePool, active: np.ndarray, step: BatchStep) -> None:
    """:func:`_check_reports` on a batch step: its rewards and the final views of the games it ended."""
    if _sum_is_finite(step.rewards) and (not step.episodes or _sum_is_finite(step.final_obs)):
        return
    lengths = {episode.env_id: episode.length for episode in step.episodes}
    hit = _first_non_finite(step.rewards)
    if hit is not None:
        env_id = int(active[hit[0]])
        _refuse(pool, env_id, hit[1], reward=float(step.rewards[hit]), ended=lengths.get(env_id))
    hit = _first_non_finite(step.final_obs)
    if hit is not None:
        env_id = int(active[step.ended][hit[0]])
        _refuse(pool, env_id, hit[1], observation=step.final_obs[hit[0], hit[1]], ended=lengths[env_id])


def _refuse(
    pool: Pool,
    env_id: int,
    seat: int,
    *,
    reward: float | None = None,
    observation: np.ndarray | None = None,
    ended: int | None = None,
) -> NoReturn:
    """Close the pool and raise GameError for a NaN or infinite ``reward`` or ``observation`` of ``seat``.

    ``ended``: the length of the game the value belongs to when the step ended it (the env has
    already started its next game); otherwise the value belongs to the env's current game, as it
    stands (a reward: of the step just taken; an observation: what the seat sees now).
    """
    name, seats = pool.game_names()
    point = pool.replay_points()[env_id]
    operation = "step"
    if point is None:
        when = "in a game started without a seed"
    else:
        game, step = (point.game - 1, ended) if ended is not None else (point.game, len(point.actions))
        if reward is not None:
            when = f"at step {step} of its game {game}"
        elif step == 0:
            when, operation = f"at the start of its game {game}", "reset"
        else:
            when = f"after step {step} of its game {game}"
        when += f" (start seed {point.seed})"
    if reward is not None:
        what = f"reward {reward}"
    else:
        values = np.asarray(observation)
        what = f"an observation holding {values[_first_non_finite(values)]}"
    seat_name = seats[seat] if 0 <= seat < len(seats) else f"#{seat}"
    pool.close()
    raise GameError(
        f"env {env_id} of game {name!r}, seat {seat_name!r} (seat {seat}): the game reported {what} {when}; "
        "rewards and observations must be finite numbers, since NaN or inf would poison the learners' memories "
        "and weights (nothing of it was stored; the env pool has been closed). Fix the game",
        env_ids=[env_id],
        operation=operation,
        error_type="non-finite value",
        error_message=what,
        worker_traceback="",
    )


class Engine(Protocol):
    """What runs a plan's games: a :class:`RolloutEngine` over a pool in this process, or
    :class:`~rbtrainer.rollout_workers.WorkerEngine` over rollout workers. The trainer and the
    training loop use nothing else of them."""

    num_envs: int
    check_finite: bool

    @property
    def closed(self) -> bool: ...

    def close(self) -> None: ...

    def start(self, seeds: Sequence[int]) -> None: ...

    def run(
        self,
        plan: SeatPlan,
        *,
        max_steps: int | None = None,
        episodes_per_env: Sequence[int] | None = None,
        explore: bool = False,
        store: bool = False,
        before_store: Callable[[], object] | None = None,
    ) -> RolloutResult: ...

    def state(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...


class RolloutEngine:
    """Steps a :class:`~rbtrainer.envs.Pool` with a :class:`~rbtrainer.seating.SeatPlan`.

    ``check_finite``: refuse NaN or infinite rewards and observations from the games (see the module
    docstring); False skips the check.
    """

    def __init__(self, pool: Pool, num_seats: int, check_finite: bool = True) -> None:
        self.pool: Pool = pool
        self.num_envs = pool.num_envs
        self.num_seats = num_seats
        self.check_finite = check_finite
        """Refuse NaN or infinite rewards and observations from the games with a GameError."""
        self._decisions: list[Decision] = []
        self._open: list[dict[int, _Open]] = []
        #: a batch-native pool: each tick's decisions and results travel as arrays (see _run_batch)
        self._batch: BatchGamePool | None = pool if isinstance(pool, BatchGamePool) else None
        self._open_arrays: _OpenArrays | None = None
        self.on_tick: Callable[[], object] | None = None
        """Called after every tick of a run (a rollout worker's watchdog counts them)."""

    @property
    def closed(self) -> bool:
        """The pool was closed (after a game failed in it, or by :meth:`close`): build a new engine."""
        return self.pool.closed

    def close(self) -> None:
        """Close the pool (its worker processes for ``subproc`` / ``ray``)."""
        self.pool.close()

    def start(self, seeds: Sequence[int]) -> None:
        """Reset every env with its own seed and forget all open transitions."""
        if len(seeds) != self.num_envs:
            raise ValueError(f"start() needs one seed per env ({self.num_envs}), got {len(seeds)}")
        self._decisions = [self.pool.reset(env_id, seed=int(seed)) for env_id, seed in enumerate(seeds)]
        self._forget_open()

    def _forget_open(self) -> None:
        self._open = [{} for _ in range(self.num_envs)]
        if self._batch is not None:
            first = self._decisions[0]
            obs_shape = np.shape(first.obs[0])
            self._open_arrays = _OpenArrays(self.num_envs, self.num_seats, obs_shape, len(first.masks[0]))

    def _current_decisions(self) -> list[Decision]:
        if self._batch is not None:  # the batch pool keeps every game's next decision itself
            return [self._batch.decision(env_id) for env_id in range(self.num_envs)]
        return self._decisions

    def _open_entries(self, env_id: int) -> list[dict[str, Any]]:
        if self._open_arrays is not None:
            return self._open_arrays.entries(env_id)
        return [
            {"seat": seat, "obs": o.obs, "mask": o.mask, "act": o.act, "rew": o.rew}
            for seat, o in self._open[env_id].items()
        ]

    def state(self) -> dict[str, Any]:
        """Where every env stands and the transitions still open: plain data and NumPy arrays.

        Only between two :meth:`run` calls; :meth:`restore` puts a fresh engine on the same pool
        layout back there, so a run continues exactly as if it had not stopped.
        """
        if not self._decisions:
            raise RuntimeError("call start() before state()")
        points = self.pool.replay_points()
        if any(p is None for p in points):
            raise RuntimeError("an env was reset without a seed; its position cannot be saved")
        return {
            "envs": [
                {
                    "seed": p.seed,
                    "game": p.game,
                    "actions": np.array(p.actions, dtype=np.int64).reshape(len(p.actions), self.num_seats),
                    "next_obs": np.stack(decision.obs),
                }
                for p, decision in zip(points, self._current_decisions())
                if p is not None
            ],
            "open": [self._open_entries(env_id) for env_id in range(self.num_envs)],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Put every env back where :meth:`state` found it (replaying each env's current game).

        Raises ``ValueError`` if the state is for another number of envs or seats, and
        ``RuntimeError`` if an env does not replay to the same observation (a game that is not
        deterministic given its seed and actions).
        """
        envs, opened = state["envs"], state["open"]
        if len(envs) != self.num_envs or len(opened) != self.num_envs:
            raise ValueError(f"the saved state holds {len(envs)} envs but the pool has {self.num_envs}")
        decisions: list[Decision] = []
        for env_id, env in enumerate(envs):
            actions = np.asarray(env["actions"], dtype=np.int64)
            if actions.ndim != 2 or actions.shape[1] != self.num_seats:
                raise ValueError(
                    f"env {env_id}: saved actions of shape {actions.shape}, the game has {self.num_seats} seats"
                )
            point = ReplayPoint(int(env["seed"]), int(env["game"]), tuple(tuple(row) for row in actions.tolist()))
            decision = self.pool.restore(env_id, point)
            if not np.array_equal(np.stack(decision.obs), np.asarray(env["next_obs"])):
                raise RuntimeError(
                    f"env {env_id} did not replay to the saved position; resuming needs a game that is deterministic "
                    "given its seed and actions"
                )
            decisions.append(decision)
        self._decisions = decisions
        self._forget_open()
        for env_id, waiting in enumerate(opened):
            for item in waiting:
                entry = _Open(np.asarray(item["obs"]), np.asarray(item["mask"]), int(item["act"]))
                entry.rew = float(item["rew"])
                if self._open_arrays is not None:
                    env, seat = np.array([env_id]), np.array([int(item["seat"])])
                    self._open_arrays.open(env, seat, entry.obs[None], entry.mask[None], np.array([entry.act]))
                    self._open_arrays.rew[env_id, seat] = entry.rew
                else:
                    self._open[env_id][int(item["seat"])] = entry

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
        """Collect until ``max_steps`` env steps, or until each env finished its episode quota.

        ``explore``: apply the plan's exploration flags (training); otherwise every seat acts
        greedily / takes its mode. ``store``: route closed transitions to learner memories, in one
        insertion per learner when the run ends (nothing learns before ``run()`` returns);
        ``before_store`` is called just before that insertion (when there is one).
        """
        result, closed = self.collect(
            plan, max_steps=max_steps, episodes_per_env=episodes_per_env, explore=explore, store=store
        )
        if closed is not None:
            if before_store is not None:
                before_store()
            store_transitions(plan, closed)
        return result

    def collect(
        self,
        plan: SeatPlan,
        *,
        max_steps: int | None = None,
        episodes_per_env: Sequence[int] | None = None,
        explore: bool = False,
        store: bool = False,
        max_ticks: int | None = None,
    ) -> tuple[RolloutResult, Transitions | None]:
        """:meth:`run` without the insertion: the result and the transitions that closed (``store``:
        those of the (env, seat) pairs that ``plan`` routes to a memory), in the order they closed
        (``None``: none closed). ``max_ticks``: stop after that many ticks as well (a rollout worker
        playing a seat rotation's games tick by tick)."""
        if not self._decisions:
            raise RuntimeError("call start() before run()")
        if plan.num_envs != self.num_envs:
            raise ValueError(f"the plan seats {plan.num_envs} envs but the pool has {self.num_envs}")
        quota = None if episodes_per_env is None else np.array(episodes_per_env, dtype=np.int64)
        if self._batch is not None:
            return self._run_batch(self._batch, plan, max_steps, quota, explore, store, max_ticks)
        result = RolloutResult(illegal_E=np.zeros(self.num_envs, dtype=np.int64))
        finished = np.zeros(self.num_envs, dtype=np.int64)
        closed: list[_Closed] = []
        all_envs = np.arange(self.num_envs)
        tick = 0
        while (max_steps is None or result.steps < max_steps) and (max_ticks is None or tick < max_ticks):
            active = all_envs if quota is None else np.flatnonzero(finished < quota)
            if len(active) == 0:
                break
            active_ids: list[int] = active.tolist()
            actions = self._choose_actions(plan, active_ids, explore, store, result)
            reports = cast(GamePool, self.pool).step(actions, active_ids)
            if self.check_finite:
                _check_reports(self.pool, active_ids, reports)
            for env_id, report in zip(active_ids, reports):
                self._absorb(env_id, report, closed, tick)
                if report.episode is not None:
                    result.episodes.append(report.episode)
                    result.ticks.append(tick)
                    finished[env_id] += 1
                    if plan.rotation is not None:
                        plan.rotation.episode_ended(plan, report.episode)
            result.steps += len(active_ids)
            tick += 1
            if self.on_tick is not None:
                self.on_tick()
        if closed and self.check_finite:  # the views that closed transitions in the last tick were not acted on yet
            for env_id, decision in enumerate(self._decisions):
                _check_views(self.pool, [env_id] * len(decision.seats), decision.seats, decision.obs)
        return result, Transitions.of(closed) if closed else None

    def _run_batch(
        self,
        pool: BatchGamePool,
        plan: SeatPlan,
        max_steps: int | None,
        quota: np.ndarray | None,
        explore: bool,
        store: bool,
        max_ticks: int | None = None,
    ) -> tuple[RolloutResult, Transitions | None]:
        """:meth:`collect` on a batch-native pool: the same ticks, rows, agent calls, transitions and
        episodes as the per-game path, with each tick's games handled as arrays."""
        result = RolloutResult(illegal_E=np.zeros(self.num_envs, dtype=np.int64))
        finished = np.zeros(self.num_envs, dtype=np.int64)
        closed: list[_Closed] = []
        tick = 0
        all_envs = np.arange(self.num_envs)
        agent_ES = np.array(plan.agent_of, dtype=np.int64)
        routed_ES = self._routed(plan) if store else None
        opens = self._open_arrays
        while (max_steps is None or result.steps < max_steps) and (max_ticks is None or tick < max_ticks):
            active = all_envs if quota is None else np.flatnonzero(finished < quota)
            if len(active) == 0:
                break
            seat_G, obs_GD, mask_GA = pool.decisions(active)
            if self.check_finite and not _sum_is_finite(obs_GD):
                _check_views(pool, active, seat_G, obs_GD)
            agent_G = agent_ES[active, seat_G]
            act_G = self._batch_actions(plan, agent_G, active, seat_G, obs_GD, mask_GA, explore, result)
            if routed_ES is not None and opens is not None:
                opening = routed_ES[active, seat_G]
                if opening.any():
                    opens.open(active[opening], seat_G[opening], obs_GD[opening], mask_GA[opening], act_G[opening])
            step = pool.step_batch(active, act_G)
            if self.check_finite:
                _check_batch_step(pool, active, step)
            result.steps += len(active)
            if opens is not None and store:
                self._absorb_batch(pool, opens, active, step, closed, tick)
            for episode in step.episodes:
                result.episodes.append(episode)
                result.ticks.append(tick)
                finished[episode.env_id] += 1
                if plan.rotation is not None:
                    plan.rotation.episode_ended(plan, episode)
                    agent_ES = np.array(plan.agent_of, dtype=np.int64)
                    routed_ES = self._routed(plan) if store else None
            tick += 1
            if self.on_tick is not None:
                self.on_tick()
        if closed and self.check_finite:  # the views that closed transitions in the last tick were not acted on yet
            seat_E, obs_ED, _ = pool.decisions(all_envs)
            if not _sum_is_finite(obs_ED):
                _check_views(pool, all_envs, seat_E, obs_ED)
        return result, Transitions.of(closed) if closed else None

    @staticmethod
    def _routed(plan: SeatPlan) -> np.ndarray:
        """Which (env, seat) transitions go to some learner's memory."""
        return np.array([[bool(r) for r in row] for row in plan.streams.routes], dtype=bool)

    @staticmethod
    def _batch_actions(
        plan: SeatPlan,
        agent_G: np.ndarray,
        active: np.ndarray,
        seat_G: np.ndarray,
        obs_GD: np.ndarray,
        mask_GA: np.ndarray,
        explore: bool,
        result: RolloutResult,
    ) -> np.ndarray:
        """One batched ``act`` call per agent over its rows (in env order, as the per-game path)."""
        act_G = np.empty(len(active), dtype=np.int64)
        num_actions = mask_GA.shape[1]
        for index, agent in enumerate(plan.agents):
            rows = np.flatnonzero(agent_G == index)
            n = len(rows)
            if not n:
                continue
            env_B, seat_B = active[rows], seat_G[rows]
            explore_B = plan.explore_ES[env_B, seat_B] if explore else np.zeros(n, dtype=bool)
            returned = agent.act(obs_GD[rows], mask_GA[rows], explore_B)
            act_G[rows] = _checked_actions(agent, returned, num_actions, seat_B, env_B)
        illegal_G = mask_GA[np.arange(len(active)), act_G] == 0
        if illegal_G.any():
            illegal_G &= mask_GA.any(axis=1)  # a row without a legal action has no illegal one
            np.add.at(result.illegal_E, active[illegal_G], 1)
        return act_G

    @staticmethod
    def _absorb_batch(
        pool: BatchGamePool, opens: _OpenArrays, active: np.ndarray, step: BatchStep, closed: list[_Closed], tick: int
    ) -> None:
        """Add the step's rewards to the open transitions and close those that ended (as :meth:`_absorb`)."""
        if not opens.flag[active].any():
            return
        opens.rew[active] += step.rewards  # slots that are not open are reset when they open
        ended = step.ended
        if ended.any():
            rows = np.flatnonzero(ended)
            game_i, seat_i = np.nonzero(opens.flag[active[rows]])  # every seat's final view closes it
            if len(game_i):
                opens.close(
                    active[rows][game_i],
                    seat_i,
                    step.final_obs[game_i, seat_i],
                    step.final_masks[game_i, seat_i],
                    step.terminated[rows][game_i],
                    step.truncated[rows][game_i],
                    closed,
                    tick,
                    0,
                )
        going = active[~ended]
        seat_next, obs_next, mask_next = pool.decisions(going)
        hit = opens.flag[going, seat_next]  # the seat to act next closes its transition
        if hit.any():
            never = np.zeros(int(hit.sum()), dtype=bool)
            opens.close(going[hit], seat_next[hit], obs_next[hit], mask_next[hit], never, never, closed, tick, 1)

    def _choose_actions(
        self, plan: SeatPlan, active_ids: list[int], explore: bool, store: bool, result: RolloutResult
    ) -> np.ndarray:
        """One batched ``act`` call per agent over the rows it plays; opens transitions to store."""
        rows = [_AgentRows() for _ in plan.agents]
        agent_of = plan.agent_of
        for pos, env_id in enumerate(active_ids):
            decision = self._decisions[env_id]
            seated = agent_of[env_id]
            for seat, obs, mask in zip(decision.seats, decision.obs, decision.masks):
                r = rows[seated[seat]]
                r.positions.append(pos)
                r.env_ids.append(env_id)
                r.seats.append(seat)
                r.obs.append(obs)
                r.masks.append(mask)
        actions = np.full((len(active_ids), self.num_seats), -1, dtype=np.int64)
        routes = plan.streams.routes
        for agent, r in zip(plan.agents, rows):
            n = len(r.seats)
            if not n:
                continue
            seat_B = np.array(r.seats, dtype=np.int64)
            obs_B = np.stack(r.obs)
            if self.check_finite and not _sum_is_finite(obs_B):
                _check_views(self.pool, r.env_ids, r.seats, obs_B)
            mask_BA = np.stack(r.masks)
            explore_B = plan.explore_ES[r.env_ids, seat_B] if explore else np.zeros(n, dtype=bool)
            act_B = _checked_actions(agent, agent.act(obs_B, mask_BA, explore_B), mask_BA.shape[1], r.seats, r.env_ids)
            illegal_B = (mask_BA[np.arange(n), act_B] == 0) & mask_BA.any(axis=1)
            if illegal_B.any():
                np.add.at(result.illegal_E, np.array(r.env_ids)[illegal_B], 1)
            actions[r.positions, seat_B] = act_B
            if store:
                for env_id, seat, obs, mask, act in zip(r.env_ids, r.seats, r.obs, r.masks, act_B.tolist()):
                    if routes[env_id][seat]:
                        self._open[env_id][seat] = _Open(obs, mask, act)
        return actions

    def _absorb(self, env_id: int, report: StepReport, closed: list[_Closed], tick: int) -> None:
        """Add the step's rewards to the env's open transitions and close those that ended."""
        self._decisions[env_id] = report.next
        waiting = self._open[env_id]
        if not waiting:
            return
        rewards = report.rewards
        for seat, opened in waiting.items():
            opened.rew += rewards[seat]
        for end in report.closed:
            opened_or_none = waiting.pop(end.seat, None)
            if opened_or_none is not None:
                closed.append(
                    _Closed(env_id, end.seat, opened_or_none, end.obs, end.mask, end.terminated, end.truncated, tick)
                )
        upcoming = report.next
        for seat, obs, mask in zip(upcoming.seats, upcoming.obs, upcoming.masks):
            opened_or_none = waiting.pop(seat, None)
            if opened_or_none is not None:
                closed.append(_Closed(env_id, seat, opened_or_none, obs, mask, False, False, tick))


@dataclass
class Transitions:
    """Closed transitions as arrays, row ``i`` of seat ``seat[i]`` of env ``env_id[i]``, in the order they closed.

    ``tick`` and ``group`` say when (see :class:`_Closed`): rollout workers send their transitions as one
    :class:`Transitions` each, merged back into the order one engine would have closed them.
    """

    env_id: np.ndarray
    seat: np.ndarray
    obs: np.ndarray
    mask: np.ndarray
    act: np.ndarray
    rew: np.ndarray
    obs_next: np.ndarray
    mask_next: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    tick: np.ndarray
    group: np.ndarray

    def __len__(self) -> int:
        return len(self.env_id)

    @classmethod
    def of(cls, closed: Sequence[_Closed]) -> Transitions:
        return cls(
            env_id=np.array([c.env_id for c in closed], dtype=np.int64),
            seat=np.array([c.seat for c in closed], dtype=np.int64),
            obs=np.stack([c.opened.obs for c in closed]),
            mask=np.stack([c.opened.mask for c in closed]),
            act=np.array([c.opened.act for c in closed], dtype=np.int64),
            rew=np.array([c.opened.rew for c in closed], dtype=np.float64),
            obs_next=np.stack([c.obs_next for c in closed]),
            mask_next=np.stack([c.mask_next for c in closed]),
            terminated=np.array([c.terminated for c in closed], dtype=bool),
            truncated=np.array([c.truncated for c in closed], dtype=bool),
            tick=np.array([c.tick for c in closed], dtype=np.int64),
            group=np.array([c.group for c in closed], dtype=np.int64),
        )

    def rows(self, index: np.ndarray) -> Transitions:
        """These rows, in this order."""
        return Transitions(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @classmethod
    def merged(cls, parts: Sequence[Transitions]) -> Transitions:
        """The parts of contiguous env blocks, in block order, as one engine over all the envs would have
        closed them: by tick, then group, then block, each part keeping its own order."""
        whole = cls(**{f.name: np.concatenate([getattr(part, f.name) for part in parts]) for f in fields(cls)})
        block = np.repeat(np.arange(len(parts)), [len(part) for part in parts])
        order = np.lexsort((block, whole.group, whole.tick))  # stable: rows of a block keep their order
        return whole.rows(order)


def store_transitions(plan: SeatPlan, closed: Transitions) -> None:
    """One memory insertion per learner of ``plan``, rows in the order they closed."""
    layout = plan.streams
    per_learner: list[tuple[list[int], list[int]]] = [([], []) for _ in layout.learners]
    for i, (env_id, seat) in enumerate(zip(closed.env_id.tolist(), closed.seat.tolist())):
        for slot, stream in layout.routes[env_id][seat]:
            rows, streams = per_learner[slot]
            rows.append(i)
            streams.append(stream)
    for learner, (rows, streams) in zip(layout.learners, per_learner):
        if not rows:
            continue
        mine = closed if rows == list(range(len(closed))) else closed.rows(np.array(rows, dtype=np.int64))
        learner.store(
            streams=np.array(streams, dtype=np.int64),
            obs=mine.obs,
            mask=mine.mask,
            act=mine.act,
            rew=mine.rew,
            obs_next=mine.obs_next,
            mask_next=mine.mask_next,
            terminated=mine.terminated,
            truncated=mine.truncated,
        )
