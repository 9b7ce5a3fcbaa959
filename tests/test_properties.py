"""Property-based tests (Hypothesis).

* Games stepped with arbitrary action sequences (legal moves, masked-out moves, out-of-range
  indices, floats, ``None``, bools, strings, lists, resets with arbitrary seeds) raise only their
  documented errors, exactly when documented, leave the game untouched when they refuse, and keep
  their invariants (board consistency and results for the board games; for robot delivery: robots
  inside the grid on distinct cells, mail conserved, scores equal to deliveries, battery within
  bounds, rewards matching what happened; payoffs and rounds for the matrix game).
* Configuration objects (``DQNConfig``, ``PPOConfig``, ``TrainerConfig`` and the
  ``DecentralizedTrainer`` constructor) given values of mixed types either construct a valid
  configuration or raise ``TypeError``/``ValueError`` naming an argument, never anything else.

Profiles, chosen with the ``RBTRAINER_HYPOTHESIS_PROFILE`` environment variable: ``ci`` (the
default) is derandomized, keeps no example database and does not shrink, so CI runs are
reproducible and quick even when they fail; ``debug`` replays the same examples and shrinks a
failure to a small one; ``thorough`` draws ten times the examples afresh.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from games.connect_four import ConnectFourEnv
from games.matrix_game import PAYOFFS, MatrixGameEnv
from games.robot_delivery import AStarAgent, GameOverError, RobotDeliveryEnv
from games.robot_delivery.board import BLUE, DIRECTIONS, GREEN, RED, YELLOW
from games.robot_delivery.rules import BATTERY_CAPACITY
from games.tictactoe import TicTacToeEnv
from games.two_player import TwoPlayerBoardEnv
from rbtrainer import DecentralizedTrainer
from rbtrainer.agents.builders import DQNConfig, PPOConfig
from rbtrainer.trainer import TrainerConfig

# --------------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------------

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    # no shrinking: a failing game script is long, and shrinking it can take minutes; the
    # "debug" profile replays the same examples and shrinks the failure
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=_HEALTH,
)
settings.register_profile(
    "debug", deadline=None, derandomize=True, database=None, print_blob=True, suppress_health_check=_HEALTH
)
settings.register_profile("thorough", deadline=None, suppress_health_check=_HEALTH)
_SCALES = {"ci": 1, "debug": 1, "thorough": 10}
_PROFILE = os.environ.get("RBTRAINER_HYPOTHESIS_PROFILE", "ci")
if _PROFILE not in _SCALES:
    raise ValueError(f"RBTRAINER_HYPOTHESIS_PROFILE must be one of {sorted(_SCALES)}, got {_PROFILE!r}")
_SCALE = _SCALES[_PROFILE]


def examples(n: int) -> settings:
    """The profile's settings with ``n`` examples (times the profile's scale)."""
    return settings(settings.get_profile(_PROFILE), max_examples=n * _SCALE)


# --------------------------------------------------------------------------------------------
# Strategies shared by the tests
# --------------------------------------------------------------------------------------------

SEEDS: st.SearchStrategy[object] = st.one_of(
    st.none(),
    st.integers(min_value=-3, max_value=2**70),
    st.builds(np.int64, st.integers(-3, 2**40)),
    st.builds(np.uint32, st.integers(0, 2**32 - 1)),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["0", b"1", (1,), np.bool_(True), np.float64(3.0)]),
)


def seed_error(seed: object) -> type[Exception] | None:
    """What ``reset(seed=seed)`` must raise (None: it must start a game)."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        return TypeError
    return ValueError if seed < 0 else None


