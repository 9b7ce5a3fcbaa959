"""Behaviour of the engine that mutation testing found unchecked (docs/development/mutation-testing.md).

Each test pins down what some mutant of the rollout engine (``rbtrainer.rollout``), the seat adapters
(``rbtrainer.envs.adapters``), the batch pool (``rbtrainer.envs.batch_pool``) or the memories
(``rbtrainer.agents.stream_memory``, ``rbtrainer.agents.memory_state``) changed without any earlier
test noticing: the batch path against the per-game path, engine state and restore, failure reports
and non-finite values, observation formats and time-limit endings of the adapters, index walks,
insertion and sampling over partly filled streams, saved memories and StreamDQN's gradient steps.
"""

from __future__ import annotations

import copy
import math
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from conftest import RecordingLearner
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv
from test_stream_memory import _batch, _learner, _TianshouWalks
from tianshou.algorithm import DQN, algorithm_base
from tianshou.algorithm.algorithm_base import TrainingStats
from tianshou.data import ReplayBuffer
from tianshou.utils.torch_utils import policy_within_training_step

from games.robot_delivery import RobotDeliveryEnv
from games.tictactoe import TicTacToeEnv
from rbtrainer.agents import AStarDeliveryAgent, RandomAgent, ScriptedAgent
from rbtrainer.agents.base import Agent
from rbtrainer.agents.memory_state import load_memory_state, memory_nbytes, memory_state
from rbtrainer.agents.stream_memory import StreamPrioritizedReplayBuffer, StreamReplayBuffer, nstep_returns
from rbtrainer.envs import BatchGamePool, GameError, game_factory, make_pool
from rbtrainer.envs.adapters import AECSeatGame, ParallelSeatGame, ReplayPoint, episode_seed, seat_game
from rbtrainer.rollout import RolloutEngine
from rbtrainer.seating import Seating, SeatPlan, SeatRotation

# --------------------------------------------------------------------------------------------
# batch pool: a failing game, restores into later games
# --------------------------------------------------------------------------------------------

ROBOTS = {"robot_colors": ["r", "b"], "required_mail": 1, "max_step": 14}
"""Two robots and short games (a delivery or 14 steps), so games end often."""


class RuleError(Exception):
    """A game's own exception type (not a builtin)."""


class FailingBatchGame:
    """Robot delivery's batch twin that raises ``error`` from ``method`` on its ``at``-th call."""

    def __init__(self, num_games: int, method: str, error: Exception, at: int = 1) -> None:
        self._game = RobotDeliveryEnv(**ROBOTS).batch_rules(num_games)
        self.num_games, self.num_seats = self._game.num_games, self._game.num_seats
        self.method, self.error, self.at, self.calls = method, error, at, 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._game, name)
        if name != self.method:
            return real

        def call(*args: Any) -> Any:
            self.calls += 1
            if self.calls == self.at:
                raise self.error
            return real(*args)

        return call


class RecordingBatchGame:
    """Robot delivery's batch twin that records the seeds each of its games is reset with."""

    def __init__(self, num_games: int) -> None:
        self._game = RobotDeliveryEnv(**ROBOTS).batch_rules(num_games)
        self.seeds: list[list[int | None]] = [[] for _ in range(num_games)]

    def reset(self, games: np.ndarray, seeds: Any) -> None:
        for game, seed in zip(games.tolist(), seeds):
            self.seeds[game].append(seed)
        self._game.reset(games, seeds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._game, name)


def _play(pool: BatchGamePool, steps: int, seed: int = 0) -> list[Any]:
    """Step every game of ``pool`` ``steps`` times with legal random actions; the steps' results."""
    rng, ids, out = np.random.default_rng(seed), np.arange(pool.num_envs), []
    for _ in range(steps):
        _, _, mask = pool.decisions(ids)
        out.append(pool.step_batch(ids, (rng.random(mask.shape) * mask).argmax(axis=1)))
    return out


def test_a_batch_game_raising_during_a_step_closes_the_pool_with_a_game_error_naming_it() -> None:
    pool = BatchGamePool(FailingBatchGame(3, "play", ValueError("no such robot"), at=2))
    for env_id in range(3):
        pool.reset(env_id, seed=env_id)
    _play(pool, 1)
    with pytest.raises(GameError) as caught:
        _play(pool, 1)
    error = caught.value
    assert (
        str(error)
        == "envs [0, 1, 2]: the game raised ValueError during step: no such robot (the env pool has been closed)"
    )
    assert error.env_ids == (0, 1, 2) and error.operation == "step"
    assert error.error_type == "ValueError" and error.error_message == "no such robot"
    assert error.worker_traceback == "" and not error.worker_exited
    assert pool.closed
    with pytest.raises(RuntimeError) as again:
        pool.step_batch(np.arange(3), np.zeros(3, dtype=np.int64))
    assert str(again.value) == (
        "the env pool is closed after a failure (envs [0, 1, 2]: the game raised ValueError during step: "
        "no such robot); build a new pool"
    )


@pytest.mark.parametrize("operation", ["reset", "restore"])
def test_a_batch_game_raising_its_own_error_names_one_env_the_operation_and_the_qualified_type(
    operation: str,
) -> None:
    pool = BatchGamePool(FailingBatchGame(2, "reset", RuleError("bad seed"), at=2))
    pool.reset(0, seed=1)
    with pytest.raises(GameError) as caught:
        if operation == "reset":
            pool.reset(1, seed=2)
        else:
            pool.restore(1, ReplayPoint(2, 0, ()))
    error = caught.value
    qualified = f"{RuleError.__module__}.RuleError"
    assert (
        str(error) == f"env 1: the game raised {qualified} during {operation}: bad seed (the env pool has been closed)"
    )
    assert error.env_ids == (1,) and error.operation == operation
    assert error.error_type == qualified and error.error_message == "bad seed"


def test_a_closed_batch_pool_without_a_failure_says_so_and_names_nothing_else() -> None:
    pool = BatchGamePool(RobotDeliveryEnv(**ROBOTS).batch_rules(2))
    pool.close()
    with pytest.raises(RuntimeError) as caught:
        pool.reset(0, seed=1)
    assert str(caught.value) == "the env pool is closed; build a new pool"


def test_a_batch_pool_without_a_factory_names_the_batch_game_class_and_numbers_the_seats() -> None:
    game = RobotDeliveryEnv(**ROBOTS).batch_rules(2)
    assert BatchGamePool(game).game_names() == (type(game).__name__, ("0", "1"))


def test_a_batch_pool_restored_into_a_later_game_plays_on_exactly_as_the_original() -> None:
    original = make_pool(game_factory(ROBOTS, None), 2, "dummy", batch=True)
    assert isinstance(original, BatchGamePool)
    for env_id in range(2):
        original.reset(env_id, seed=70 + env_id)
    _play(original, 40)
    points = original.replay_points()
    assert all(p is not None and p.game >= 2 and p.actions for p in points)  # a later game, mid-way
    twin = make_pool(game_factory(ROBOTS, None), 2, "dummy", batch=True)
    assert isinstance(twin, BatchGamePool)
    for env_id, point in enumerate(points):
        assert point is not None
        decision, expected = twin.restore(env_id, point), original.decision(env_id)
        assert decision.seats == expected.seats
        np.testing.assert_array_equal(decision.obs[0], expected.obs[0])
    assert twin.replay_points() == points
    for ours, theirs in zip(_play(twin, 40, seed=5), _play(original, 40, seed=5)):  # into the next games too
        np.testing.assert_array_equal(ours.rewards, theirs.rewards)
        np.testing.assert_array_equal(ours.ended, theirs.ended)
        np.testing.assert_array_equal(ours.final_obs, theirs.final_obs)
    assert twin.replay_points() == original.replay_points()


def test_a_batch_pool_refuses_a_replay_that_ends_the_game() -> None:
    pool = make_pool(game_factory(ROBOTS, None), 1, "dummy", batch=True)
    assert isinstance(pool, BatchGamePool)
    pool.reset(0, seed=3)
    stand = (0, -1)  # robot r1 stands, robot b1 waits: 14 single-robot steps reach the limit
    rows = tuple(stand if k % 2 == 0 else (-1, 0) for k in range(ROBOTS["max_step"]))
    with pytest.raises(RuntimeError) as caught:
        pool.restore(0, ReplayPoint(3, 0, rows))
    assert str(caught.value) == (
        "env 0: the game ended while replaying its recorded actions; resuming needs a game that is "
        "deterministic given its seed and actions"
    )


# --------------------------------------------------------------------------------------------
# seat adapters: restores, names, parallel games cut by a time limit
# --------------------------------------------------------------------------------------------


