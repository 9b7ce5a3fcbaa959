"""The board games' batch twins are their rules, game for game, and the trainer on them is the trainer
on the per-game path.

``TicTacToeEnv.batch_rules`` / ``ConnectFourEnv.batch_rules`` (:mod:`games.board_batch`) hold many
games in arrays. Driven by the same moves as the envs (the rules classes under the AEC layer), they
show both seats the same observations (the planes, of the same shape) and masks, give the same rewards and
end the same games with the same winners; the trainer on the batch path gives the same statistics,
stored transitions and weights as with ``batch_games=False``, and a training state written on one
path resumes on the other.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import assert_same_run, statistics_without_timings
from test_classic_games import CONNECT_FOUR_SCRIPTS, TICTACTOE_SCRIPTS

from games.board_batch import BatchConnectFourRules, BatchTicTacToeRules, lines_through_cells
from games.connect_four import ConnectFourEnv
from games.tictactoe import LINES, TicTacToeEnv
from rbtrainer import DecentralizedTrainer, RandomAgent, dqn_agent, progress_hook
from rbtrainer.envs import BatchGamePool, GameError, GamePool, game_factory, make_pool
from rbtrainer.envs.adapters import episode_seed
from rbtrainer.run.state import read_training_state

ENVS = {"tictactoe": TicTacToeEnv, "connect_four": ConnectFourEnv}


def _view(env: Any, agent: str) -> tuple[np.ndarray, np.ndarray]:
    """What the per-game path takes from ``observe``: float32 planes and the mask."""
    raw = env.observe(agent)
    return raw["observation"].astype(np.float32), raw["action_mask"]


def _assert_views_equal(batch: Any, game: int, env: Any) -> None:
    """Both seats' observations and masks of ``game`` are those the env shows them."""
    seats = np.arange(2)
    games = np.full(2, game)
    observations, masks = batch.observations(games, seats), batch.masks(games, seats)
    assert observations.dtype == np.float32 and masks.dtype == np.int8
    for seat, agent in enumerate(env.possible_agents):
        obs, mask = _view(env, agent)
        np.testing.assert_array_equal(observations[seat], obs)
        np.testing.assert_array_equal(masks[seat], mask)


@pytest.mark.parametrize("name", sorted(ENVS))
def test_batch_games_equal_the_envs_move_for_move(name: str) -> None:
    num_games, rng = 12, np.random.default_rng(len(name))
    envs = [ENVS[name]() for _ in range(num_games)]
    batch = envs[0].batch_rules(num_games)
    assert batch.num_games == num_games and batch.num_seats == 2
    batch.reset(np.arange(num_games), list(range(num_games)))
    for g, env in enumerate(envs):
        env.reset(seed=g)
    endings: dict[str | None, int] = {}
    for tick in range(1500):
        games = np.flatnonzero(rng.random(num_games) < 0.7)  # a varying subset of games moves each tick
        actions = []
        for g in games.tolist():
            env = envs[g]
            _assert_views_equal(batch, g, env)
            assert env.agent_selection == env.possible_agents[batch.acting(np.array([g]))[0]]
            actions.append(int(rng.choice(np.flatnonzero(_view(env, env.agent_selection)[1]))))
        rewards = batch.play(games, np.array(actions, dtype=np.int64))
        assert rewards.shape == (len(games), 2) and rewards.dtype == np.float64
        terminated, truncated = batch.ended(games)
        assert not truncated.any()
        for row, (g, action) in enumerate(zip(games.tolist(), actions)):
            env = envs[g]
            env.step(action)
            assert rewards[row].tolist() == [env.rewards[a] for a in env.possible_agents], (tick, g)
            assert bool(terminated[row]) == all(env.terminations.values()) == bool(batch.over[g]), (tick, g)
            _assert_views_equal(batch, g, env)  # after the move: the next mover's view, or the final views
            if terminated[row]:
                winner = env.infos[env.possible_agents[0]]["winner"]
                assert batch.outcome(g) == (winner, float(np.count_nonzero(batch.board[g])))
                endings[winner] = endings.get(winner, 0) + 1
                seed = int(rng.integers(0, 2**31))
                batch.reset([g], [seed])
                env.reset(seed=seed)
    assert sum(endings.values()) >= 200 and all(endings.get(who, 0) > 0 for who in envs[0].possible_agents)
    if name == "tictactoe":
        assert endings.get(None, 0) > 0  # draws (connect four's: the scripted games below)