def wild_actions(num_actions: int) -> st.SearchStrategy[object]:
    """Action values of every kind: in and out of range, NumPy scalars, non-integers, bools."""
    return st.one_of(
        st.integers(-2, num_actions + 1),
        st.integers(),
        st.builds(np.int64, st.integers(-2, num_actions + 1)),
        st.builds(np.uint8, st.integers(0, num_actions + 1)),
        st.sampled_from([None, True, False, np.bool_(True), np.bool_(False)]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.builds(np.float32, st.integers(0, num_actions)),
        st.text(max_size=2),
        st.lists(st.integers(0, num_actions), max_size=2),
    )


@dataclass(frozen=True)
class Move:
    """One thing a test does to a game: ``legal`` (the ``value``-th legal action, or ``None`` for
    a finished agent), ``astar`` (``value`` steps of the robot game's scripted agent), ``wild``
    (``value`` as the action), ``reset`` (with ``value`` as the seed), and two moves made with
    the robot game's scenario tools so that short games reach the battery rules: ``energy`` (set
    the battery of the robot to move to ``value``) and ``park`` (also put it on a free charging
    cell)."""

    kind: str
    value: object


_ENERGIES = st.one_of(st.floats(0.0, BATTERY_CAPACITY), st.sampled_from([0.0, 1e-15, 4.0, 7.0, 8.5, 9.5, 10.0]))


def moves(
    num_actions: int, weights: dict[str, int], min_size: int = 0, max_size: int = 80
) -> st.SearchStrategy[list[Move]]:
    """Lists of ``min_size..max_size`` moves, a move of kind ``k`` drawn with weight ``weights[k]``."""
    values = {
        "legal": st.integers(0, 1000),
        "astar": st.integers(1, 25),
        "wild": wild_actions(num_actions),
        "reset": SEEDS,
        "energy": _ENERGIES,
        "park": _ENERGIES,
    }
    kinds = [kind for kind, weight in weights.items() for _ in range(weight)]
    move = st.sampled_from(kinds).flatmap(lambda kind: st.builds(Move, st.just(kind), values[kind]))
    return st.integers(min_size, max_size).flatmap(lambda n: st.lists(move, min_size=n, max_size=n))


def attempt(call: Callable[[], object], expected: type[Exception] | None) -> Exception | None:
    """Run ``call``; it must raise exactly ``expected`` (or nothing when ``expected`` is None)."""
    event(f"refused with {expected.__name__}" if expected is not None else "accepted")
    if expected is None:
        call()
        return None
    with pytest.raises(expected) as info:
        call()
    assert type(info.value) is expected, f"expected {expected.__name__}, got {type(info.value).__name__}"
    return info.value


# --------------------------------------------------------------------------------------------
# Board games (tic-tac-toe, connect four)
# --------------------------------------------------------------------------------------------

_TTT_LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))


def _ttt_winners(grid: np.ndarray) -> set[int]:
    flat = grid.reshape(-1)
    return {int(flat[a]) for a, b, c in _TTT_LINES if flat[a] != 0 and flat[a] == flat[b] == flat[c]}


def _c4_winners(grid: np.ndarray) -> set[int]:
    rows, cols = grid.shape
    found: set[int] = set()
    for r in range(rows):
        for c in range(cols):
            v = int(grid[r, c])
            if v == 0:
                continue
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + i * dr, c + i * dc) for i in range(4)]
                if all(0 <= y < rows and 0 <= x < cols and grid[y, x] == v for y, x in cells):
                    found.add(v)
    return found


def _ttt_legal(grid: np.ndarray) -> np.ndarray:
    return (grid.reshape(-1) == 0).astype(np.int8)


def _c4_legal(grid: np.ndarray) -> np.ndarray:
    return (grid[0] == 0).astype(np.int8)


@dataclass(frozen=True)
class BoardGame:
    make: Callable[[], TwoPlayerBoardEnv]
    num_actions: int
    winners: Callable[[np.ndarray], set[int]]
    legal: Callable[[np.ndarray], np.ndarray]
    gravity: bool


BOARD_GAMES = {
    "tictactoe": BoardGame(TicTacToeEnv, 9, _ttt_winners, _ttt_legal, gravity=False),
    "connect_four": BoardGame(ConnectFourEnv, 7, _c4_winners, _c4_legal, gravity=True),
}


def board_expected(env: TwoPlayerBoardEnv, num_actions: int, action: object) -> type[Exception] | None:
    """The documented outcome of ``env.step(action)`` (games/two_player.py)."""
    if not env.agents:
        return ValueError
    if isinstance(action, (bool, np.bool_)):
        return TypeError
    agent = env.agent_selection
    if env.terminations[agent] or env.truncations[agent]:
        return None if action is None else ValueError
    try:
        a = operator.index(action)  # type: ignore[arg-type]
    except TypeError:
        return TypeError
    if not 0 <= a < num_actions:
        return ValueError
    return None if env.observe(agent)["action_mask"][a] else ValueError


def board_snapshot(env: TwoPlayerBoardEnv) -> tuple[Any, ...]:
    views = tuple(env.observe(a)["observation"].tobytes() for a in env.possible_agents)
    return (
        list(env.agents),
        env.agent_selection if env.agents else None,
        views,
        dict(env.rewards),
        dict(env._cumulative_rewards),
        dict(env.terminations),
        dict(env.truncations),
    )