def test_a_seat_game_restored_into_a_later_game_stands_where_the_original_stands() -> None:
    factory = game_factory(ROBOTS, None)
    original, twin = seat_game(factory, 0), seat_game(factory, 0)
    decision = original.reset(seed=11)
    rng = np.random.default_rng(2)
    for _ in range(40):
        actions = np.full(2, -1)
        actions[decision.seats[0]] = int((rng.random(len(decision.masks[0])) * decision.masks[0]).argmax())
        decision = original.step(actions).next
    point = original.replay_point
    assert point is not None and point.game >= 2 and point.actions
    restored = twin.restore(point)
    assert twin.replay_point == point
    assert restored.seats == decision.seats
    np.testing.assert_array_equal(restored.obs[0], decision.obs[0])


def test_a_seat_game_refuses_a_replay_that_ends_the_game() -> None:
    game = seat_game(game_factory(ROBOTS, None), 4)
    rows = tuple((0, -1) if k % 2 == 0 else (-1, 0) for k in range(ROBOTS["max_step"]))
    with pytest.raises(RuntimeError) as caught:
        game.restore(ReplayPoint(3, 0, rows))
    assert str(caught.value) == (
        "env 4: the game ended while replaying its recorded actions; resuming needs a game that is "
        "deterministic given its seed and actions"
    )


