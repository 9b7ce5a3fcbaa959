"""Transition semantics of the rollout engine (``rbtrainer.rollout``) on tiny real games.

The engine is driven directly (no trainer): a pool from ``make_pool``, a :class:`SeatPlan` that
routes seats to small recording learners, and ``RolloutEngine.run``. The recording learner
keeps every array the engine hands to ``store`` so the transitions can be checked one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
import torch
from conftest import RecordingLearner

from games.connect_four import ConnectFourRules
from games.tictactoe import TicTacToeRules
from rbtrainer.agents import dqn_agent
from rbtrainer.agents.base import Agent, Learner
from rbtrainer.agents.fixed import RandomAgent, ScriptedAgent
from rbtrainer.agents.stream_memory import nstep_returns
from rbtrainer.envs import BatchGamePool, GamePool, StepReport, describe_game, game_factory, make_pool
from rbtrainer.rollout import RolloutEngine
from rbtrainer.seating import Seating, SeatPlan

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]


def first_legal(preference: Sequence[int]) -> Callable[[np.ndarray, np.ndarray], int]:
    """A per-row policy: the first legal action in ``preference`` order."""

    def fn(obs: np.ndarray, mask: np.ndarray) -> int:
        for a in preference:
            if mask[a]:
                return a
        raise AssertionError(f"no legal action among {preference} (mask {mask})")

    return fn


Recorder = RecordingLearner


class RecordingPool:
    """Wraps a :class:`GamePool` and records every ``step`` call (ids, actions, reports)."""

    def __init__(self, pool: GamePool) -> None:
        self.pool = pool
        self.num_envs = pool.num_envs
        self.steps: list[tuple[list[int], np.ndarray, list[StepReport]]] = []

    def reset(self, env_id: int, seed: int | None = None) -> Any:
        return self.pool.reset(env_id, seed=seed)

    def step(self, actions: np.ndarray, env_ids: Sequence[int]) -> list[StepReport]:
        reports = self.pool.step(actions, env_ids)
        self.steps.append((list(env_ids), np.array(actions, copy=True), list(reports)))
        return reports

    def close(self) -> None:
        self.pool.close()


def make_engine(env_args: dict[str, Any], num_envs: int, seeds: Sequence[int] | None = None):
    factory = game_factory(env_args, None)
    game = describe_game(factory)
    pool = RecordingPool(make_pool(factory, num_envs, "dummy"))
    engine = RolloutEngine(pool, len(game.seats))  # type: ignore[arg-type]
    engine.start(list(seeds) if seeds is not None else [100 + i for i in range(num_envs)])
    return engine, pool, game


def make_plan(
    engine: RolloutEngine,
    agents: list[Agent],
    stores: Sequence[tuple[Learner, Sequence[int]]] = (),
    explore: Sequence[bool] | None = None,
) -> SeatPlan:
    """A plan like the trainer's: the same agents in every env; ``stores`` lists (learner, seats it
    stores, in stream order), so the stream of (env, seat) is ``env * len(seats) + k``."""
    n = len(agents)
    exploring = np.zeros(n, dtype=bool) if explore is None else np.array(explore, dtype=bool)
    plan = SeatPlan([Seating("all", tuple(agents), 1.0, np.zeros(n, dtype=bool), exploring)], [engine.num_envs])
    for learner, seats in stores:
        plan.streams.add(learner, [(env, seat) for env in range(engine.num_envs) for seat in seats])
    return plan


def assert_streams_never_mix(transitions: list[dict[str, Any]]) -> None:
    """Within one stream, each obs is the previous obs_next unless the previous one ended an episode."""
    for prev, cur in pairwise(transitions):
        if prev["terminated"] or prev["truncated"]:
            continue
        np.testing.assert_array_equal(cur["obs"], prev["obs_next"])
        np.testing.assert_array_equal(cur["mask"], prev["mask_next"])


def ttt_planes(x: Sequence[int], o: Sequence[int], seat: int) -> np.ndarray:
    """Expected (3, 3, 2) float planes from ``seat``'s view (seat 0 plays X, seat 1 plays O)."""
    board_x = np.zeros(9, dtype=np.float32)
    board_x[list(x)] = 1
    board_o = np.zeros(9, dtype=np.float32)
    board_o[list(o)] = 1
    own, other = (board_x, board_o) if seat == 0 else (board_o, board_x)
    return np.stack([own.reshape(3, 3), other.reshape(3, 3)], axis=-1)