def check_board(env: TwoPlayerBoardEnv, game: BoardGame, placed: int, ended_now: bool) -> None:
    """Invariants of a board game after a successful step or reset."""
    first, second = env.possible_agents
    view0 = env.observe(first)["observation"]
    view1 = env.observe(second)["observation"]
    assert view0.dtype == np.int8 and set(np.unique(view0)) <= {0, 1}
    np.testing.assert_array_equal(view0[..., 0], view1[..., 1])
    np.testing.assert_array_equal(view0[..., 1], view1[..., 0])
    assert not (view0[..., 0] & view0[..., 1]).any(), "a cell holds two pieces"
    grid = view0[..., 0].astype(np.int64) + 2 * view0[..., 1].astype(np.int64)
    n0, n1 = int(view0[..., 0].sum()), int(view0[..., 1].sum())
    assert n0 - n1 in (0, 1), "the first player moves first and the players alternate"
    assert n0 + n1 == placed
    if game.gravity:
        for column in grid.T:
            filled = column != 0
            assert not (filled[:-1] & ~filled[1:]).any(), "a piece floats above an empty cell"
    winners = game.winners(grid)
    assert len(winners) <= 1, "both players have a line"
    over = bool(winners) or not (grid == 0).any()
    winner = None if not winners else env.possible_agents[winners.pop() - 1]
    final = {first: 0.0, second: 0.0}
    if winner is not None:
        final = {a: (1.0 if a == winner else -1.0) for a in env.possible_agents}
    if not over:
        assert env.agents == [first, second]
        assert not any(env.terminations.values()) and not any(env.truncations.values())
        mover = env.possible_agents[n0 - n1]
        assert env.agent_selection == mover
        np.testing.assert_array_equal(env.observe(mover)["action_mask"], game.legal(grid))
        assert not env.observe(env.possible_agents[1 - (n0 - n1)])["action_mask"].any()
        assert env.rewards == {first: 0.0, second: 0.0}
        assert env._cumulative_rewards == {first: 0.0, second: 0.0}
        assert env.infos == {first: {}, second: {}}
        return
    for agent in env.agents:
        assert env.terminations[agent] and not env.truncations[agent]
        assert env.infos[agent] == {"winner": winner}
        assert env._cumulative_rewards[agent] == final[agent]
        assert env.rewards[agent] == (final[agent] if ended_now else 0.0)
        assert not env.observe(agent)["action_mask"].any()


@pytest.mark.parametrize("name", sorted(BOARD_GAMES))
@examples(60)
@given(script=st.data())
def test_board_games_under_arbitrary_moves(name: str, script: st.DataObject) -> None:
    game = BOARD_GAMES[name]
    env = game.make()
    env.reset(seed=0)
    placed = 0
    for move in script.draw(
        moves(game.num_actions, {"legal": 12, "wild": 3, "reset": 1}, min_size=5, max_size=80), label="moves"
    ):
        before = board_snapshot(env)
        if move.kind == "reset":
            expected = seed_error(move.value)
            error = attempt(lambda: env.reset(seed=move.value), expected)  # type: ignore[arg-type]  # noqa: B023
            if error is None:
                placed = 0
                check_board(env, game, placed, ended_now=False)
            else:
                assert "seed" in str(error) and env.metadata["name"] in str(error)
                assert board_snapshot(env) == before
            continue
        if move.kind == "legal":
            if not env.agents:
                env.reset()
                placed = 0
                continue
            agent = env.agent_selection
            if env.terminations[agent]:
                action: object = None
            else:
                legal = np.flatnonzero(env.observe(agent)["action_mask"])
                action = int(legal[int(move.value) % len(legal)])  # type: ignore[call-overload]
        else:
            action = move.value
        expected = board_expected(env, game.num_actions, action)
        actor = env.agent_selection if env.agents else None
        alive = actor is not None and not env.terminations[actor]
        error = attempt(lambda: env.step(action), expected)  # type: ignore[arg-type]  # noqa: B023
        if error is not None:
            assert board_snapshot(env) == before, "a refused step changed the game"
            if isinstance(error, TypeError):
                assert f"{actor}: action must be an integer in 0..{game.num_actions - 1}" in str(error)
            continue
        if alive:
            placed += 1
        ended_now = alive and all(env.terminations.values())
        if ended_now:
            event(f"game ended: {env.infos[env.possible_agents[0]]['winner']}")
        check_board(env, game, placed, ended_now=ended_now)


# --------------------------------------------------------------------------------------------
# Robot delivery
# --------------------------------------------------------------------------------------------

ROBOT_CONFIGS = st.fixed_dictionaries(
    {
        "robot_colors": st.sampled_from([("r", "b"), ("r", "b", "gr"), ("x", "y")]),
        "num_robots_per_player": st.integers(1, 2),
        "required_mail": st.integers(1, 2),
        "with_battery": st.booleans(),
        "random_num_steps": st.booleans(),
        "max_step": st.integers(1, 300),
    }
)


def robot_expected(env: RobotDeliveryEnv, action: object) -> type[Exception] | None:
    """The documented outcome of ``env.step(action)`` (games/robot_delivery/env.py)."""
    if not env.agents:
        return GameOverError
    if isinstance(action, (bool, np.bool_)):
        return TypeError
    agent = env.agent_selection
    if env.terminations[agent] or env.truncations[agent]:
        return None if action is None else ValueError
    if action is None:
        return ValueError
    try:
        a = operator.index(action)  # type: ignore[arg-type]
    except TypeError:
        return TypeError
    return None if 0 <= a <= 4 else ValueError