def test_the_line_tables_are_the_rules_lines() -> None:
    through = lines_through_cells(3, 3, 3)
    for cell in range(9):
        assert {tuple(line) for line in through[cell].tolist()} == {line for line in LINES if cell in line}
    connect_four = lines_through_cells(6, 7, 4)
    assert len({tuple(line) for cell in connect_four.tolist() for line in cell}) == 69  # 24 + 21 + 12 + 12


def _pool_pair(name: str, num_envs: int) -> tuple[BatchGamePool, GamePool]:
    factory = game_factory({"game": name}, None)
    batch, per_game = make_pool(factory, num_envs, "dummy", batch=True), make_pool(factory, num_envs, "dummy")
    assert isinstance(batch, BatchGamePool) and type(per_game) is GamePool
    return batch, per_game


@pytest.mark.parametrize("name", sorted(ENVS))
def test_the_batch_pool_plays_the_per_game_pools_games_and_puts_them_back(name: str) -> None:
    num_envs, rng = 4, np.random.default_rng(3)
    pool, per_game = _pool_pair(name, num_envs)
    assert pool.game_names() == per_game.game_names()
    decisions = []
    for env_id in range(num_envs):
        ours, theirs = pool.reset(env_id, seed=20 + env_id), per_game.reset(env_id, seed=20 + env_id)
        assert ours.seats == theirs.seats
        decisions.append(theirs)
    ids, episodes = np.arange(num_envs), 0
    for _ in range(120):
        seat, obs, mask = pool.decisions(ids)
        assert seat.tolist() == [d.seats[0] for d in decisions]
        np.testing.assert_array_equal(obs, np.stack([d.obs[0] for d in decisions]))
        np.testing.assert_array_equal(mask, np.stack([d.masks[0] for d in decisions]))
        act = (rng.random(mask.shape) * mask).argmax(axis=1)
        step = pool.step_batch(ids, act)
        actions = np.full((num_envs, 2), -1)
        actions[ids, seat] = act
        reports = per_game.step(actions, list(ids))
        decisions = [r.next for r in reports]
        np.testing.assert_array_equal(step.rewards, np.stack([r.rewards for r in reports]))
        ended = [r for r in reports if r.episode is not None]
        assert step.ended.tolist() == [r.episode is not None for r in reports]
        for ours, report in zip(step.episodes, ended):
            theirs = report.episode
            assert theirs is not None
            assert (ours.env_id, ours.length, ours.winner, ours.time_span) == (
                theirs.env_id,
                theirs.length,
                theirs.winner,
                theirs.time_span,
            )
            np.testing.assert_array_equal(ours.returns, theirs.returns)
        for row, report in enumerate(ended):  # every seat's final view, as the game closed it
            for closed in report.closed:
                np.testing.assert_array_equal(step.final_obs[row, closed.seat], closed.obs)
                np.testing.assert_array_equal(step.final_masks[row, closed.seat], closed.mask)
            assert [c.terminated and not c.truncated for c in report.closed] == [True, True]
        episodes += len(ended)
    assert episodes >= 8
    points = pool.replay_points()
    assert points == per_game.replay_points() and any(p is not None and p.game > 0 for p in points)
    fresh, _ = _pool_pair(name, num_envs)
    for env_id, point in enumerate(points):
        assert point is not None
        restored = fresh.restore(env_id, point)
        np.testing.assert_array_equal(restored.obs[0], pool.decision(env_id).obs[0])
    assert fresh.replay_points() == points
    per_game.close()


@pytest.mark.parametrize("name", sorted(ENVS))
def test_an_illegal_move_is_a_game_error_on_both_paths(name: str) -> None:
    """The rules refuse an occupied square or a full column; either pool closes with a GameError."""
    filled = [0, 0, 0, 0, 0, 0] if name == "connect_four" else [0]
    errors = []
    for pool in _pool_pair(name, 2):
        for env_id in range(2):
            pool.reset(env_id, seed=env_id)
        with pytest.raises(GameError) as caught:
            for action in [*filled, 0]:
                if isinstance(pool, BatchGamePool):
                    pool.step_batch(np.array([1]), np.array([action]))
                else:
                    pool.step(np.array([[action, action]]), [1])
        assert pool.closed
        errors.append(caught.value)
    assert [e.error_type for e in errors] == ["ValueError", "ValueError"]
    assert [e.env_ids for e in errors] == [(1,), (1,)]
    assert errors[1].error_message in errors[0].error_message  # the batch rules name the game too
    assert errors[0].error_message.startswith("game 1: ")