def legal(taken: Sequence[int]) -> np.ndarray:
    mask = np.ones(9, dtype=np.int8)
    mask[list(taken)] = 0
    return mask


# --------------------------------------------------------------------------------------------
# turn-based game: rewards, termination and obs_next around the end of a game
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tictactoe_win() -> dict[str, Any]:
    """One tic-tac-toe game: X (seat 0) plays 0, 1, 2; O (seat 1) plays 3, 4; X wins on move 5."""
    engine, pool, _ = make_engine({"game": "tictactoe"}, 1)
    x = Recorder(first_legal([0, 1, 2, 5, 6, 7, 8]), name="x")
    o = Recorder(first_legal([3, 4, 5, 6, 7, 8]), name="o")
    result = engine.run(make_plan(engine, [x, o], [(x, [0]), (o, [1])]), max_steps=5, store=True)
    return {"result": result, "x": x.transitions(), "o": o.transitions(), "pool": pool}


def test_tictactoe_game_is_the_scripted_one(tictactoe_win: dict[str, Any]) -> None:
    result = tictactoe_win["result"]
    assert result.steps == 5
    assert len(result.episodes) == 1
    episode = result.episodes[0]
    assert episode.winner == "player_1"
    assert episode.length == 5
    np.testing.assert_array_equal(episode.returns, [1.0, -1.0])
    assert [t["act"] for t in tictactoe_win["x"]] == [0, 1, 2]
    assert [t["act"] for t in tictactoe_win["o"]] == [3, 4]


def test_tictactoe_loser_last_transition(tictactoe_win: dict[str, Any]) -> None:
    last = tictactoe_win["o"][-1]
    assert last["rew"] == -1.0
    assert last["terminated"]
    assert not last["truncated"]
    # the decision it closes: O to move with X on 0, 1 and O on 3
    np.testing.assert_array_equal(last["obs"], ttt_planes([0, 1], [3], seat=1))
    assert last["act"] == 4
    # obs_next is player_2's OWN view of the final board (its O marks in the first plane)
    final = ttt_planes([0, 1, 2], [3, 4], seat=1)
    np.testing.assert_array_equal(last["obs_next"], final)
    assert not np.array_equal(last["obs_next"], ttt_planes([0, 1, 2], [3, 4], seat=0))
    np.testing.assert_array_equal(last["mask_next"], np.zeros(9, dtype=np.int8))


def test_tictactoe_winner_last_transition(tictactoe_win: dict[str, Any]) -> None:
    last = tictactoe_win["x"][-1]
    assert last["rew"] == 1.0
    assert last["terminated"]
    assert not last["truncated"]
    assert last["act"] == 2
    np.testing.assert_array_equal(last["obs"], ttt_planes([0, 1], [3, 4], seat=0))
    np.testing.assert_array_equal(last["obs_next"], ttt_planes([0, 1, 2], [3, 4], seat=0))
    np.testing.assert_array_equal(last["mask_next"], np.zeros(9, dtype=np.int8))


def test_tictactoe_non_final_transitions(tictactoe_win: dict[str, Any]) -> None:
    x, o = tictactoe_win["x"], tictactoe_win["o"]
    # (obs board, mask, act, obs_next board = after the opponent replied, mask_next)
    expected_x = [
        (([], []), [], 0, ([0], [3]), [0, 3]),
        (([0], [3]), [0, 3], 1, ([0, 1], [3, 4]), [0, 1, 3, 4]),
    ]
    expected_o = [(([0], []), [0], 3, ([0, 1], [3]), [0, 1, 3])]
    for transitions, expected, seat in ((x, expected_x, 0), (o, expected_o, 1)):
        for t, (board, taken, act, board_next, taken_next) in zip(transitions, expected):
            assert t["rew"] == 0.0
            assert not t["terminated"]
            assert not t["truncated"]
            assert t["act"] == act
            np.testing.assert_array_equal(t["obs"], ttt_planes(*board, seat=seat))
            np.testing.assert_array_equal(t["mask"], legal(taken))
            np.testing.assert_array_equal(t["obs_next"], ttt_planes(*board_next, seat=seat))
            np.testing.assert_array_equal(t["mask_next"], legal(taken_next))
        assert_streams_never_mix(transitions)