@dataclass
class RobotSnapshot:
    agents: list[str]
    selection: str | None
    positions: list[tuple[int, int]]
    mail: list[int]
    delivered: list[int]
    energy: list[float]
    stand_count: list[int]
    scores: dict[str, int]
    green_mail: dict[int, int]
    num_steps: int
    clock: int
    rewards: dict[str, float]
    flags: tuple[dict[str, bool], dict[str, bool]]

    @classmethod
    def of(cls, env: RobotDeliveryEnv) -> RobotSnapshot:
        robots = [env.robots[a] for a in env.possible_agents]
        return cls(
            agents=list(env.agents),
            selection=env.agent_selection if env.agents else None,
            positions=[r.position for r in robots],
            mail=[r.mail for r in robots],
            delivered=[r.delivered for r in robots],
            energy=[r.energy for r in robots],
            stand_count=[r.stand_count for r in robots],
            scores=env.scores,
            green_mail=dict(env.game.green_mail),
            num_steps=env.num_steps,
            clock=env.game_clock,
            rewards=dict(env.rewards),
            flags=(dict(env.terminations), dict(env.truncations)),
        )


def check_robot_state(env: RobotDeliveryEnv) -> None:
    """Invariants that hold in every state of the robot game."""
    game, board, cfg = env.game, env.game.board, env.config
    robots = [env.robots[a] for a in env.possible_agents]
    cells = [board.cell(*r.position) for r in robots]
    assert len(set(cells)) == len(cells), "two robots share a cell"
    for k, (robot, cell) in enumerate(zip(robots, cells)):
        x, y = robot.position
        assert 0 <= x < board.size and 0 <= y < board.size, f"{robot.name} left the grid"
        assert game.occupant[cell] == k
        color = board.color[cell]
        assert color != RED, f"{robot.name} stands on a wall"
        assert robot.mail == 0 or robot.mail in board.mail_numbers
        if color == YELLOW:
            assert robot.mail == 0, "a robot on a delivery cell still carries mail"
        if color == GREEN:
            assert robot.mail != 0 and robot.mail == game.green_mail[cell], "a robot on a pick-up cell has its mail"
        assert 0.0 <= robot.energy <= BATTERY_CAPACITY, f"{robot.name}'s battery is out of bounds"
        assert robot.battery == math.ceil(robot.energy)
        if not cfg.with_battery:
            assert robot.energy == BATTERY_CAPACITY
        assert robot.stand_count >= 0
        mask = env.observe(robot.name)["action_mask"]
        assert mask.dtype == np.int8 and set(np.unique(mask)) <= {0, 1}
        if robot.battery == 0:
            assert not mask[1:].any(), "a robot with an empty battery may move"
    assert sum(game.occupant[c] >= 0 for c in range(board.num_cells)) == len(robots)
    assert sorted(game.green_mail) == sorted(board.green_cells)
    assert all(m in board.mail_numbers for m in game.green_mail.values())
    scores = env.scores
    for p, player in enumerate(cfg.robot_colors):
        team = range(p * cfg.num_robots_per_player, (p + 1) * cfg.num_robots_per_player)
        assert scores[player] == sum(robots[k].delivered for k in team), "a team's score is not its deliveries"
        assert scores[player] <= env.required_mail
    reached = [c for c in cfg.robot_colors if scores[c] >= env.required_mail]
    assert len(reached) <= 1
    assert game.terminated == bool(reached)
    assert env.winner == (reached[0] if reached else None)
    assert env.num_steps <= cfg.max_step and env.game_clock <= env.num_steps
    assert game.truncated == (env.num_steps >= cfg.max_step)
    shape = (cfg.features_per_robot * cfg.num_robots,)
    for robot in robots:
        obs = env.observe(robot.name)["observation"]
        assert obs.dtype == np.float32 and obs.shape == shape
        assert ((obs >= 0.0) & (obs <= 1.0)).all()
        assert obs[0] == np.float32(robot.position[0] / board.position_scale)
        assert obs[1] == np.float32(robot.position[1] / board.position_scale)
    for agent in env.agents:
        assert env.terminations[agent] == game.terminated and env.truncations[agent] == game.truncated
        if game.game_over:
            assert env.infos[agent] == {"winner": env.winner, "game_clock": env.game_clock}