@pytest.mark.parametrize("cls", [BatchTicTacToeRules, BatchConnectFourRules])
def test_bad_calls_raise_and_change_nothing(cls: type) -> None:
    batch = cls(3)
    with pytest.raises(ValueError, match="game 0 is over or was never reset"):
        batch.play(np.array([0]), np.array([1]))
    batch.reset([0, 1, 2], [1, None, 3])
    batch.play(np.array([0, 1]), np.array([2, 3]))
    noun, taken = ("square", "is already taken") if cls is BatchTicTacToeRules else ("column", "is full")
    if cls is BatchConnectFourRules:
        for _ in range(5):  # column 2 of game 0 filled, the players alternating (no line)
            batch.play(np.array([0]), np.array([2]))
    before = [batch.board.copy(), batch.heights.copy(), batch.moves.copy(), batch.to_move.copy(), batch.over.copy()]
    top = batch.num_actions - 1
    with pytest.raises(ValueError, match=rf"game 1: action must be a {noun} index in 0\.\.{top}, got {top + 1}"):
        batch.play(np.array([0, 1]), np.array([0, top + 1]))
    with pytest.raises(ValueError, match=f"game 0: {noun} 2 {taken}; pick a {noun} whose action_mask entry is 1"):
        batch.play(np.array([2, 0]), np.array([0, 2]))
    with pytest.raises(ValueError, match="once per call"):
        batch.play(np.array([2, 2]), np.array([0, 1]))
    with pytest.raises(TypeError, match="integers"):
        batch.play(np.array([2]), np.array([1.0]))
    with pytest.raises(ValueError, match="one action per game"):
        batch.play(np.array([0, 2]), np.array([1]))
    with pytest.raises(ValueError, match=r"0\.\.2"):
        batch.reset([3], [0])
    with pytest.raises(ValueError, match="one seed per game"):
        batch.reset([0, 1], [0])
    with pytest.raises(ValueError, match=r"reset\(\) takes seed=None or a non-negative int"):
        batch.reset([0], [-1])
    with pytest.raises(TypeError, match=r"reset\(\) takes seed=None"):
        batch.reset([0], ["7"])
    with pytest.raises(ValueError, match="num_games"):
        cls(0)
    after = [batch.board, batch.heights, batch.moves, batch.to_move, batch.over]
    for now, then in zip(after, before):
        np.testing.assert_array_equal(now, then)


SCRIPTS = [
    pytest.param("tictactoe", moves, winner, id=f"tictactoe-{name}")
    for name, (moves, winner) in TICTACTOE_SCRIPTS.items()
] + [
    pytest.param("connect_four", moves, winner, id=f"connect_four-{name}")
    for name, (moves, winner) in CONNECT_FOUR_SCRIPTS.items()
]


@pytest.mark.parametrize(("name", "moves", "winner"), SCRIPTS)
def test_scripted_wins_and_draws_end_alike(name: str, moves: list[int], winner: str | None) -> None:
    """The scripted games of the classic-game tests (every line direction, draws, a win on a full board)."""
    env = ENVS[name]()
    batch = env.batch_rules(2)
    env.reset(seed=None)
    batch.reset([0, 1], [None, None])
    for move in moves:
        _assert_views_equal(batch, 1, env)
        rewards = batch.play(np.array([1]), np.array([move]))
        env.step(move)
        assert rewards[0].tolist() == [env.rewards[a] for a in env.possible_agents]
    _assert_views_equal(batch, 1, env)
    assert batch.over.tolist() == [False, True] and all(env.terminations.values())
    assert batch.outcome(1) == (winner, float(len(moves))) and env.infos[env.possible_agents[0]]["winner"] == winner
    assert not batch.board[0].any()


# --------------------------------------------------------------------------------------------
# the trainer on both paths
# --------------------------------------------------------------------------------------------

RUN = {
    "num_train_envs": 4,
    "num_test_envs": 3,
    "episodes_per_train": 40,
    "episodes_per_test": 9,
    "test_freq": 10,
    "update_freq": 40,
    "batch_size": 16,
    "progress_bar": False,
    "seed": 5,
}