def test_tictactoe_transitions_close_when_the_seat_decides_again(tictactoe_win: dict[str, Any]) -> None:
    # ticks 1..5: X, O, X, O, X(win). A transition is stored when its seat must act again, or
    # at the end of the game for both seats (the loser first, as the game closes it first).
    assert len(tictactoe_win["x"]) == 3
    assert len(tictactoe_win["o"]) == 2
    assert all(t["stream"] == 0 for t in tictactoe_win["x"] + tictactoe_win["o"])


def _replay(rules: Any, moves: Sequence[int]) -> Any:
    rules.reset()
    for i, a in enumerate(moves):
        rules.play(i % 2, a)
    return rules


@pytest.mark.parametrize(
    ("game", "rules", "first", "second", "moves"),
    [
        ("tictactoe", TicTacToeRules(), [0, 1, 2, 5, 6, 7, 8], [3, 4, 5, 6, 7, 8], [0, 3, 1, 4, 2]),
        ("connect_four", ConnectFourRules(), [0], [1], [0, 1, 0, 1, 0, 1, 0]),
    ],
)
def test_board_game_final_transitions_of_both_seats(game, rules, first, second, moves) -> None:
    """The first player wins; both seats' last transitions see their own final planes."""
    engine, _, _ = make_engine({"game": game}, 1)
    p0 = Recorder(first_legal(first), name="first")
    p1 = Recorder(first_legal(second), name="second")
    result = engine.run(make_plan(engine, [p0, p1], [(p0, [0]), (p1, [1])]), max_steps=len(moves), store=True)
    assert len(result.episodes) == 1
    np.testing.assert_array_equal(result.episodes[0].returns, [1.0, -1.0])
    t0, t1 = p0.transitions(), p1.transitions()
    assert [t["act"] for t in t0] == moves[0::2]
    assert [t["act"] for t in t1] == moves[1::2]
    _replay(rules, moves)
    for transitions, seat, reward in ((t0, 0, 1.0), (t1, 1, -1.0)):
        assert [t["rew"] for t in transitions] == [0.0] * (len(transitions) - 1) + [reward]
        assert [bool(t["terminated"]) for t in transitions] == [False] * (len(transitions) - 1) + [True]
        np.testing.assert_array_equal(transitions[-1]["obs_next"], rules.planes(seat).astype(np.float32))
        assert_streams_never_mix(transitions)


# --------------------------------------------------------------------------------------------
# streams
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_env_self_play() -> dict[str, Any]:
    """One recorder fills and stores both seats of 2 tic-tac-toe envs (random legal moves)."""
    engine, pool, _ = make_engine({"game": "tictactoe"}, 2)
    agent = Recorder(seed=7)
    result = engine.run(make_plan(engine, [agent, agent], [(agent, [0, 1])]), max_steps=120, store=True)
    return {"agent": agent, "pool": pool, "result": result}


def test_stream_index_is_env_times_width_plus_local_seat(two_env_self_play: dict[str, Any]) -> None:
    agent, pool = two_env_self_play["agent"], two_env_self_play["pool"]
    transitions = agent.transitions()
    assert {t["stream"] for t in transitions} == {0, 1, 2, 3}
    # the actions each (env, seat) actually played, from the pool's step calls
    played: dict[tuple[int, int], list[int]] = {(e, s): [] for e in range(2) for s in range(2)}
    for ids, actions, _ in pool.steps:
        for pos, env_id in enumerate(ids):
            for seat in range(2):
                if actions[pos, seat] >= 0:
                    played[env_id, seat].append(int(actions[pos, seat]))
    assert played[0, 0] != played[1, 0]  # the two envs played different games
    for (env_id, seat), acts in played.items():
        stored = [int(t["act"]) for t in agent.stream(env_id * 2 + seat)]
        # every action but possibly the last (still open) one was stored, in order
        assert len(acts) - 1 <= len(stored) <= len(acts)
        assert stored == acts[: len(stored)]


def test_stream_local_index_is_the_seat(two_env_self_play: dict[str, Any]) -> None:
    agent = two_env_self_play["agent"]
    for stream in range(4):
        for t in agent.stream(stream):
            own, other = t["obs"][..., 0].sum(), t["obs"][..., 1].sum()
            # X (seat 0) decides with as many marks as O; O (seat 1) with one mark fewer than X
            assert own == (other if stream % 2 == 0 else other - 1)