def check_robot_step(
    env: RobotDeliveryEnv, before: RobotSnapshot, after: RobotSnapshot, k: int, action: int, mask: np.ndarray
) -> None:
    """What one successful step of alive robot ``k`` may change, and how it is rewarded."""
    board, cfg = env.game.board, env.config
    actor = env.possible_agents[k]
    reward = after.rewards[actor]
    assert all(r == 0.0 for a, r in after.rewards.items() if a != actor), "a robot other than the actor is rewarded"
    assert env._cumulative_rewards[actor] == reward
    assert after.num_steps == before.num_steps + 1
    for o in range(len(env.possible_agents)):
        if o == k:
            continue
        assert after.positions[o] == before.positions[o] and after.mail[o] == before.mail[o]
        assert after.delivered[o] == before.delivered[o] and after.stand_count[o] == before.stand_count[o]
        if after.energy[o] != before.energy[o]:  # bystander charging: on blue, when the actor moved
            assert board.color[board.cell(*after.positions[o])] == BLUE and after.clock == before.clock + 1
            assert after.energy[o] > before.energy[o]
    moved = after.positions[k] != before.positions[k]
    assert after.clock == before.clock + moved
    delivered = after.delivered[k] - before.delivered[k]
    assert delivered in (0, 1)
    assert sum(after.scores.values()) == sum(before.scores.values()) + delivered
    if not mask[action]:  # a pass: the turn is used, nothing else happens
        assert reward == pytest.approx(-0.1)
        assert not moved and after.mail[k] == before.mail[k] and after.stand_count[k] == before.stand_count[k]
        assert after.energy[k] == before.energy[k]
        return
    cell = board.cell(*after.positions[k])
    if action == 0:
        assert not moved and after.stand_count[k] == before.stand_count[k] + 1
        on_blue = board.color[cell] == BLUE
        assert reward == (0.0 if on_blue else pytest.approx(-0.1))
        if after.energy[k] != before.energy[k]:
            assert on_blue and after.energy[k] > before.energy[k]
        return
    dx, dy = DIRECTIONS[action]
    assert after.positions[k] == (before.positions[k][0] + dx, before.positions[k][1] + dy)
    assert after.stand_count[k] == 0
    assert after.energy[k] <= before.energy[k]
    if cfg.with_battery and before.energy[k] > 0:
        assert after.energy[k] < before.energy[k], "a move costs battery"
    color = board.color[cell]
    if color == GREEN:
        assert reward == 1.0 and before.mail[k] == 0 and after.mail[k] == before.green_mail[cell]
    elif color == YELLOW:
        assert reward == 5.0 and delivered == 1 and after.mail[k] == 0
        assert board.target[cell] == before.mail[k], "mail delivered to the wrong station"
    else:
        assert reward == (1.0 if color == BLUE else pytest.approx(-0.1))
        assert after.mail[k] == before.mail[k] and delivered == 0


def scenario(env: RobotDeliveryEnv, move: Move) -> None:
    """Set the battery of the robot to move (``energy``), after putting it on a free blue cell (``park``)."""
    game = env.game
    k = env.possible_agents.index(env.agent_selection)
    if move.kind == "park":
        free = [c for c in game.board.blue_cells if game.occupant[c] < 0]
        if not free or not env.config.with_battery:
            return
        game.place(k, *game.board.xy(free[0]))
    game.set_energy(k, move.value)  # type: ignore[arg-type]


def _one_step_each(script: list[Move]) -> list[Move]:
    """``astar`` moves of ``n`` steps as ``n`` single steps (``Move("astar", None)``)."""
    out: list[Move] = []
    for move in script:
        if move.kind == "astar":
            out.extend([Move("astar", None)] * operator.index(move.value))  # type: ignore[arg-type]
        else:
            out.append(move)
    return out


@examples(40)
@given(config=ROBOT_CONFIGS, seed=st.integers(0, 2**32 - 1), script=st.data())
def test_robot_delivery_under_arbitrary_moves(config: dict[str, Any], seed: int, script: st.DataObject) -> None:
    env = RobotDeliveryEnv(**config)
    astar = AStarAgent(env.config.num_robots, with_battery=env.config.with_battery, seed=seed)
    env.reset(seed=seed)
    check_robot_state(env)
    pickups = deliveries = 0
    weights = {"astar": 4, "legal": 4, "wild": 3, "reset": 1, "energy": 1, "park": 1}
    drawn = script.draw(moves(5, weights, min_size=5, max_size=40), "moves")
    for move in _one_step_each(drawn):
        before = RobotSnapshot.of(env)
        if move.kind in ("energy", "park"):
            if env.agents:
                scenario(env, move)
                check_robot_state(env)
            continue
        if move.kind == "reset":
            error = attempt(lambda: env.reset(seed=move.value), seed_error(move.value))  # type: ignore[arg-type]  # noqa: B023
            if error is None:
                pickups = deliveries = 0
                check_robot_state(env)
            else:
                assert "seed" in str(error) and "robot_delivery_v0" in str(error)
                assert RobotSnapshot.of(env) == before
            continue
        if move.kind in ("legal", "astar") and not env.agents:
            env.reset()
            pickups = deliveries = 0
            check_robot_state(env)
            continue
        agent = env.agent_selection if env.agents else None
        alive = agent is not None and not (env.terminations[agent] or env.truncations[agent])
        if move.kind == "wild" or not alive:
            action: object = move.value if move.kind == "wild" else None
        else:
            assert agent is not None
            view = env.observe(agent)
            if move.kind == "astar":
                action = astar.act(view["observation"], view["action_mask"])
            else:
                legal = np.flatnonzero(view["action_mask"])
                action = int(legal[int(move.value) % len(legal)]) if len(legal) else 0  # type: ignore[call-overload]
        mask = env.observe(agent)["action_mask"].copy() if agent is not None else np.zeros(5, np.int8)
        error = attempt(lambda: env.step(action), robot_expected(env, action))  # type: ignore[arg-type]  # noqa: B023
        after = RobotSnapshot.of(env)
        if error is not None:
            assert after == before, "a refused step changed the game"
            if isinstance(error, TypeError):
                assert f"{agent}: action must be an integer in 0..4" in str(error)
            continue
        check_robot_state(env)
        if not alive:
            assert agent not in env.agents and after.num_steps == before.num_steps
            continue
        assert agent is not None
        k = env.possible_agents.index(agent)
        check_robot_step(env, before, after, k, operator.index(action), mask)  # type: ignore[arg-type]
        if before.mail[k] == 0 and after.mail[k] != 0:
            pickups += 1
        deliveries += after.delivered[k] - before.delivered[k]
        if after.delivered[k] > before.delivered[k]:
            event("mail delivered")
        if any(a > b for a, b in zip(after.energy, before.energy)):
            event("battery charged")
        if env.game.game_over and not before.flags[0][agent] and not before.flags[1][agent]:
            event(f"game ended ({'won' if env.winner else 'truncated'})")
        carried = sum(m != 0 for m in after.mail)
        assert pickups - deliveries == carried, "mail appeared or vanished"
        assert deliveries == sum(after.scores.values())