class Countdown(ParallelEnv):
    """Two players move at once for ``limit`` joint steps, then the time limit truncates both.

    Each player observes ``[t, seed % 1000]``; its action mask (in ``infos``) forbids action 1 on even
    steps; its reward is its action. Until the end, ``step`` leaves the players out of the
    termination and truncation dicts (a missing flag means the game goes on)."""

    possible_agents: ClassVar[list[str]] = ["left", "right"]

    def __init__(self, limit: int = 3, metadata: Any = None) -> None:
        self.limit = limit
        self.seeds: list[int | None] = []
        if metadata is not None:
            self.metadata = metadata

    def observation_space(self, agent: str) -> spaces.Space:
        return spaces.Box(0.0, 1e9, (2,), np.float32)

    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(3)

    def _views(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        seed = (self.seeds[-1] or 0) % 1000
        obs = {a: np.array([self.t, seed], dtype=np.float32) for a in self.possible_agents}
        mask = np.array([1, self.t % 2, 1], dtype=np.int8)
        return obs, {a: {"action_mask": mask.copy()} for a in self.possible_agents}

    def reset(self, seed: int | None = None, options: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        self.seeds.append(seed)
        self.t = 0
        self.agents = list(self.possible_agents)
        return self._views()

    def step(self, actions: dict[str, int]) -> tuple[Any, ...]:
        self.t += 1
        rewards = {a: float(actions[a]) for a in self.agents}
        terminations: dict[str, bool] = {}
        truncations: dict[str, bool] = {}
        if self.t >= self.limit:
            terminations = dict.fromkeys(self.agents, False)
            truncations = dict.fromkeys(self.agents, True)
            self.agents = []
        obs, infos = self._views()
        return obs, rewards, terminations, truncations, infos


def test_a_parallel_game_cut_by_its_time_limit_closes_every_seat_truncated_with_its_final_view() -> None:
    adapter = seat_game(lambda: Countdown(limit=3), 2)
    assert isinstance(adapter, ParallelSeatGame)
    decision = adapter.reset(seed=5)
    assert decision.seats == [0, 1]
    np.testing.assert_array_equal(decision.obs[1], [0, 5])
    np.testing.assert_array_equal(decision.masks[0], [1, 0, 1])  # the mask the game put in its infos
    for t in (1, 2):
        report = adapter.step(np.array([2, 0]))
        assert report.closed == [] and report.episode is None  # missing flags: the game goes on
        np.testing.assert_array_equal(report.rewards, [2.0, 0.0])
        np.testing.assert_array_equal(report.next.masks[1], [1, t % 2, 1])
    report = adapter.step(np.array([1, 2]))
    assert [(c.seat, c.terminated, c.truncated) for c in report.closed] == [(0, False, True), (1, False, True)]
    for closed in report.closed:
        np.testing.assert_array_equal(closed.obs, [3, 5])
        np.testing.assert_array_equal(closed.mask, [1, 1, 1])
    assert report.episode is not None and report.episode.length == 3
    np.testing.assert_array_equal(report.episode.returns, [5.0, 2.0])
    assert adapter._game.seeds == [5, episode_seed(5, 1)]  # the next game is seeded from the first
    np.testing.assert_array_equal(report.next.obs[0], [0, episode_seed(5, 1) % 1000])


def test_a_parallel_seat_game_starts_the_next_game_by_default() -> None:
    adapter = ParallelSeatGame(Countdown(limit=1), 0)
    adapter.reset(seed=1)
    report = adapter.step(np.array([0, 0]))
    assert report.episode is not None and report.next.seats == [0, 1]


@pytest.mark.parametrize(
    ("metadata", "name"),
    [
        ("absent", "Countdown"),
        (None, "Countdown"),
        ({"render_modes": []}, "Countdown"),
        ({"name": "countdown_v1"}, "countdown_v1"),
    ],
    ids=["no metadata attribute", "metadata None", "no name", "named"],
)
def test_a_game_is_named_by_its_metadata_else_by_its_class(metadata: Any, name: str) -> None:
    game = Countdown(metadata=None if metadata == "absent" else metadata)
    assert metadata != "absent" or not hasattr(game, "metadata")
    if metadata is None:
        game.metadata = None  # neither a name nor a mapping
    assert ParallelSeatGame(game, 0).name == name


# --------------------------------------------------------------------------------------------
# rollout engine: non-finite values at the start of a game
# --------------------------------------------------------------------------------------------


class NaNAtStart(TicTacToeEnv):
    """Tic-tac-toe whose every observation is NaN until the first move of a game."""

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        super().reset(seed, options)
        self.moved = False

    def step(self, action: int | None) -> None:
        super().step(action)
        self.moved = True

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        seen = super().observe(agent)
        if not self.moved:
            seen = {**seen, "observation": np.full(seen["observation"].shape, math.nan, dtype=np.float32)}
        return seen


def test_a_non_finite_view_at_the_start_of_a_game_blames_the_reset() -> None:
    pool = make_pool(NaNAtStart, 2, "dummy")
    engine = RolloutEngine(pool, 2)
    engine.start([40, 41])
    learner = RecordingLearner()
    flags = np.zeros(2, bool)
    plan = SeatPlan([Seating("all", (learner, learner), 1.0, flags, flags)], [2])
    with pytest.raises(GameError) as caught:
        engine.run(plan, max_steps=4)
    error = caught.value
    assert str(error).startswith(
        "env 0 of game 'tictactoe_v0', seat 'player_1' (seat 0): the game reported an observation holding nan "
        "at the start of its game 0 (start seed 40); rewards and observations must be finite numbers, since NaN "
        "or inf would poison the learners' memories and weights (nothing of it was stored; the env pool has "
        "been closed). Fix the game"
    )
    assert error.env_ids == (0,) and error.operation == "reset"
    assert error.error_type == "non-finite value" and error.error_message == "an observation holding nan"
    assert error.worker_traceback == ""


# --------------------------------------------------------------------------------------------
# memories: index walks over partly filled streams, n-step returns, saved-memory refusals
# --------------------------------------------------------------------------------------------


def _partly_filled(kind: type = StreamReplayBuffer, **kwargs: Any) -> Any:
    """A memory of 4 streams of 10 rows: stream 0 holds 3 rows, stream 1 holds 7 (an episode ends at its
    4th), stream 2 one unfinished row, stream 3 none; no stream is full, so the walks cannot wrap
    around a whole stream."""
    memory = kind(40, 4, **kwargs)
    rng = np.random.default_rng(1)
    ids = np.array([0, 1, 1, 0, 1, 1, 2, 1, 0, 1, 1])
    batch = _batch(rng, len(ids), end_rate=0.0)
    batch.terminated[:] = False
    batch.truncated[:] = False
    batch.terminated[4] = True  # the 3rd row of stream 1 ends its episode
    memory.add(batch, buffer_ids=ids)
    return memory


def test_index_walks_over_partly_filled_streams_equal_tianshou() -> None:
    ours, theirs = _partly_filled(), _partly_filled(_TianshouWalks)
    np.testing.assert_array_equal(ours._lengths, [3, 7, 1, 0])
    every = np.arange(40)
    np.testing.assert_array_equal(ours.prev(every), theirs.prev(every))
    np.testing.assert_array_equal(ours.next(every), theirs.next(every))
    # by hand: stream 1 (rows 10..16) holds its first episode at 10..12 and the next at 13..16
    np.testing.assert_array_equal(ours.next(np.arange(10, 17)), [11, 12, 12, 14, 15, 16, 16])
    np.testing.assert_array_equal(ours.prev(np.arange(10, 17)), [10, 10, 11, 13, 13, 14, 15])
    for index in (11, 21):  # a single index walks to a single index
        assert np.ndim(ours.prev(index)) == 0 and ours.prev(index) == theirs.prev(index)[0]
        assert np.ndim(ours.next(index)) == 0 and ours.next(index) == theirs.next(index)[0]
    # streams whose episode goes on: 0 (last row 2), 1 (last row 16) and 2 (its one row, 20)
    np.testing.assert_array_equal(np.sort(ours.unfinished_index()), [2, 16, 20])
    np.testing.assert_array_equal(np.sort(ours.unfinished_index()), np.sort(theirs.unfinished_index()))


def test_nstep_returns_on_tianshous_own_memory_are_tianshous(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(algorithm_base, "_nstep_return", algorithm_base._nstep_return.py_func)
    memory = _partly_filled(_TianshouWalks)
    indices = memory.sample_indices(0)

    def target(buffer: Any, rows: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(buffer.rew[rows]) * 10.0 + 1.0)

    ours = nstep_returns(memory[indices], memory, indices, target, 0.8, 3)
    theirs = algorithm_base.Algorithm.compute_nstep_return(memory[indices], memory, indices, target, 0.8, 3)
    np.testing.assert_allclose(ours.returns.numpy(), theirs.returns.numpy())


def test_nstep_returns_default_to_one_step_with_gamma_0_99() -> None:
    memory = _partly_filled()
    indices = memory.sample_indices(0)

    def target(buffer: Any, rows: np.ndarray) -> torch.Tensor:
        return torch.full((len(rows),), 2.0, dtype=torch.float64)

    returns = nstep_returns(memory[indices], memory, indices, target).returns.numpy().reshape(-1)
    alive = ~memory.terminated[indices]
    np.testing.assert_allclose(returns, memory.rew[indices] + 0.99 * 2.0 * alive)


def test_nstep_returns_refuse_a_batch_and_indices_of_different_sizes() -> None:
    memory = _partly_filled()
    indices = memory.sample_indices(0)
    with pytest.raises(ValueError) as caught:
        nstep_returns(memory[indices[:3]], memory, indices, lambda b, i: torch.zeros(len(i)), 0.9, 2)
    assert str(caught.value) == f"Batch size 3 and indices size {len(indices)} mismatch."


def test_a_saved_memory_of_another_kind_is_refused_even_at_the_same_size() -> None:
    plain = ReplayBuffer(40)
    plain.add(_batch(np.random.default_rng(0), 1, end_rate=0.0))
    with pytest.raises(ValueError) as caught:
        load_memory_state(StreamReplayBuffer(40, 4), memory_state(plain))
    assert str(caught.value) == (
        "the saved memory is a ReplayBuffer of 40 transitions, but the learner's is a VectorReplayBuffer of 40"
    )


def test_a_saved_memory_with_other_streams_is_refused_naming_both_counts() -> None:
    saved = memory_state(_partly_filled())
    with pytest.raises(ValueError) as caught:
        load_memory_state(StreamReplayBuffer(40, 5), saved)
    assert str(caught.value) == "the saved memory has 4 streams, the learner's has 5"
    del saved["buffers"]  # a state without its streams
    with pytest.raises(ValueError) as caught:
        load_memory_state(StreamReplayBuffer(40, 4), saved)
    assert str(caught.value) == "the saved memory has 0 streams, the learner's has 4"


def test_a_loaded_memory_walks_and_samples_as_the_saved_one() -> None:
    original = _partly_filled(random_seed=4)
    loaded = StreamReplayBuffer(40, 4, random_seed=8)
    load_memory_state(loaded, memory_state(original))
    every = np.arange(40)
    np.testing.assert_array_equal(loaded.next(every), original.next(every))
    np.testing.assert_array_equal(loaded.unfinished_index(), original.unfinished_index())
    np.testing.assert_array_equal(loaded.sample_indices(30), original.sample_indices(30))
    for ours, theirs in zip(loaded.buffers, original.buffers):
        assert (ours._insertion_idx, ours._size, ours._ep_len) == (theirs._insertion_idx, theirs._size, theirs._ep_len)


# --------------------------------------------------------------------------------------------
# rollout engine: the batch path equals the per-game path; state and restore on both
# --------------------------------------------------------------------------------------------

ROBOTS3 = {"robot_colors": ["r", "b", "gr"], "required_mail": 1, "max_step": 45}
"""Three robots, games of at most 45 steps (many end by a delivery, the others by the limit)."""


class Logged(RecordingLearner):
    """A recording learner that also logs every ``act`` call (observations, masks, explore flags)
    and, with ``illegal``, ignores the mask (so some of its actions are illegal)."""

    def __init__(self, seed: int, illegal: bool = False) -> None:
        super().__init__(seed=seed)
        self.illegal = illegal
        self.calls: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        self.calls.append((np.array(obs, copy=True), np.array(mask, copy=True), np.array(explore, copy=True)))
        if self.illegal:
            return self._rng.integers(0, mask.shape[1], len(obs)).astype(np.int64)
        return super().act(obs, mask, explore)


class Alternate(SeatRotation):
    """Seats ``first`` and ``second`` in turn at seat 1 of an env whose game ended (and logs the endings)."""

    def __init__(self, first: Agent, second: Agent) -> None:
        self.pair, self.ended = (first, second), []  # type: ignore[var-annotated]

    def begin(self, plan: SeatPlan) -> None:
        pass

    def episode_ended(self, plan: SeatPlan, episode: Any) -> None:
        self.ended.append((episode.env_id, episode.length))
        plan.seat(episode.env_id, 1, self.pair[len(self.ended) % 2])


def _robot_engine(batch: bool, num_envs: int = 3, seeds: tuple[int, ...] = (5, 6, 7)) -> RolloutEngine:
    pool = make_pool(game_factory(ROBOTS3, None), num_envs, "dummy", batch=batch)
    assert isinstance(pool, BatchGamePool) == batch
    engine = RolloutEngine(pool, 3)
    engine.start(list(seeds[:num_envs]))
    return engine


def _robot_plan(engine: RolloutEngine, agents: tuple[Agent, ...], stores: list[tuple[Any, list[int]]]) -> SeatPlan:
    exploring = np.array([True, False, True])
    plan = SeatPlan([Seating("all", agents, 1.0, np.ones(3, bool), exploring)], [engine.num_envs])
    for learner, seats in stores:
        plan.streams.add(learner, [(env, seat) for env in range(engine.num_envs) for seat in seats])
    return plan


def _collect(batch: bool) -> dict[str, Any]:
    """Two collection phases of a 3-env robot game with self-play, a rule breaker and an A* player that
    a rotation swaps in and out of seat 1, exploration in seats 0 and 2, and every transition stored."""
    engine = _robot_engine(batch)
    learner, breaker = Logged(seed=1), Logged(seed=2, illegal=True)
    plan = _robot_plan(engine, (learner, breaker, learner), [(learner, [0, 2]), (breaker, [1])])
    plan.rotation = Alternate(AStarDeliveryAgent(3, seed=3), breaker)  # A* wins some games
    first = engine.run(plan, max_steps=300, explore=True, store=True)
    second = engine.run(plan, episodes_per_env=[1, 2, 0], store=True)
    return {
        "results": [
            (
                r.steps,
                r.illegal_E,  # int64 counts
                [(e.env_id, e.length, e.winner, e.time_span, e.returns.tolist()) for e in r.episodes],
            )
            for r in (first, second)
        ],
        "stored": [_by_stream(learner.stored), _by_stream(breaker.stored)],
        "calls": [agent.calls for agent in (learner, breaker)],
        "rotation": plan.rotation.ended,
    }


def _by_stream(stored: list[dict[str, np.ndarray]]) -> list[dict[int, dict[str, np.ndarray]]]:
    """Each ``store`` call's rows split by stream (the paths keep the order within a stream only)."""
    return [
        {int(s): {k: v[call["streams"] == s] for k, v in call.items()} for s in np.unique(call["streams"])}
        for call in stored
    ]


def _assert_same(ours: Any, theirs: Any, where: str = "") -> None:
    if isinstance(ours, dict):
        assert ours.keys() == theirs.keys(), where
        for key in ours:
            _assert_same(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(ours, (list, tuple)):
        assert len(ours) == len(theirs), where
        for k, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a, b, f"{where}[{k}]")
    elif isinstance(ours, torch.Tensor):
        assert torch.equal(ours, theirs), where
    elif isinstance(ours, np.ndarray):
        assert ours.dtype == np.asarray(theirs).dtype, where
        np.testing.assert_array_equal(ours, theirs, err_msg=where)
    else:
        assert ours == theirs, where


def test_the_batch_path_collects_exactly_what_the_per_game_path_collects() -> None:
    per_game, batch = _collect(False), _collect(True)
    _assert_same(batch, per_game)
    (steps, illegal, episodes), (_, _, quota_episodes) = per_game["results"]
    assert steps == 300 and illegal.sum() > 0 and illegal.dtype == np.int64  # the rule breaker's moves counted
    assert len(episodes) >= 3 and {e[0] for e in quota_episodes} == {0, 1}
    assert [e[0] for e in quota_episodes].count(1) == 2  # the quota: 1, 2 and 0 games
    endings = episodes + quota_episodes
    assert any(e[2] is None for e in endings) and any(e[2] == "b" for e in endings)  # A* (seat 1) wins some
    learner_calls = per_game["calls"][0]
    assert any(explore.any() for _, _, explore in learner_calls)  # seats 0 and 2 explore in the first phase
    ends = [
        e for call in per_game["stored"][0] for rows in call.values() for e in rows["terminated"] | rows["truncated"]
    ]
    assert any(ends) and not all(ends)


def _continue(engine: RolloutEngine, steps: int) -> list[dict[str, np.ndarray]]:
    learner = RecordingLearner(seed=9)
    plan = _robot_plan(engine, (learner, learner, learner), [(learner, [0, 1, 2])])
    engine.run(plan, max_steps=steps, store=True)
    return learner.stored


@pytest.mark.parametrize("batch", [False, True], ids=["per-game pool", "batch pool"])
def test_a_restored_engine_continues_exactly_as_the_saved_one(batch: bool) -> None:
    engine = _robot_engine(batch)
    learner = RecordingLearner(seed=4)
    plan = _robot_plan(engine, (learner, learner, learner), [(learner, [0, 1, 2])])
    engine.run(plan, max_steps=200, store=True)  # games ended, later games under way, transitions open
    state = engine.state()
    assert [sorted(env) for env in state["envs"]] == [["actions", "game", "next_obs", "seed"]] * 3
    assert all(env["game"] >= 1 and env["actions"].shape[1] == 3 for env in state["envs"])
    assert all(env["actions"].dtype == np.int64 for env in state["envs"])
    opened = [entry for env in state["open"] for entry in env]
    assert opened and all(sorted(entry) == ["act", "mask", "obs", "rew", "seat"] for entry in opened)
    assert any(entry["rew"] != 0 for entry in opened) and len({entry["seat"] for entry in opened}) > 1
    twin = RolloutEngine(make_pool(game_factory(ROBOTS3, None), 3, "dummy", batch=batch), 3)
    twin.restore(state)
    _assert_same(twin.state(), state)
    _assert_same(_by_stream(_continue(twin, 90)), _by_stream(_continue(engine, 90)))


def test_state_and_run_need_a_start() -> None:
    engine = RolloutEngine(make_pool(game_factory(ROBOTS3, None), 1, "dummy"), 3)
    with pytest.raises(RuntimeError) as caught:
        engine.state()
    assert str(caught.value) == "call start() before state()"


def test_the_state_of_a_game_started_without_a_seed_is_refused() -> None:
    engine = _robot_engine(False, num_envs=2)
    engine.pool.reset(1, seed=None)
    with pytest.raises(RuntimeError) as caught:
        engine.state()
    assert str(caught.value) == "an env was reset without a seed; its position cannot be saved"


def test_restore_refuses_a_state_of_another_layout_or_game() -> None:
    engine = _robot_engine(False, num_envs=2)
    _continue(engine, 20)
    state = engine.state()
    fresh = RolloutEngine(make_pool(game_factory(ROBOTS3, None), 3, "dummy"), 3)
    with pytest.raises(ValueError) as caught:
        fresh.restore(state)
    assert str(caught.value) == "the saved state holds 2 envs but the pool has 3"
    other = RolloutEngine(make_pool(game_factory(ROBOTS3, None), 2, "dummy"), 3)
    with pytest.raises(ValueError):
        other.restore({**state, "open": state["open"][:1]})  # an open list for one env only
    for actions in (state["envs"][0]["actions"][:, :2], state["envs"][0]["actions"].reshape(-1)):
        envs = [{**state["envs"][0], "actions": actions}, state["envs"][1]]
        with pytest.raises(ValueError) as caught:
            other.restore({**state, "envs": envs})
        assert str(caught.value) == f"env 0: saved actions of shape {actions.shape}, the game has 3 seats"
    moved = [state["envs"][0], {**state["envs"][1], "next_obs": state["envs"][1]["next_obs"] + 1}]
    with pytest.raises(RuntimeError) as caught:
        other.restore({**state, "envs": moved})
    assert str(caught.value) == (
        "env 1 did not replay to the saved position; resuming needs a game that is deterministic given its "
        "seed and actions"
    )


# --------------------------------------------------------------------------------------------
# StreamDQN: gradient steps, their fallbacks, and what a saved memory keeps
# --------------------------------------------------------------------------------------------


def _weights(algorithm: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in algorithm.state_dict().items() if isinstance(v, torch.Tensor)}


@pytest.mark.parametrize("target_update_freq", [0, 3], ids=["no target network", "target network"])
def test_updates_are_that_many_gradient_steps(target_update_freq: int) -> None:
    ours = _learner(target_update_freq=target_update_freq, n_step=2)
    twin = copy.deepcopy(ours)
    before = _weights(ours.algorithm)
    with policy_within_training_step(ours.policy), policy_within_training_step(twin.policy):
        stats = ours.algorithm.updates(ours.memory, 8, 3)
        for _ in range(3):
            twin.algorithm.update(twin.memory, 8)
        assert type(ours.algorithm.updates(ours.memory, 8, 0)) is TrainingStats  # no step: empty statistics
    after = _weights(ours.algorithm)
    _assert_same(after, _weights(twin.algorithm))
    assert any(not torch.equal(after[k], before[k]) for k in before)
    assert isinstance(stats.train_time, float) and 0 <= stats.train_time < 60
    assert "_frozen_modules" not in ours.algorithm.__dict__ and "_frozen_target" not in ours.algorithm.__dict__


def test_a_gradient_step_runs_the_network_in_train_mode() -> None:
    learner = _learner(target_update_freq=3, n_step=2, double=False)  # the online network runs once per step
    modes: list[bool] = []
    learner.policy.model.register_forward_hook(lambda module, args, out: modes.append(module.training))
    with policy_within_training_step(learner.policy):
        learner.algorithm.update(learner.memory, 8)
    assert modes == [True]
    assert not learner.algorithm.training  # and back to the mode it was in


def test_a_gradient_step_with_the_huber_loss_equals_tianshous() -> None:
    ours = _learner(target_update_freq=3, n_step=3)
    ours.algorithm.huber_loss_delta = 0.5
    theirs = copy.deepcopy(ours)
    with policy_within_training_step(ours.policy), policy_within_training_step(theirs.policy):
        for _ in range(3):
            mine = ours.algorithm.update(ours.memory, 16)
            reference = DQN.update(theirs.algorithm, theirs.memory, 16)
            assert mine.loss == pytest.approx(reference.loss, rel=1e-6)
    for key, value in _weights(ours.algorithm).items():
        torch.testing.assert_close(value, _weights(theirs.algorithm)[key], rtol=1e-5, atol=1e-6)


def test_a_gradient_step_on_tianshous_own_memory_is_tianshous_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(algorithm_base, "_nstep_return", algorithm_base._nstep_return.py_func)  # nothing compiled
    ours = _learner(target_update_freq=3, n_step=2)
    ours.memory.__class__ = _TianshouWalks  # the same rows in Tianshou's VectorReplayBuffer
    theirs = copy.deepcopy(ours)
    with policy_within_training_step(ours.policy), policy_within_training_step(theirs.policy):
        mine = ours.algorithm.update(ours.memory, 16)
        reference = DQN.update(theirs.algorithm, theirs.memory, 16)
    assert mine.loss == pytest.approx(reference.loss, rel=1e-6)
    for key, value in _weights(ours.algorithm).items():
        torch.testing.assert_close(value, _weights(theirs.algorithm)[key], rtol=1e-5, atol=1e-6)


def test_a_gradient_step_outside_a_training_step_raises_tianshous_error() -> None:
    ours = _learner(target_update_freq=3)
    with pytest.raises(RuntimeError) as theirs:
        DQN.update(copy.deepcopy(ours.algorithm), ours.memory, 8)
    with pytest.raises(RuntimeError) as mine:
        ours.algorithm.update(ours.memory, 8)
    assert str(mine.value) == str(theirs.value)


def _plain_data(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_data(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain_data(v) for v in value)
    return value is None or isinstance(value, (np.ndarray, np.generic, int, float, str, bool))


def test_a_memory_state_is_plain_data_and_an_empty_one_has_no_batch() -> None:
    state = memory_state(_partly_filled())
    assert _plain_data(state) and isinstance(state["batch"]["obs"], dict)
    empty = memory_state(StreamReplayBuffer(40, 4))
    assert empty["batch"] is None and _plain_data(empty)
    fresh = StreamReplayBuffer(40, 4)
    load_memory_state(fresh, empty)
    assert len(fresh) == 0


def test_memory_nbytes_counts_every_stored_array() -> None:
    memory = _partly_filled()
    arrays = [memory.obs.obs, memory.obs.mask, memory.obs_next.obs, memory.obs_next.mask]
    arrays += [getattr(memory, key) for key in ("act", "rew", "terminated", "truncated", "done")]
    assert memory_nbytes(memory) == sum(a.nbytes for a in arrays) > 0
    assert memory_nbytes(StreamReplayBuffer(40, 4)) == 0


# --------------------------------------------------------------------------------------------
# seat adapters: observation formats, a turn-based game cut by its time limit, endings
# --------------------------------------------------------------------------------------------


class Formats(Countdown):
    """:class:`Countdown` reporting its views in one of the formats PettingZoo games use."""

    def __init__(self, form: str) -> None:
        super().__init__(limit=2)
        self.form = form

    def _views(self) -> tuple[dict[str, Any], dict[str, Any]]:
        obs, infos = super()._views()
        mask = infos["left"]["action_mask"]
        other = np.array([0, 1, 1], dtype=np.int8)  # another mask, in the infos
        view: Any
        if self.form == "box":
            return {a: o.astype(np.float64) for a, o in obs.items()}, {a: {} for a in obs}
        if self.form == "box, mask in infos":
            return {a: o.astype(np.float64) for a, o in obs.items()}, {a: {"action_mask": mask.tolist()} for a in obs}
        if self.form == "dict of lists":
            view = {"observation": obs["left"].tolist(), "action_mask": mask.tolist()}
        elif self.form == "dict, mask in infos":
            return {a: {"observation": o} for a, o in obs.items()}, {
                a: {"action_mask": mask.astype(np.int64)} for a in obs
            }
        elif self.form == "dict of wide arrays":
            view = {"observation": obs["left"].astype(np.float64), "action_mask": mask.astype(np.int64)}
        else:  # "read-only mapping": not a dict, its own mask wins over the infos' one
            view = MappingProxyType({"observation": obs["left"], "action_mask": mask})
            return dict.fromkeys(obs, view), {a: {"action_mask": other} for a in obs}
        return dict.fromkeys(obs, view), {a: {} for a in obs}


@pytest.mark.parametrize(
    "form",
    ["box", "box, mask in infos", "dict of lists", "dict, mask in infos", "dict of wide arrays", "read-only mapping"],
)
def test_every_observation_format_gives_float32_views_and_int8_masks(form: str) -> None:
    adapter = seat_game(lambda: Formats(form), 0)
    decision = adapter.reset(seed=7)
    report = adapter.step(np.array([0, 2]))
    final = adapter.step(np.array([2, 0])).closed[0]
    expected = [1, 1, 1] if form == "box" else [1, 0, 1]  # no mask anywhere: every action is legal
    for obs, mask, t in ((decision.obs[0], decision.masks[0], 0), (report.next.obs[1], report.next.masks[1], 1)):
        assert obs.dtype == np.float32 and mask.dtype == np.int8
        np.testing.assert_array_equal(obs, [t, 7])
        np.testing.assert_array_equal(mask, expected if form == "box" or t == 0 else [1, 1, 1])
    assert final.obs.dtype == np.float32 and final.mask.dtype == np.int8
    np.testing.assert_array_equal(final.obs, [2, 7])
    np.testing.assert_array_equal(final.mask, expected)  # t = 2: the mask of t = 0 again


def test_a_mapping_without_an_observation_entry_is_refused_naming_its_keys() -> None:
    class Keyless(Countdown):
        def _views(self) -> tuple[dict[str, Any], dict[str, Any]]:
            obs, infos = super()._views()
            return {a: MappingProxyType({"obs": o}) for a, o in obs.items()}, infos

    with pytest.raises(ValueError) as caught:
        seat_game(lambda: Keyless(metadata={"name": "keyless_v0"}), 0).reset(seed=1)
    assert str(caught.value).startswith(
        "seat 'left' of game 'keyless_v0' observed a dict with keys ['obs'] and no 'observation' entry"
    )


class Relay(AECEnv):
    """Two players move in turn; after ``limit`` moves the time limit truncates both.

    Observations are plain arrays ``[t, seat]`` and the action masks are in ``infos``. The mover is
    rewarded its action and the other player 1; when the first player leaves the ended game (its
    dead step), the second one gets a bonus of 5. The last infos report a ``game_clock`` and, when
    ``winner`` is given, the winner."""

    metadata: ClassVar[dict[str, Any]] = {"name": "relay_v0"}
    possible_agents: ClassVar[list[str]] = ["first", "second"]

    def __init__(self, limit: int = 4, winner: str | None = None) -> None:
        super().__init__()
        self.limit, self.winner = limit, winner

    def observation_space(self, agent: str) -> spaces.Space:
        return spaces.Box(0.0, 100.0, (2,), np.float32)

    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(3)

    def _infos(self) -> dict[str, Any]:
        mask = np.array([1, 1 - self.t % 2, 1], dtype=np.int8)
        return {a: {"action_mask": mask.copy()} for a in self.agents}

    def reset(self, seed: int | None = None, options: Any = None) -> None:
        self.t = 0
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = self._infos()
        self.agent_selection = "first"

    def observe(self, agent: str) -> np.ndarray:
        return np.array([self.t, self.possible_agents.index(agent)], dtype=np.float32)

    def step(self, action: int | None) -> None:
        agent = self.agent_selection
        if self.truncations[agent]:  # the dead step: the player leaves
            self.agents.remove(agent)
            for flags in (self.rewards, self.terminations, self.truncations, self.infos):
                del flags[agent]
            self.rewards = {a: 5.0 if agent == "first" else 0.0 for a in self.agents}
            if self.agents:
                self.agent_selection = self.agents[0]
            return
        self.t += 1
        other = "second" if agent == "first" else "first"
        self.rewards = {agent: float(action or 0), other: 1.0}
        self.infos = self._infos()
        if self.t >= self.limit:
            self.truncations = dict.fromkeys(self.agents, True)
            for info in self.infos.values():
                info["game_clock"] = 2.5 * self.t
                if self.winner is not None:
                    info["winner"] = self.winner
        self.agent_selection = other


def test_a_turn_based_game_cut_by_its_time_limit_closes_both_seats_truncated_and_routes_late_rewards() -> None:
    adapter = seat_game(lambda: Relay(limit=4), 3)
    decision = adapter.reset(seed=2)
    assert decision.seats == [0] and decision.masks[0].dtype == np.int8
    np.testing.assert_array_equal(decision.masks[0], [1, 1, 1])  # from the infos
    for t, seat in ((1, 0), (2, 1), (3, 0)):
        report = adapter.step(np.array([2, -1] if seat == 0 else [-1, 2]))
        assert report.closed == [] and report.next.seats == [1 - seat]
        np.testing.assert_array_equal(report.next.masks[0], [1, 1 - t % 2, 1])
    report = adapter.step(np.array([-1, 2]))  # the 4th move: the second player moves, both are cut
    assert [(c.seat, c.terminated, c.truncated) for c in report.closed] == [(0, False, True), (1, False, True)]
    np.testing.assert_array_equal(report.closed[0].obs, [4, 0])
    np.testing.assert_array_equal(report.closed[1].obs, [4, 1])
    np.testing.assert_array_equal(report.closed[0].mask, [1, 1, 1])
    np.testing.assert_array_equal(report.rewards, [1.0, 2.0 + 5.0])  # the bonus of the first player's dead step
    episode = report.episode
    assert episode is not None and episode.length == 4 and episode.time_span == 10.0
    np.testing.assert_array_equal(episode.returns, [6.0, 11.0])
    assert episode.winner == "second"  # no winner reported: the unique best return


@pytest.mark.parametrize("auto_reset", [True, False])
def test_a_game_that_ended_starts_anew_only_with_auto_reset(auto_reset: bool) -> None:
    for make in (lambda: Relay(limit=1, winner="first"), lambda: Countdown(limit=1)):
        adapter = seat_game(make, 0, auto_reset=auto_reset)
        adapter.reset(seed=3)
        report = adapter.step(np.array([1, 2]))
        assert report.episode is not None and len(report.closed) == 2
        assert report.rewards.tolist() in ([1.0, 1.0], [1.0, 2.0])
        if auto_reset:
            assert report.next.seats != []
        else:
            assert (report.next.seats, report.next.obs, report.next.masks) == ([], [], [])


def test_an_aec_seat_game_starts_the_next_game_by_default_and_reports_the_games_winner() -> None:
    adapter = AECSeatGame(Relay(limit=1, winner="first"), 0)
    assert adapter.replay_point is None  # nothing started yet
    adapter.reset(seed=1)
    report = adapter.step(np.array([0, -1]))
    assert report.episode is not None and report.episode.winner == "first"  # reported, not the best return
    assert report.next.seats == [0]


@pytest.mark.parametrize(
    ("players", "actions", "winner"),
    [(1, [2], None), (3, [2, 2, 0], None), (3, [1, 2, 0], "p1")],
    ids=["one player", "a tie for the best return", "a unique best return"],
)
def test_without_a_reported_winner_only_a_unique_best_return_wins(
    players: int, actions: list[int], winner: Any
) -> None:
    class Players(Countdown):
        possible_agents: ClassVar[list[str]] = [f"p{k}" for k in range(players)]

    adapter = seat_game(lambda: Players(limit=1), 0)
    adapter.reset(seed=1)
    report = adapter.step(np.array(actions))
    assert report.episode is not None and report.episode.winner == winner


def test_games_started_without_a_seed_go_on_without_seeds() -> None:
    game = Countdown(limit=1)
    adapter = ParallelSeatGame(game, 0)
    adapter.reset(seed=None)
    adapter.step(np.array([0, 0]))
    adapter.step(np.array([0, 0]))
    assert game.seeds == [None, None, None] and adapter.replay_point is None
    pool = BatchGamePool(RecordingBatchGame(2))
    pool.reset(0, seed=None)
    pool.reset(1, seed=4)
    points = pool.replay_points()
    assert len(points) == 2 and points[0] is None and points[1] is not None and points[1].seed == 4
    for _ in range(2 * ROBOTS["max_step"]):
        _play(pool, 1)
    assert pool.game.seeds[0] == [None] * len(pool.game.seeds[0])
    assert pool.game.seeds[1][:2] == [4, episode_seed(4, 1)]


# --------------------------------------------------------------------------------------------
# batch pool: failures and views around the end of a game; non-finite values on the batch path
# --------------------------------------------------------------------------------------------


class PoisonedBatchGame:
    """Robot delivery's batch twin (2 robots, games of 14 steps) that misbehaves after its ``at``-th
    ``play`` call, as ``what`` says:

    * ``"reward"``: seat 0 of the first game played is rewarded NaN;
    * ``"view"``: every view it reports is NaN (``at=0``: from the first reset on);
    * ``"final view"``: the final view of seat 1 of the game that ends is NaN;
    * ``"final views raise"``, ``"final masks raise"``, ``"reset raises"``: a ValueError instead of the
      final views or masks of the game that ends, or of its next game's reset;
    * ``"huge view"``: every view holds 3e38 (finite, but their float32 sum overflows);
    * ``"no move in game 1"``: no action is ever legal in game 1.
    """

    def __init__(self, num_games: int, what: str, at: int) -> None:
        self._game = RobotDeliveryEnv(**ROBOTS).batch_rules(num_games)
        self.what, self.at, self.plays = what, at, 0

    def play(self, games: np.ndarray, actions: np.ndarray) -> np.ndarray:
        self.plays += 1
        rewards = np.array(self._game.play(games, actions), dtype=np.float64)
        if self.what == "reward" and self.plays == self.at:
            rewards[0, 0] = math.nan
        return rewards

    def observations(self, games: np.ndarray, robots: np.ndarray) -> np.ndarray:
        views = np.array(self._game.observations(games, robots), copy=True)
        final = len(np.unique(games)) < len(games)  # every seat's view of the games that ended
        if final and self.plays == self.at and self.what == "final views raise":
            raise ValueError("no final view")
        if final and self.plays == self.at and self.what == "final view":
            views[1] = math.nan
        if not final and self.plays >= self.at and self.what == "view":
            views[:] = math.nan
        if self.what == "huge view":
            views[:] = 3e38
        return views

    def masks(self, games: np.ndarray, robots: np.ndarray) -> np.ndarray:
        if len(np.unique(games)) < len(games) and self.plays == self.at and self.what == "final masks raise":
            raise ValueError("no final mask")
        masks = np.array(self._game.masks(games, robots), copy=True)
        if self.what == "no move in game 1":
            masks[games == 1] = 0
        return masks

    def reset(self, games: np.ndarray, seeds: Any) -> None:
        if self.plays == self.at and self.what == "reset raises":
            raise ValueError("no next game")
        self._game.reset(games, seeds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._game, name)


def _poisoned_run(what: str, at: int, num_envs: int = 1, max_steps: int = 40) -> GameError:
    pool = BatchGamePool(PoisonedBatchGame(num_envs, what, at), game_factory(ROBOTS, None))
    engine = RolloutEngine(pool, 2)
    engine.start([60 + env for env in range(num_envs)])
    learner = RecordingLearner(seed=5)
    flags = np.zeros(2, bool)
    plan = SeatPlan([Seating("all", (learner, learner), 1.0, flags, flags)], [num_envs])
    plan.streams.add(learner, [(env, seat) for env in range(num_envs) for seat in range(2)])
    with pytest.raises(GameError) as caught:
        engine.run(plan, max_steps=max_steps, store=True)
    assert pool.closed and learner.stored == []
    return caught.value


@pytest.mark.parametrize(
    ("what", "operation"), [("final views raise", "step"), ("final masks raise", "step"), ("reset raises", "reset")]
)
def test_a_batch_game_raising_while_a_game_ends_names_that_game(what: str, operation: str) -> None:
    error = _poisoned_run(what, ROBOTS["max_step"])
    message = {"final views raise": "no final view", "final masks raise": "no final mask"}.get(what, "no next game")
    assert (
        str(error) == f"env 0: the game raised ValueError during {operation}: {message} (the env pool has been closed)"
    )
    assert error.env_ids == (0,) and error.operation == operation


def test_a_non_finite_final_view_on_the_batch_path_names_the_seat_and_the_game_it_ended() -> None:
    error = _poisoned_run("final view", ROBOTS["max_step"])
    assert str(error).startswith(
        "env 0 of game 'robot_delivery_v0', seat 'b1' (seat 1): the game reported an observation holding nan "
        "after step 14 of its game 0 (start seed 60)"
    )
    assert error.env_ids == (0,) and error.operation == "step" and error.error_type == "non-finite value"


def test_a_non_finite_reward_on_the_step_that_ends_a_game_names_that_game() -> None:
    error = _poisoned_run("reward", ROBOTS["max_step"])
    assert "seat 'r1' (seat 0): the game reported reward nan at step 14 of its game 0 (start seed 60)" in str(error)
    assert error.error_message == "reward nan"


@pytest.mark.parametrize(
    ("at", "ticks", "seat", "when"),
    [(0, 20, "'r1' (seat 0)", "at the start of its game 0"), (3, 3, "'b1' (seat 1)", "after step 3 of its game 0")],
    ids=["at the first reset", "only seen as obs_next in the last tick"],
)
def test_a_non_finite_view_on_the_batch_path_is_refused(at: int, ticks: int, seat: str, when: str) -> None:
    error = _poisoned_run("view", at, num_envs=2, max_steps=2 * ticks)
    assert str(error).startswith(
        f"env 0 of game 'robot_delivery_v0', seat {seat}: the game reported an observation holding nan {when} "
        "(start seed 60)"
    )
    assert error.env_ids == (0,) and error.operation == ("reset" if at == 0 else "step")


def test_a_batch_step_reports_final_views_only_for_the_games_it_ended() -> None:
    pool = BatchGamePool(RobotDeliveryEnv(**ROBOTS).batch_rules(2))
    pool.reset(0, seed=1)
    pool.reset(1, seed=2)
    seen_end = False
    for step in _play(pool, 2 * ROBOTS["max_step"]):
        ended = int(step.ended.sum())
        assert step.final_obs.shape[0] == step.final_masks.shape[0] == ended
        if ended:
            assert step.final_obs.shape[1] == step.final_masks.shape[1] == 2  # every seat's view
        assert len(step.episodes) == ended and step.final_obs.dtype == np.float32
        seen_end |= ended > 0
    assert seen_end
    _, obs, mask = pool.decisions(np.arange(2))
    assert obs.dtype == np.float32 and mask.dtype == np.int8


# --------------------------------------------------------------------------------------------
# rollout engine: what agents return, defaults, seeds, illegal moves, values near overflow
# --------------------------------------------------------------------------------------------


class Returns:
    """A duck-typed agent (no :class:`Agent` base, so no default name) that returns ``value(obs, mask)``."""

    def __init__(self, value: Any, name: str | None = None) -> None:
        self.value = value
        if name is not None:
            self.name = name

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> Any:
        return self.value(obs, mask)


@pytest.mark.parametrize("batch", [False, True], ids=["per-game pool", "batch pool"])
@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (
            lambda o, m: np.zeros((len(o), 1), dtype=np.int64),
            ValueError,
            "must return one action per row, shape (1,); got shape (1, 1): array([[0]])",
        ),
        (lambda o, m: np.zeros(len(o)), TypeError, "must return integer actions, got dtype float64: array([0.])"),
        (lambda o, m: np.full(len(o), 5), ValueError, "returned action 5 for seat 0 of env 1; actions are 0..4"),
        (lambda o, m: np.full(len(o), -1), ValueError, "returned action -1 for seat 0 of env 1; actions are 0..4"),
    ],
    ids=["one column too many", "floats", "one past the last action", "negative"],
)
def test_an_agent_returning_bad_actions_is_named_with_the_row(
    batch: bool, value: Any, error: type, message: str
) -> None:
    pool = make_pool(game_factory(ROBOTS, None), 2, "dummy", batch=batch)
    engine = RolloutEngine(pool, 2)
    engine.start([1, 2])
    good = RandomAgent(seed=0)
    for agent, name in ((Returns(value, name="bad"), "'bad'"), (Returns(value), "'Returns'")):
        flags = np.zeros(2, bool)
        plan = SeatPlan([Seating("all", (good, good), 1.0, flags, flags)], [2])
        plan.seat(1, 0, agent)  # type: ignore[arg-type]  # the bad agent plays seat 0 of env 1 only
        with pytest.raises(error) as caught:
            engine.run(plan, max_steps=4)
        assert str(caught.value) == f"agent {name}: act {message}"


def test_run_neither_explores_nor_stores_unless_asked_and_checks_its_inputs() -> None:
    engine = _robot_engine(False, num_envs=2)
    learner = Logged(seed=1)
    plan = _robot_plan(engine, (learner, learner, learner), [(learner, [0, 1, 2])])  # seats 0 and 2 explore
    result = engine.run(plan, max_steps=12)
    assert result.steps == 12 and learner.stored == []
    assert all(explore.dtype == bool and not explore.any() for _, _, explore in learner.calls)
    with pytest.raises(ValueError) as caught:
        engine.start([1, 2, 3])
    assert str(caught.value) == "start() needs one seed per env (2), got 3"
    other = _robot_plan(_robot_engine(False, num_envs=3), (learner, learner, learner), [])
    with pytest.raises(ValueError) as caught:
        engine.run(other, max_steps=3)
    assert str(caught.value) == "the plan seats 3 envs but the pool has 2"
    fresh = RolloutEngine(make_pool(game_factory(ROBOTS3, None), 2, "dummy"), 3)
    with pytest.raises(RuntimeError) as caught:
        fresh.run(plan, max_steps=3)
    assert str(caught.value) == "call start() before run()"


def test_the_replay_points_of_a_turn_based_game_mark_the_seats_that_did_not_act() -> None:
    engine = _robot_engine(False, num_envs=1)
    _continue(engine, 10)
    actions = engine.state()["envs"][0]["actions"]
    assert actions.shape == (10, 3)
    np.testing.assert_array_equal((actions >= 0).sum(axis=1), np.ones(10))
    assert set(actions[actions < 0].tolist()) == {-1}


class NoMoveForRight(Countdown):
    """:class:`Countdown` where the right player has no legal action at all."""

    def _views(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        obs, infos = super()._views()
        infos["right"] = {"action_mask": np.zeros(3, dtype=np.int8)}
        return obs, infos


def test_a_seat_without_a_legal_action_makes_no_illegal_move() -> None:
    engine = RolloutEngine(make_pool(lambda: NoMoveForRight(limit=4), 2, "dummy"), 2)
    engine.start([1, 2])
    picks_one = ScriptedAgent(lambda obs, mask: 1)  # illegal for the left player on even steps
    result = engine.run(_two_seat_plan(picks_one, picks_one, 2), max_steps=2 * 8)
    assert result.illegal_E.tolist() == [4, 4]  # the left player's moves at t = 0 and 2 of two games


def _two_seat_plan(first: Any, second: Any, num_envs: int, check: Any = None) -> SeatPlan:
    flags = np.zeros(2, bool)
    plan = SeatPlan([Seating("all", (first, second), 1.0, flags, flags)], [num_envs])
    if check is not None:
        plan.streams.add(check, [(env, seat) for env in range(num_envs) for seat in range(2)])
    return plan


class Huge(Countdown):
    """:class:`Countdown` whose views hold 3e38 twice: finite numbers whose float32 sum overflows."""

    def _views(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        obs, infos = super()._views()
        return {a: np.full(2, 3e38, dtype=np.float32) for a in obs}, infos


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the point of the test
def test_finite_views_whose_sum_overflows_are_not_refused_on_either_path() -> None:
    learner = RecordingLearner(seed=2)
    engine = RolloutEngine(make_pool(lambda: Huge(limit=3), 2, "dummy"), 2)
    engine.start([1, 2])
    engine.run(_two_seat_plan(learner, learner, 2, check=learner), max_steps=2 * 5, store=True)
    assert learner.stored and np.isinf(learner.stored[0]["obs"].sum(dtype=np.float32))
    pool = BatchGamePool(PoisonedBatchGame(2, "huge view", 0), game_factory(ROBOTS, None))
    engine = RolloutEngine(pool, 2)
    engine.start([1, 2])
    batch_learner = RecordingLearner(seed=2)
    engine.run(_two_seat_plan(batch_learner, batch_learner, 2, check=batch_learner), max_steps=2 * 5, store=True)
    assert batch_learner.stored and not pool.closed


def test_check_finite_false_lets_non_finite_views_through_on_both_paths() -> None:
    learner = RecordingLearner(seed=2)
    engine = RolloutEngine(make_pool(NaNAtStart, 1, "dummy"), 2, check_finite=False)
    engine.start([1])
    engine.run(_two_seat_plan(learner, learner, 1, check=learner), max_steps=4, store=True)
    assert np.isnan(learner.stored[0]["obs"]).any()
    pool = BatchGamePool(PoisonedBatchGame(1, "view", 0), game_factory(ROBOTS, None))
    engine = RolloutEngine(pool, 2, check_finite=False)
    engine.start([1])
    batch_learner = RecordingLearner(seed=2)
    engine.run(_two_seat_plan(batch_learner, batch_learner, 1, check=batch_learner), max_steps=4, store=True)
    assert np.isnan(batch_learner.stored[0]["obs"]).all()


def test_a_non_finite_reward_on_the_move_that_ends_a_game_names_that_game() -> None:
    from test_reliability import PoisonedTicTacToe

    pool = make_pool(lambda: PoisonedTicTacToe(at=7), 1, "dummy")  # first legal moves: X wins with move 7
    engine = RolloutEngine(pool, 2)
    engine.start([30])
    learner = ScriptedAgent(lambda obs, mask: int(np.flatnonzero(mask)[0]))
    with pytest.raises(GameError) as caught:
        engine.run(_two_seat_plan(learner, learner, 1), max_steps=20)
    assert "seat 'player_1' (seat 0): the game reported reward nan at step 7 of its game 0 (start seed 30)" in str(
        caught.value
    )


def _stored_rows(memory: Any) -> np.ndarray:
    size = memory.maxsize // memory.buffer_num
    return np.flatnonzero(np.arange(memory.maxsize) % size < np.repeat(memory._lengths, size))


@pytest.mark.parametrize("batch_size", [1, 2, 500])
def test_sampling_is_one_uniform_draw_over_the_stored_rows_with_the_memorys_generator(batch_size: int) -> None:
    memory = _partly_filled(random_seed=6)
    generator = copy.deepcopy(memory._random_state)
    stored = _stored_rows(memory)  # rows 0..2, 10..16 and 20: the streams are not full
    np.testing.assert_array_equal(stored, [0, 1, 2, 10, 11, 12, 13, 14, 15, 16, 20])
    drawn = memory.sample_indices(batch_size)
    np.testing.assert_array_equal(drawn, stored[generator.randint(0, len(stored), batch_size)])
    if batch_size == 500:
        assert set(drawn.tolist()) == set(stored.tolist())


def test_a_memory_with_one_row_samples_that_row_and_an_empty_one_nothing() -> None:
    memory = StreamReplayBuffer(40, 4)
    nothing = memory.sample_indices(5)
    assert nothing.tolist() == [] and nothing.dtype.kind == "i"  # indices, even when there are none
    memory.add(_batch(np.random.default_rng(3), 1, end_rate=0.0), buffer_ids=np.array([2]))
    assert memory.sample_indices(3).tolist() == [20, 20, 20]
    assert memory.sample_indices(-1).tolist() == [] and memory.sample_indices(0).tolist() == [20]  # as Tianshou's


def test_a_gradient_step_on_a_memory_of_plain_observations_equals_tianshous(monkeypatch: pytest.MonkeyPatch) -> None:
    """Observations stored as arrays (no action masks) are read as such, for the target and the loss."""
    monkeypatch.setattr(algorithm_base, "_nstep_return", algorithm_base._nstep_return.py_func)
    ours = _learner(target_update_freq=3, n_step=2, double=True)
    rng = np.random.default_rng(0)
    plain = StreamReplayBuffer(40, 4)
    for _ in range(6):
        rows = _batch(rng, 5, end_rate=0.2)
        rows.obs, rows.obs_next = rows.obs.obs, rows.obs_next.obs
        plain.add(rows, buffer_ids=rng.integers(0, 4, 5))
    theirs = copy.deepcopy(ours)
    reference = copy.deepcopy(plain)  # the same draws; Tianshou's update reads every key of the rows
    with policy_within_training_step(ours.policy), policy_within_training_step(theirs.policy):
        mine = ours.algorithm.update(plain, 12)
        expected = DQN.update(theirs.algorithm, reference, 12)
    assert mine.loss == pytest.approx(expected.loss, rel=1e-6)
    for key, value in _weights(ours.algorithm).items():
        torch.testing.assert_close(value, _weights(theirs.algorithm)[key], rtol=1e-5, atol=1e-6)


def test_game_seeds_start_from_the_start_seed_and_differ_from_game_to_game() -> None:
    assert episode_seed(123, 0) == 123
    seeds = {episode_seed(start, game) for start in (123, 124) for game in range(1, 6)}
    assert len(seeds) == 10 and not seeds & {123, 124}
    assert all(isinstance(seed, int) and 0 <= seed < 2**32 for seed in seeds)


def test_a_batch_pool_has_no_decisions_before_a_reset() -> None:
    pool = BatchGamePool(RobotDeliveryEnv(**ROBOTS).batch_rules(2))
    with pytest.raises(RuntimeError) as caught:
        pool.decisions(np.arange(2))
    assert str(caught.value) == "no game of the pool has been reset yet; reset the games first"


def test_a_game_without_live_agents_after_its_reset_is_refused() -> None:
    class Empty(Countdown):
        def reset(self, seed: int | None = None, options: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
            views = super().reset(seed, options)
            self.agents = []
            return views

    with pytest.raises(RuntimeError) as caught:
        seat_game(Empty, 0).reset(seed=1)
    assert str(caught.value) == "the game has no live agents right after reset()"


def test_an_out_of_range_action_names_its_own_row_not_an_earlier_legal_one() -> None:
    engine = _robot_engine(False, num_envs=3)
    bad = Returns(lambda obs, mask: np.array([0] * (len(obs) - 1) + [7]), name="late")
    flags = np.zeros(3, bool)
    plan = SeatPlan([Seating("all", (bad, RandomAgent(seed=1), RandomAgent(seed=2)), 1.0, flags, flags)], [3])  # type: ignore[arg-type]
    with pytest.raises(ValueError) as caught:
        engine.run(plan, max_steps=3)
    assert str(caught.value) == "agent 'late': act returned action 7 for seat 0 of env 2; actions are 0..4"


def test_a_non_finite_value_in_a_game_started_without_a_seed_says_so() -> None:
    from test_reliability import PoisonedTicTacToe

    pool = make_pool(lambda: PoisonedTicTacToe(at=1), 1, "dummy")
    engine = RolloutEngine(pool, 2)
    engine.start([3])
    pool.reset(0, seed=None)  # the same first position, without a seed
    player = ScriptedAgent(lambda obs, mask: int(np.flatnonzero(mask)[0]))
    with pytest.raises(GameError) as caught:
        engine.run(_two_seat_plan(player, player, 1), max_steps=4)
    assert "the game reported reward nan in a game started without a seed; rewards and observations" in str(
        caught.value
    )


@pytest.mark.parametrize("batch", [False, True], ids=["per-game pool", "batch pool"])
def test_before_store_runs_once_before_a_run_stores_and_nothing_opens_without_store(batch: bool) -> None:
    engine = _robot_engine(batch, num_envs=2)
    learner = RecordingLearner(seed=1)
    plan = _robot_plan(engine, (learner, learner, learner), [(learner, [0, 1, 2])])
    engine.run(plan, max_steps=20)  # store=False: no transition opens
    assert engine.state()["open"] == [[], []] and learner.stored == []
    calls: list[int] = []
    engine.run(plan, max_steps=20, store=True, before_store=lambda: calls.append(len(learner.stored)))
    assert calls == [0] and len(learner.stored) == 1


def test_every_learner_gets_its_rows_when_an_earlier_one_has_none() -> None:
    engine = _robot_engine(False, num_envs=1)
    idle, busy = RecordingLearner(seed=1), RecordingLearner(seed=2)
    plan = _robot_plan(engine, (busy, busy, busy), [])
    plan.streams.add(idle, [])  # a learner with no stream (first in the layout)
    plan.streams.add(busy, [(0, 0), (0, 1), (0, 2)])
    engine.run(plan, max_steps=12, store=True)
    assert idle.stored == [] and busy.stored_count > 0


def test_a_parallel_games_last_infos_give_the_winner_and_the_time_span() -> None:
    class Reported(Countdown):
        def step(self, actions: dict[str, int]) -> tuple[Any, ...]:
            obs, rewards, terminations, truncations, infos = super().step(actions)
            if not self.agents:
                infos = {a: {**info, "winner": "left", "game_clock": 4.5} for a, info in infos.items()}
            return obs, rewards, terminations, truncations, infos

    adapter = seat_game(lambda: Reported(limit=2), 0)
    adapter.reset(seed=1)
    adapter.step(np.array([0, 2]))
    episode = adapter.step(np.array([0, 2])).episode
    assert episode is not None and episode.winner == "left" and episode.time_span == 4.5  # not the best return


def test_a_restored_prioritized_memory_gives_new_rows_the_saved_top_priority() -> None:
    original = _partly_filled(StreamPrioritizedReplayBuffer, alpha=0.6, beta=0.4)
    original.update_weight(np.array([0, 10]), np.array([3.0, 0.5]))  # the top priority is now above 1
    loaded = StreamPrioritizedReplayBuffer(40, 4, alpha=0.6, beta=0.4)
    load_memory_state(loaded, memory_state(original))
    rows = _batch(np.random.default_rng(7), 2, end_rate=0.0)
    for memory in (original, loaded):
        memory.add(copy.deepcopy(rows), buffer_ids=np.array([3, 3]))
    new = np.array([30, 31])
    np.testing.assert_allclose(loaded.weight[new], original.weight[new])
    assert loaded.weight[30] > 1.0


def test_train_without_a_mode_is_train_mode_and_switches_follow_added_modules() -> None:
    learner = _learner(target_update_freq=10)
    algorithm = learner.algorithm
    algorithm.eval()
    algorithm.train()
    assert all(m.training for m in algorithm.policy.modules())
    for step in range(6):
        if step in (1, 3):
            setattr(algorithm.policy, f"extra{step}", torch.nn.Dropout())  # a new module, in train mode
        if step == 4:
            with policy_within_training_step(learner.policy):
                algorithm.updates(learner.memory, 8, 2)  # switches inside the steps use the frozen module list
        mode = step % 2 == 0
        algorithm.train(mode)
        flags = [m.training for m in algorithm.modules()]
        torch.nn.Module.train(algorithm, mode)
        assert flags == [m.training for m in algorithm.modules()], step


def test_rows_added_to_partly_filled_streams_are_stored_as_tianshou_stores_them() -> None:
    """The second and later insertions take the vectorised path; no stream fills up here, so each
    stream's length must grow by exactly its rows."""
    ours, theirs = _partly_filled(), _partly_filled(_TianshouWalks)
    rows = _batch(np.random.default_rng(9), 6, end_rate=0.3)
    ids = np.array([2, 0, 2, 3, 2, 0])
    for got, want in zip(
        ours.add(copy.deepcopy(rows), buffer_ids=ids), theirs.add(copy.deepcopy(rows), buffer_ids=ids)
    ):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ours._lengths, [5, 7, 4, 1])
    np.testing.assert_array_equal(ours._lengths, theirs._lengths)
    np.testing.assert_array_equal(ours.last_index, theirs.last_index)
    for key in ("act", "rew", "terminated", "truncated", "done"):
        np.testing.assert_array_equal(getattr(ours, key), getattr(theirs, key))
    for a, b in zip(ours.buffers, theirs.buffers):
        assert (a._insertion_idx, a._size, a._ep_len, a._ep_start_idx) == (
            b._insertion_idx,
            b._size,
            b._ep_len,
            b._ep_start_idx,
        )


@pytest.mark.parametrize("batch", [False, True], ids=["per-game pool", "batch pool"])
def test_a_run_without_store_opens_no_transition_even_when_a_rotation_reseats(batch: bool) -> None:
    engine = _robot_engine(batch, num_envs=2)
    learner = RecordingLearner(seed=1)
    plan = _robot_plan(engine, (learner, learner, learner), [(learner, [0, 1, 2])])
    plan.rotation = Alternate(RecordingLearner(seed=2), learner)
    engine.run(plan, episodes_per_env=[2, 2])  # games end, the rotation reseats seat 1, nothing is stored
    assert len(plan.rotation.ended) == 4
    assert engine.state()["open"] == [[], []] and learner.stored == []


def test_a_batch_row_without_a_legal_action_makes_no_illegal_move() -> None:
    pool = BatchGamePool(PoisonedBatchGame(2, "no move in game 1", 0), game_factory(ROBOTS, None))
    engine = RolloutEngine(pool, 2)
    engine.start([1, 2])
    stands = ScriptedAgent(lambda obs, mask: 0)  # standing: legal in game 0 until the stand limit
    result = engine.run(_two_seat_plan(stands, stands, 2), max_steps=2 * 6)
    assert result.illegal_E[1] == 0 and result.illegal_E.dtype == np.int64