def test_streams_never_mix(two_env_self_play: dict[str, Any]) -> None:
    agent = two_env_self_play["agent"]
    episodes = two_env_self_play["result"].episodes
    assert len(episodes) >= 4
    dones = 0
    for stream in range(4):
        transitions = agent.stream(stream)
        assert len(transitions) >= 10
        assert_streams_never_mix(transitions)
        dones += sum(bool(t["terminated"]) for t in transitions)
        # the first decision after a finished game is an empty board (X) or one X (O)
        for prev, cur in pairwise(transitions):
            if prev["terminated"]:
                assert cur["obs"].sum() == (0 if stream % 2 == 0 else 1)
    assert dones == 2 * len(episodes)  # both seats close every finished game


def test_every_env_step_of_a_stored_seat_is_accounted(two_env_self_play: dict[str, Any]) -> None:
    agent, result = two_env_self_play["agent"], two_env_self_play["result"]
    # AEC: one decision per env step; at most one open transition per (env, seat) at the end
    assert result.steps - 4 <= len(agent.transitions()) <= result.steps
    returns = np.sum([e.returns for e in result.episodes], axis=0)
    rewards = np.zeros(2)
    for t in agent.transitions():
        if t["terminated"]:
            rewards[t["stream"] % 2] += t["rew"]
    np.testing.assert_allclose(rewards, returns)


# --------------------------------------------------------------------------------------------
# parallel game
# --------------------------------------------------------------------------------------------