# --------------------------------------------------------------------------------------------
# Matrix game (parallel)
# --------------------------------------------------------------------------------------------

MATRIX_AGENTS = ("player_0", "player_1")
_KEYS = st.sampled_from([*MATRIX_AGENTS, "player_9", 0])


def matrix_actions() -> st.SearchStrategy[object]:
    both = st.fixed_dictionaries({a: st.one_of(st.integers(0, 2), wild_actions(3)) for a in MATRIX_AGENTS})
    return st.one_of(
        both,
        both,
        both,
        st.dictionaries(_KEYS, st.integers(0, 2), max_size=3),
        st.sampled_from([None, [0, 1], (0, 1), "01", 0]),
    )


def matrix_expected(env: MatrixGameEnv, actions: object) -> type[Exception] | None:
    """The documented outcome of ``env.step(actions)`` (games/matrix_game.py)."""
    if not env.agents:
        return ValueError
    if not isinstance(actions, dict):
        return TypeError
    if set(actions) != set(env.agents):
        return ValueError
    values = [actions[a] for a in MATRIX_AGENTS]
    indices = []
    for v in values:
        if isinstance(v, (bool, np.bool_)):
            return TypeError
        try:
            indices.append(operator.index(v))
        except TypeError:
            return TypeError
    return None if all(0 <= a < n for a, n in zip(indices, env.game.num_actions)) else ValueError


@examples(60)
@given(
    preset=st.sampled_from(sorted(PAYOFFS)),
    num_rounds=st.integers(1, 6),
    script=st.lists(st.one_of(matrix_actions(), st.builds(Move, st.just("reset"), SEEDS)), max_size=30),
)
def test_matrix_game_under_arbitrary_action_dicts(preset: str, num_rounds: int, script: list[object]) -> None:
    env = MatrixGameEnv(preset=preset, num_rounds=num_rounds)
    env.reset(seed=0)
    payoffs = PAYOFFS[preset]
    for item in script:
        state = (list(env.agents), env.game.round, env.game.last)
        if isinstance(item, Move):
            error = attempt(lambda: env.reset(seed=item.value), seed_error(item.value))  # type: ignore[arg-type]  # noqa: B023
            if error is not None:
                assert "seed" in str(error) and "matrix_game_v0" in str(error)
                assert (list(env.agents), env.game.round, env.game.last) == state
            else:
                assert env.agents == list(MATRIX_AGENTS) and env.game.round == 0
            continue
        expected = matrix_expected(env, item)
        result = None

        def step(actions: object = item) -> None:
            nonlocal result
            result = env.step(actions)  # type: ignore[arg-type]

        error = attempt(step, expected)
        if error is not None:
            assert (list(env.agents), env.game.round, env.game.last) == state, "a refused step changed the game"
            if isinstance(error, TypeError) and isinstance(item, dict) and set(item) == set(MATRIX_AGENTS):
                assert any(f"{a}" in str(error) for a in MATRIX_AGENTS)
            continue
        assert isinstance(item, dict) and result is not None
        obs, rewards, terminations, truncations, _ = result
        a0, a1 = (operator.index(item[a]) for a in MATRIX_AGENTS)
        assert (rewards["player_0"], rewards["player_1"]) == tuple(float(r) for r in payoffs[a0][a1])
        assert env.game.round == state[1] + 1 and env.game.last == (a0, a1)
        done = env.game.round >= num_rounds
        assert terminations == dict.fromkeys(MATRIX_AGENTS, done)
        assert truncations == dict.fromkeys(MATRIX_AGENTS, False)
        assert env.agents == ([] if done else list(MATRIX_AGENTS))
        for i, agent in enumerate(MATRIX_AGENTS):
            assert env.observation_space(agent).contains(obs[agent])
            own, other = env.game.num_actions[i], env.game.num_actions[1 - i]
            mine, theirs = (a0, a1) if i == 0 else (a1, a0)
            expected_obs = np.zeros(own + other + 1, dtype=np.float32)
            expected_obs[mine] = expected_obs[own + theirs] = 1.0
            np.testing.assert_array_equal(obs[agent], expected_obs)