def _learner(trainer: DecentralizedTrainer) -> Any:
    return dqn_agent(
        trainer.observation_space(0), trainer.action_space(0), seed=1, hidden_sizes=(16,), n_step=3, epsilon=0.4
    )


def _train(name: str, batch: bool) -> tuple[DecentralizedTrainer, Any, Any, Any]:
    trainer = DecentralizedTrainer({"game": name}, batch_games=batch, **RUN)
    learner = _learner(trainer)
    stats = trainer.train([learner, learner], [True, True], plot=False)  # self-play
    tested = trainer.test([RandomAgent(seed=2), RandomAgent(seed=3)])
    return trainer, learner, stats, tested


@pytest.mark.parametrize("name", sorted(ENVS))
def test_batch_path_trains_and_tests_exactly_as_the_per_game_path(name: str) -> None:
    per_game, batch = _train(name, batch=False), _train(name, batch=True)
    assert type(per_game[0]._train_engine.pool) is GamePool
    assert type(batch[0]._train_engine.pool) is BatchGamePool
    assert (
        batch[2].collected_episodes >= RUN["episodes_per_train"] and batch[3].num_episodes == RUN["episodes_per_test"]
    )
    assert_same_run(batch, per_game)


def _resumable(batch: bool, **extra: Any) -> tuple[DecentralizedTrainer, list[Any]]:
    trainer = DecentralizedTrainer({"game": "tictactoe"}, batch_games=batch, **{**RUN, **extra})
    learner = _learner(trainer)
    return trainer, [learner, RandomAgent(seed=4)]


@pytest.mark.parametrize("write_batch", [False, True], ids=["per-game to batch", "batch to per-game"])
def test_a_training_state_of_one_path_resumes_on_the_other(write_batch: bool, tmp_path: Any) -> None:
    trainer, seats = _resumable(write_batch)
    with trainer:
        whole = trainer.train(seats, [True, False], plot=False)
    state = tmp_path / "state.pt"
    trainer, seats = _resumable(write_batch, state_path=str(state), state_memory=True)
    trainer.test_fn = progress_hook(lambda p: trainer.request_stop() if p.episodes >= 20 else None)
    with trainer:
        stopped = trainer.train(seats, [True, False], plot=False)
    assert stopped.interrupted and stopped.collected_episodes < whole.collected_episodes
    saved = read_training_state(state).engine
    assert any(saved["open"]) and any(len(env["actions"]) for env in saved["envs"])  # games under way
    assert all(np.asarray(env["next_obs"]).shape == (1, 3, 3, 2) for env in saved["envs"])  # both paths
    trainer, seats = _resumable(not write_batch)
    with trainer:
        resumed = trainer.train(seats, [True, False], plot=False, resume=state)
    assert statistics_without_timings(resumed) == statistics_without_timings(whole)


def test_episode_seeds_do_not_matter_to_the_board_games() -> None:
    """The games have no randomness: a game replayed under another seed is the same game."""
    assert episode_seed(5, 1) != episode_seed(5, 0)
    batch = BatchTicTacToeRules(2)
    batch.reset([0, 1], [episode_seed(5, 0), episode_seed(5, 1)])
    batch.play(np.array([0, 1]), np.array([4, 4]))
    np.testing.assert_array_equal(batch.board[0], batch.board[1])


class ShapeRecorder(RandomAgent):
    """Random play that records the shape of every observation batch it is shown."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed=seed)
        self.shapes: set[tuple[int, ...]] = set()

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        self.shapes.add(obs.shape[1:])
        return super().act(obs, mask, explore)


@pytest.mark.parametrize(("game", "planes"), [("tictactoe", (3, 3, 2)), ("connect_four", (6, 7, 2))])
def test_agents_see_the_observation_spaces_shape_on_either_path(game: str, planes: tuple[int, ...]) -> None:
    for batch in (True, False):
        with DecentralizedTrainer({"game": game}, batch_games=batch, num_test_envs=4, episodes_per_test=8) as trainer:
            assert trainer.observation_space(0).shape == planes
            agents = [ShapeRecorder(seed=1), ShapeRecorder(seed=2)]
            trainer.test(agents)
            assert agents[0].shapes == agents[1].shapes == {planes}, (batch, agents[0].shapes)