def scripted_sequence(actions: Sequence[int]) -> Policy:
    it = iter(actions)

    def fn(obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.array([next(it) for _ in range(len(obs))], dtype=np.int64)

    return fn


def test_parallel_game_one_transition_per_seat_per_step() -> None:
    # prisoner's dilemma (the default matrix game); actions: 0 cooperate, 1 defect
    engine, _, game = make_engine({"game": "matrix_game", "num_rounds": 3}, 1)
    assert game.api == "parallel"
    row = Recorder(batch_fn=scripted_sequence([0, 1, 1]), name="row")
    column = Recorder(batch_fn=scripted_sequence([0, 0, 1]), name="column")
    result = engine.run(make_plan(engine, [row, column], [(row, [0]), (column, [1])]), max_steps=3, store=True)
    assert result.steps == 3
    assert len(result.episodes) == 1
    assert result.episodes[0].length == 3
    # payoffs: (C, C) -> (3, 3); (D, C) -> (5, 0); (D, D) -> (1, 1)
    np.testing.assert_array_equal(result.episodes[0].returns, [3 + 5 + 1, 3 + 0 + 1])
    for agent, rewards in ((row, [3.0, 5.0, 1.0]), (column, [3.0, 0.0, 1.0])):
        transitions = agent.transitions()
        assert len(transitions) == 3  # one transition per step
        assert [t["rew"] for t in transitions] == rewards
        assert [bool(t["terminated"]) for t in transitions] == [False, False, True]
        assert not any(t["truncated"] for t in transitions)
        assert_streams_never_mix(transitions)
    # observations: one-hot own last action, one-hot opponent's last action, first-round flag
    r, c = row.transitions(), column.transitions()
    np.testing.assert_array_equal(r[0]["obs"], [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(r[0]["obs_next"], [1, 0, 1, 0, 0])  # (C, C)
    np.testing.assert_array_equal(r[1]["obs_next"], [0, 1, 1, 0, 0])  # row D, column C
    np.testing.assert_array_equal(c[1]["obs_next"], [1, 0, 0, 1, 0])  # column's own view
    np.testing.assert_array_equal(r[2]["obs_next"], [0, 1, 0, 1, 0])  # final (D, D)
    np.testing.assert_array_equal(c[2]["obs_next"], [0, 1, 0, 1, 0])


def test_parallel_game_streams_over_episodes() -> None:
    engine, _, _ = make_engine({"game": "matrix_game", "num_rounds": 3}, 2)
    agent = Recorder(seed=3)
    result = engine.run(make_plan(engine, [agent, agent], [(agent, [0, 1])]), max_steps=2 * 10, store=True)
    assert result.steps == 20  # 10 ticks of 2 envs
    assert len(result.episodes) == 6  # each env: 3 full games of 3 rounds (9 ticks), one round more
    assert sum(len(call["streams"]) for call in agent.stored) == 4 * 10  # (2 envs x 2 seats) per tick
    for stream in range(4):
        transitions = agent.stream(stream)
        assert len(transitions) == 10
        assert [bool(t["terminated"]) for t in transitions] == [False, False, True] * 3 + [False]
        assert_streams_never_mix(transitions)
        # a new game starts with the first-round flag set
        for i in (0, 3, 6, 9):
            assert transitions[i]["obs"][-1] == 1.0


# --------------------------------------------------------------------------------------------
# a seat acting several times in a row (robot delivery with random_num_steps)
# --------------------------------------------------------------------------------------------


def test_random_num_steps_one_transition_per_action() -> None:
    engine, pool, game = make_engine({"game": "robot_delivery", "random_num_steps": True}, 1, seeds=[5])
    assert len(game.seats) == 2
    red, blue = Recorder(seed=1, name="red"), Recorder(seed=2, name="blue")
    result = engine.run(make_plan(engine, [red, blue], [(red, [0]), (blue, [1])]), max_steps=80, store=True)
    assert result.steps == 80
    assert not result.episodes  # no game ends this early: no episode boundary below
    actor = []
    step_rew = []
    for ids, actions, infos in pool.steps:
        assert ids == [0]
        acting = np.flatnonzero(actions[0] >= 0).tolist()
        assert len(acting) == 1  # turn-based: one seat per env step
        actor.append(acting[0])
        step_rew.append(np.asarray(infos[0].rewards, dtype=np.float64))
        # only the acting robot is rewarded by a step
        assert np.all(step_rew[-1][1 - acting[0]] == 0.0)
    assert any(a == b for a, b in pairwise(actor)), "the seed should give a turn of several steps"
    for seat, learner in ((0, red), (1, blue)):
        steps = [i for i, a in enumerate(actor) if a == seat]
        transitions = learner.transitions()
        # one transition per action; the seat's last action may still be open
        assert len(steps) - 1 <= len(transitions) <= len(steps)
        assert all(set(call["streams"].tolist()) == {0} for call in learner.stored)  # one env, one seat each
        for t, step, following in zip(transitions, steps, [*steps[1:], None]):
            assert t["act"] == pool.steps[step][1][0, seat]
            # the reward of the seat's own step, plus what it received until it acted again (0 here)
            expected = step_rew[step][seat] + sum(r[seat] for r in step_rew[step + 1 : following])
            assert t["rew"] == pytest.approx(expected)
            assert t["rew"] == pytest.approx(step_rew[step][seat])
            assert not t["terminated"] and not t["truncated"]
        assert_streams_never_mix(transitions)
    # a seat acting twice in a row: its transition closes after one step, on its own next decision
    i = next(i for i, (a, b) in enumerate(pairwise(actor)) if a == b)
    seat = actor[i]
    k = [j for j, a in enumerate(actor) if a == seat].index(i)
    t, t_next = (red, blue)[seat].transitions()[k : k + 2]
    np.testing.assert_array_equal(t["obs_next"], t_next["obs"])
    assert t["rew"] == pytest.approx(step_rew[i][seat])


# --------------------------------------------------------------------------------------------
# per-env auto-reset and episode quotas
# --------------------------------------------------------------------------------------------


def test_episode_quota_per_env() -> None:
    engine, pool, _ = make_engine({"game": "tictactoe"}, 2)
    plan = make_plan(engine, [RandomAgent(seed=0), RandomAgent(seed=1)])
    result = engine.run(plan, episodes_per_env=[3, 1])
    assert len(result.episodes) == 4
    assert Counter(e.env_id for e in result.episodes) == {0: 3, 1: 1}
    lengths = {env_id: [e.length for e in result.episodes if e.env_id == env_id] for env_id in (0, 1)}
    assert result.steps == sum(lengths[0]) + sum(lengths[1])
    steps_of = {env_id: [i for i, (ids, _, _) in enumerate(pool.steps) if env_id in ids] for env_id in (0, 1)}
    assert len(steps_of[0]) == sum(lengths[0])
    # env 1 took exactly the steps of its one episode (its first ticks), then was never stepped again
    assert steps_of[1] == list(range(lengths[1][0]))
    ids, _, infos = pool.steps[steps_of[1][-1]]
    assert infos[ids.index(1)].episode is not None  # its last step ended its game
    assert all(ids == [0] for ids, _, _ in pool.steps[lengths[1][0] :])


def test_episode_quota_zero_leaves_env_alone() -> None:
    engine, pool, _ = make_engine({"game": "tictactoe"}, 2)
    plan = make_plan(engine, [RandomAgent(seed=0), RandomAgent(seed=1)])
    result = engine.run(plan, episodes_per_env=[0, 2])
    assert Counter(e.env_id for e in result.episodes) == {1: 2}
    assert all(ids == [1] for ids, _, _ in pool.steps)


def test_envs_reset_on_their_own() -> None:
    # games of different lengths: an env that finished starts a new game at once (no waiting)
    engine, pool, _ = make_engine({"game": "tictactoe"}, 3)
    plan = make_plan(engine, [RandomAgent(seed=0), RandomAgent(seed=1)])
    result = engine.run(plan, max_steps=3 * 30)
    assert all(ids == [0, 1, 2] for ids, _, _ in pool.steps)
    assert len(result.episodes) >= 9  # a tic-tac-toe game lasts 5 to 9 moves
    for env_id in range(3):
        # each finished game's length is counted from its own reset
        assert all(5 <= e.length <= 9 for e in result.episodes if e.env_id == env_id)


# --------------------------------------------------------------------------------------------
# batching: one forward pass per agent per tick
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("game", "rows_per_env"), [("tictactoe", 1), ("matrix_game", 2)])
def test_self_play_one_act_call_per_tick(game: str, rows_per_env: int) -> None:
    engine, pool, _ = make_engine({"game": game}, 4)
    agent = Recorder(seed=0)
    result = engine.run(make_plan(engine, [agent, agent], [(agent, [0, 1])]), max_steps=4 * 12, store=True)
    ticks = len(pool.steps)
    assert ticks == 12
    assert agent.act_batch_sizes == [4 * rows_per_env] * ticks
    assert result.steps == 4 * ticks


def test_two_agents_at_most_one_call_each_per_tick() -> None:
    engine, pool, _ = make_engine({"game": "tictactoe"}, 4)
    first, second = Recorder(seed=0, name="first"), Recorder(seed=1, name="second")
    calls: list[tuple[int, str]] = []  # (tick, agent) of every act() call
    for agent in (first, second):
        original = agent.act

        def act(obs, mask, explore, _original=original, _name=agent.name):
            calls.append((len(pool.steps), _name))
            return _original(obs, mask, explore)

        agent.act = act  # type: ignore[method-assign]
    engine.run(make_plan(engine, [first, second]), max_steps=4 * 30)
    assert len(pool.steps) == 30
    assert max(Counter(calls).values()) == 1  # at most one call per agent per tick
    assert {tick for tick, _ in calls} == set(range(30))
    assert sum(first.act_batch_sizes) + sum(second.act_batch_sizes) == 4 * 30  # one row per env per tick
    assert first.act_batch_sizes[0] == 4  # every game opens with seat 0 (all 4 rows in one call)
    assert (0, "second") not in calls


def test_explore_flags_follow_the_seats() -> None:
    engine, _, _ = make_engine({"game": "matrix_game"}, 3)
    seen: list[np.ndarray] = []

    def policy(obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.zeros(len(obs), dtype=np.int64)

    class Spy(Recorder):
        def act(self, obs, mask, explore):
            seen.append(np.array(explore, copy=True))
            return super().act(obs, mask, explore)

    agent = Spy(batch_fn=policy)
    plan = make_plan(engine, [agent, agent], explore=[True, False])
    engine.run(plan, max_steps=3, explore=True)
    engine.run(plan, max_steps=3, explore=False)
    np.testing.assert_array_equal(seen[0], [True, False] * 3)
    np.testing.assert_array_equal(seen[1], [False] * 6)


# --------------------------------------------------------------------------------------------
# illegal actions
# --------------------------------------------------------------------------------------------


class MaskBreaker(Agent):
    """Picks a masked-out action whenever there is one; counts how often it did."""

    name = "mask-breaker"

    def __init__(self) -> None:
        self.illegal = 0

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        out = np.zeros(len(obs), dtype=np.int64)
        for i, m in enumerate(mask):
            blocked = np.flatnonzero(m == 0)
            if len(blocked) and m.any():
                out[i] = blocked[0]
                self.illegal += 1
            else:
                out[i] = int(np.flatnonzero(m)[0]) if m.any() else 0
        return out


def test_illegal_actions_are_counted() -> None:
    # robot delivery treats a masked-out action as a pass, so the game goes on
    engine, _, _ = make_engine({"game": "robot_delivery"}, 2)
    breaker = MaskBreaker()
    result = engine.run(make_plan(engine, [breaker, RandomAgent(seed=0)]), max_steps=60)
    assert breaker.illegal > 0
    assert result.illegal_actions == breaker.illegal


def test_legal_agents_count_no_illegal_actions() -> None:
    engine, _, _ = make_engine({"game": "robot_delivery"}, 2)
    result = engine.run(make_plan(engine, [RandomAgent(seed=0), ScriptedAgent(first_legal(range(5)))]), max_steps=60)
    assert result.illegal_actions == 0


# --------------------------------------------------------------------------------------------
# time-limit endings: truncated, never terminated, on both engine paths
# --------------------------------------------------------------------------------------------

TIME_LIMIT_GAME = {"robot_colors": ["r", "b", "gr"], "required_mail": 4, "max_step": 9}
"""Three robots, one step per turn, and a limit of 9 steps: no team can deliver 4 letters in 3 moves,
so every game ends by its time limit after each robot acted 3 times."""


def _time_limit_run(batch: bool, learner: Learner, num_envs: int = 2, games: int = 2) -> Any:
    factory = game_factory(TIME_LIMIT_GAME, None)
    info = describe_game(factory)
    pool = make_pool(factory, num_envs, "dummy", batch=batch)
    assert isinstance(pool, BatchGamePool) == batch
    engine = RolloutEngine(pool, len(info.seats))
    engine.start([31 + env for env in range(num_envs)])
    seats = list(range(len(info.seats)))
    plan = make_plan(engine, [learner] * len(seats), [(learner, seats)], explore=[True] * len(seats))
    learner.attach_memory(num_envs * len(seats), 64, 16)
    result = engine.run(plan, episodes_per_env=[games] * num_envs, explore=True, store=True)
    assert len(result.episodes) == num_envs * games
    assert all(e.length == TIME_LIMIT_GAME["max_step"] for e in result.episodes)  # every game hit the limit
    return info


@pytest.mark.parametrize("batch", [False, True], ids=["per-game pool", "batch pool"])
def test_a_time_limit_ending_is_stored_as_truncated_for_every_seat_it_closes(batch: bool) -> None:
    """A game cut by its time limit did not terminate: every seat's last transition of it is stored with
    ``truncated`` and without ``terminated`` (DQN then still bootstraps from its next observation)."""
    recorder = Recorder(seed=4)
    info = _time_limit_run(batch, recorder)
    for stream in range(2 * len(info.seats)):
        rows = recorder.stream(stream)
        assert len(rows) == 6, stream  # 3 decisions per game, 2 games
        assert [bool(t["terminated"]) for t in rows] == [False] * 6, stream
        assert [bool(t["truncated"]) for t in rows] == [False, False, True] * 2, stream


@pytest.mark.parametrize("batch", [False, True], ids=["per-game pool", "batch pool"])
def test_a_dqn_memory_keeps_time_limit_endings_bootstrappable(batch: bool) -> None:
    """The same through a DQN learner's stream memory: no stored row is terminated, the 12 rows that
    close a game are truncated (done), and the n-step walk stops there without zeroing the bootstrap."""
    factory = game_factory(TIME_LIMIT_GAME, None)
    info = describe_game(factory)
    learner = dqn_agent(info.observation_spaces[0], info.action_spaces[0], seed=1, hidden_sizes=(8,), buffer_size=600)
    _time_limit_run(batch, learner)
    memory = learner.memory
    assert memory is not None and len(memory) == 2 * len(info.seats) * 6
    rows = memory.sample_indices(0)  # every stored row
    assert len(rows) == len(memory)
    assert not memory.terminated[rows].any()
    ends = rows[memory.truncated[rows]]
    assert len(ends) == 2 * 2 * len(info.seats)
    np.testing.assert_array_equal(memory.done[rows], memory.truncated[rows])
    # a one-step target at a time-limit end still adds gamma * Q(obs_next)
    batch = nstep_returns(memory[ends], memory, ends, lambda _, i: torch.ones(len(i)), gamma=0.5, n_step=1)
    np.testing.assert_allclose(batch.returns.numpy().reshape(-1), memory.rew[ends] + 0.5)