# --------------------------------------------------------------------------------------------
# Configurations
# --------------------------------------------------------------------------------------------

# Ints reach beyond a float's range (10**400): number settings must refuse them with ValueError.
_INTS = st.integers(min_value=-(10**400), max_value=10**400)
_SCALARS: st.SearchStrategy[object] = st.one_of(
    _INTS,
    st.integers(-3, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 0.5, 1.0, 1e-4, 0.99, 2.0]),
    st.booleans(),
    st.none(),
    st.text(max_size=6),
    st.sampled_from(["ppo", "a2c", "dqn", "dummy", "subproc", "ray", "", "plots", "run.pt"]),
    st.builds(np.int64, st.integers(-3, 300)),
    st.builds(np.float64, st.floats(allow_nan=True, allow_infinity=True)),
    st.sampled_from([np.bool_(True), np.float32(0.5), np.float32("nan")]),
)
MIXED: st.SearchStrategy[object] = st.one_of(
    _SCALARS,
    st.tuples(st.integers(-3, 300)),
    st.tuples(st.integers(1, 64), st.integers(1, 64)),
    st.lists(_SCALARS, max_size=3).map(tuple),
    st.lists(st.integers(-3, 64), max_size=3),
)


def _fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


_WORDS = ("ppo", "a2c", "dummy", "subproc", "ray", "plots")


def _plausible(default: object, max_int: int) -> st.SearchStrategy[object]:
    """Values of a field's own type and range, mostly valid (so that configurations also construct)."""
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, int):
        return st.integers(0, max_int)
    if isinstance(default, float):
        return st.floats(0.0, 1.0)
    if isinstance(default, str):
        return st.sampled_from(sorted({default, *_WORDS}))
    if isinstance(default, tuple):
        return st.lists(st.integers(1, 64), max_size=3).map(tuple)
    return st.none()


def arguments(
    plausible: dict[str, st.SearchStrategy[object]], wild: st.SearchStrategy[object]
) -> st.SearchStrategy[dict[str, object]]:
    """Some arguments with plausible values, then up to three of them replaced by ``wild`` values."""
    names = sorted(plausible)
    return st.tuples(
        st.fixed_dictionaries({}, optional=plausible), st.dictionaries(st.sampled_from(names), wild, max_size=3)
    ).map(lambda pair: {**pair[0], **pair[1]})


def config_kwargs(
    cls: type, wild: st.SearchStrategy[object] = MIXED, max_int: int = 10**6
) -> st.SearchStrategy[dict[str, object]]:
    """Keyword arguments for ``cls`` (fields left out keep their defaults)."""
    return arguments({f.name: _plausible(f.default, max_int) for f in dataclasses.fields(cls)}, wild)


def construct(build: Callable[[], Any], kwargs: dict[str, object]) -> Any:
    """Build, or check the refusal is a ``TypeError``/``ValueError`` naming a given argument."""
    try:
        built = build()
    except (TypeError, ValueError) as err:
        assert any(name in str(err) for name in kwargs), f"{type(err).__name__} names no argument: {err}"
        event(f"refused with {type(err).__name__}")
        return None
    event("constructed")
    return built


def _is_int(value: object) -> bool:
    return type(value) is int


def _number_ok(cfg: Any, name: str, low: float, high: float, low_open: bool = False) -> None:
    value = float(getattr(cfg, name))
    assert math.isfinite(value) and (low < value if low_open else low <= value) and value <= high, (name, value)


def _widths_ok(widths: object) -> None:
    assert isinstance(widths, tuple) and all(_is_int(w) and w >= 1 for w in widths), widths


def _flag_ok(value: object) -> None:
    assert isinstance(value, (bool, np.bool_)), value


@examples(200)
@given(kwargs=config_kwargs(DQNConfig))
def test_dqn_config_constructs_or_refuses(kwargs: dict[str, object]) -> None:
    cfg = construct(lambda: DQNConfig(**kwargs), kwargs)  # type: ignore[arg-type]
    if cfg is None:
        return
    _widths_ok(cfg.hidden_sizes)
    _number_ok(cfg, "lr", 0.0, 1.0, low_open=True)
    _number_ok(cfg, "gamma", 0.0, 1.0)
    _number_ok(cfg, "alpha", 0.0, 1.0, low_open=True)
    _number_ok(cfg, "beta", 0.0, 1.0)
    _number_ok(cfg, "epsilon", 0.0, 1.0)
    for name in ("n_step", "buffer_size"):
        assert operator.index(getattr(cfg, name)) >= 1
    assert operator.index(cfg.target_update_freq) >= 0
    for name in ("double", "dueling", "prioritized"):
        _flag_ok(getattr(cfg, name))


@examples(200)
@given(kwargs=config_kwargs(PPOConfig))
def test_ppo_config_constructs_or_refuses(kwargs: dict[str, object]) -> None:
    cfg = construct(lambda: PPOConfig(**kwargs), kwargs)  # type: ignore[arg-type]
    if cfg is None:
        return
    assert cfg.algorithm in ("ppo", "a2c")
    _widths_ok(cfg.hidden_sizes)
    _number_ok(cfg, "lr", 0.0, 1.0, low_open=True)
    _number_ok(cfg, "gamma", 0.0, 1.0)
    _number_ok(cfg, "gae_lambda", 0.0, 1.0)
    _number_ok(cfg, "eps_clip", 0.0, 1.0, low_open=True)
    _number_ok(cfg, "ent_coef", 0.0, 1.0)
    _number_ok(cfg, "vf_coef", 0.0, 10.0)
    _number_ok(cfg, "max_grad_norm", 0.0, 1e6, low_open=True)
    for name in ("repeat", "buffer_size"):
        assert operator.index(getattr(cfg, name)) >= 1


def check_trainer_config(cfg: TrainerConfig) -> None:
    for name in (
        "num_train_envs",
        "num_test_envs",
        "batch_size",
        "update_freq",
        "test_freq",
        "episodes_per_train",
        "episodes_per_test",
        "state_every",
    ):
        assert operator.index(getattr(cfg, name)) >= 1, name
    _number_ok(cfg, "update_per_step", 0.0, 1000.0)
    _flag_ok(cfg.shared_memory)
    _flag_ok(cfg.progress_bar)
    assert cfg.seed is None or operator.index(cfg.seed) >= 0
    assert cfg.torch_threads is None or operator.index(cfg.torch_threads) >= 1
    assert cfg.backend in ("dummy", "subproc", "ray")
    assert isinstance(cfg.plot_dir, str)
    assert cfg.plot_name is None or (isinstance(cfg.plot_name, str) and cfg.plot_name)
    assert cfg.state_path is None or (isinstance(cfg.state_path, str) and cfg.state_path)
    assert cfg.state_memory is None or isinstance(cfg.state_memory, (bool, np.bool_))
    assert cfg.step_timeout is None or 0.0 < float(cfg.step_timeout) <= 7 * 24 * 3600.0


@examples(200)
@given(kwargs=config_kwargs(TrainerConfig))
def test_trainer_config_constructs_or_refuses(kwargs: dict[str, object]) -> None:
    cfg = construct(lambda: TrainerConfig(**kwargs), kwargs)  # type: ignore[arg-type]
    if cfg is not None:
        check_trainer_config(cfg)


def _hook(*args: object) -> None:
    return None


# The constructor spawns one seed per env at once, so counts are kept small here to keep the test
# fast (counts above rbtrainer.validation.MAX_ENVS are refused; TrainerConfig is tested with large ints).
_SMALL_INTS = st.integers(-(2**10), 2**10)
_TRAINER_SCALARS: st.SearchStrategy[object] = st.one_of(
    _SMALL_INTS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, 0.0, 0.5, 1.0]),
    st.booleans(),
    st.none(),
    st.text(max_size=6),
    st.sampled_from(["dummy", "subproc", "ray", "", "plots"]),
    st.builds(np.int64, st.integers(-3, 64)),
    st.sampled_from([np.bool_(True), np.float32("nan")]),
)
_TRAINER_VALUES: st.SearchStrategy[object] = st.one_of(
    _TRAINER_SCALARS, st.tuples(_SMALL_INTS), st.lists(_TRAINER_SCALARS, max_size=2).map(tuple)
)
_HOOKS = ("train_fn", "test_fn", "save_best_fn", "save_last_fn", "stop_fn", "reward_metric", "logger")
_TRAINER_PLAUSIBLE = {
    **{f.name: _plausible(f.default, 64) for f in dataclasses.fields(TrainerConfig)},
    **dict.fromkeys(_HOOKS, st.one_of(st.none(), st.just(_hook))),
}


@examples(120)
@given(kwargs=arguments(_TRAINER_PLAUSIBLE, _TRAINER_VALUES))
def test_decentralized_trainer_arguments_construct_or_refuse(kwargs: dict[str, object]) -> None:
    """The constructor builds one game to read its spaces (no env pools); its arguments are checked first."""
    env_args = {"game": "matrix_game", "num_rounds": 2}
    trainer = construct(lambda: DecentralizedTrainer(env_args, **kwargs), kwargs)  # type: ignore[arg-type]
    if trainer is None:
        return
    check_trainer_config(trainer.config)
    assert trainer._train_engine is None and trainer._test_engine is None, "construction built env pools"
    assert len(trainer._train_seeds) == trainer.config.num_train_envs
    for hook in _HOOKS[:-2]:
        assert getattr(trainer, hook) is None or callable(getattr(trainer, hook))
    assert callable(trainer.reward_metric)
