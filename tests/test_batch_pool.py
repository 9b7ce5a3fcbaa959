"""Batch-native pools: the engine's array path plays the same games as the per-game path.

Robot delivery has a batch twin (``RobotDeliveryEnv.batch_rules``; the board games' twins are
tested in ``tests/test_board_batch.py``); with ``batch_games`` on the dummy backend the trainer
steps it through :class:`BatchGamePool`. The same seeds must give the same statistics, the same
stored transitions and the same learned weights as the per-game PettingZoo path, in training, in
test rounds and in tournaments.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import assert_same_run

from games.robot_delivery import RobotDeliveryEnv
from rbtrainer import DecentralizedTrainer, RandomAgent, dqn_agent
from rbtrainer.envs import BatchGamePool, GameError, GamePool, Pool, game_factory, make_pool
from rbtrainer.envs.adapters import ReplayPoint
from rbtrainer.evaluation import tournament

GAME = {"robot_colors": ["r", "b", "gr"], "required_mail": 2, "max_step": 90}
"""Three robots, short games that often end in a win."""
RUN = {
    "num_train_envs": 4,
    "num_test_envs": 3,
    "episodes_per_train": 24,
    "episodes_per_test": 6,
    "test_freq": 12,
    "update_freq": 50,
    "batch_size": 16,
    "progress_bar": False,
    "seed": 5,
}


def _train(env_args: dict[str, Any], batch: bool) -> tuple[DecentralizedTrainer, Any, Any, Any]:
    trainer = DecentralizedTrainer(env_args, batch_games=batch, **RUN)
    learner = dqn_agent(
        trainer.observation_space(0), trainer.action_space(0), seed=1, hidden_sizes=(16,), n_step=3, epsilon=0.4
    )
    seats = range(trainer.num_seats)  # the learner in two seats of three, a random player in the third
    agents = [RandomAgent(seed=2) if k % 3 == 1 else learner for k in seats]
    stats = trainer.train(agents, [k % 3 != 1 for k in seats], plot=False)
    tested = trainer.test([learner if k == 0 else RandomAgent(seed=3 + k) for k in seats])
    return trainer, learner, stats, tested


@pytest.mark.parametrize(
    "env_args",
    [GAME, {**GAME, "with_battery": True, "random_num_steps": True, "num_robots_per_player": 2, "max_step": 120}],
    ids=["3 robots", "2x3 robots, battery, random steps"],
)
def test_batch_path_trains_and_tests_exactly_as_the_per_game_path(env_args: dict[str, Any]) -> None:
    per_game, batch = _train(env_args, batch=False), _train(env_args, batch=True)
    assert type(per_game[0]._train_engine.pool) is GamePool
    assert type(batch[0]._train_engine.pool) is BatchGamePool
    assert_same_run(batch, per_game)


def test_tournaments_rotate_seats_alike_on_both_paths() -> None:
    results = []
    for batch in (False, True):
        trainer = DecentralizedTrainer(GAME, num_test_envs=4, seed=2, progress_bar=False, batch_games=batch)
        entrants = {"a": RandomAgent(seed=1), "b": RandomAgent(seed=2)}
        results.append(tournament(trainer, entrants, 4, seed=7).table())
    assert results[0] == results[1]


def test_make_pool_uses_the_batch_twin_only_for_registry_games_that_have_one_in_process() -> None:
    robot = game_factory({"game": "robot_delivery", **GAME}, None)
    assert isinstance(make_pool(robot, 3, "dummy", batch=True), BatchGamePool)
    assert type(make_pool(robot, 3, "dummy")) is GamePool
    pool = make_pool(robot, 2, "subproc", batch=True)
    assert type(pool) is GamePool
    pool.close()
    assert isinstance(pool, Pool) and isinstance(make_pool(robot, 3, "dummy", batch=True), Pool)  # one protocol
    for name in ("tictactoe", "connect_four"):
        assert isinstance(make_pool(game_factory({"game": name}, None), 2, "dummy", batch=True), BatchGamePool)
    assert type(make_pool(game_factory({"game": "matrix_game"}, None), 2, "dummy", batch=True)) is GamePool

    class Shaped(RobotDeliveryEnv):  # a subclass may change the rules: it keeps the per-game path
        pass

    assert type(make_pool(game_factory(GAME, Shaped), 2, "dummy", batch=True)) is GamePool
    assert type(make_pool(game_factory(GAME, RobotDeliveryEnv), 2, "dummy", batch=True)) is GamePool


def _batch_pool(num_envs: int = 3, **game: Any) -> BatchGamePool:
    pool = make_pool(game_factory({**GAME, **game}, None), num_envs, "dummy", batch=True)
    assert isinstance(pool, BatchGamePool)
    return pool


def test_replay_points_put_a_game_back_and_match_the_per_game_pool() -> None:
    pool = _batch_pool()
    per_game = make_pool(game_factory(GAME, None), 3, "dummy")
    rng = np.random.default_rng(0)
    for env_id in range(3):
        assert pool.reset(env_id, seed=40 + env_id).seats == per_game.reset(env_id, seed=40 + env_id).seats
    ids = np.arange(3)
    for _ in range(150):  # past at least one game end, so game numbers move on
        seat, _, mask = pool.decisions(ids)
        act = (rng.random(mask.shape) * mask).argmax(axis=1)
        step = pool.step_batch(ids, act)
        actions = np.full((3, 3), -1)
        actions[ids, seat] = act
        reports = per_game.step(actions, list(ids))
        np.testing.assert_array_equal(step.rewards, np.stack([r.rewards for r in reports]))
        assert [e.env_id for e in step.episodes] == [r.episode.env_id for r in reports if r.episode is not None]
    points = pool.replay_points()
    assert points == per_game.replay_points()
    assert any(p is not None and p.game > 0 for p in points)
    fresh = _batch_pool()
    for env_id, point in enumerate(points):
        assert point is not None
        decision = fresh.restore(env_id, point)
        np.testing.assert_array_equal(decision.obs[0], pool.decision(env_id).obs[0])
    assert fresh.replay_points() == points
    per_game.close()


def test_a_replay_that_ends_the_game_is_refused() -> None:
    pool = _batch_pool(1, max_step=3)
    pool.reset(0, seed=1)
    with pytest.raises(RuntimeError, match="ended while replaying"):
        pool.restore(0, ReplayPoint(1, 0, ((0, -1, -1), (-1, 0, -1), (-1, -1, 0))))


def test_a_game_error_closes_the_pool_with_a_game_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = _batch_pool(2)
    pool.reset(0, seed=1)
    pool.reset(1, seed=2)

    def broken(games: np.ndarray, actions: np.ndarray) -> np.ndarray:
        raise ValueError("the rules broke")

    monkeypatch.setattr(pool.game, "play", broken)
    with pytest.raises(GameError, match="ValueError during step: the rules broke") as caught:
        pool.step_batch(np.array([0, 1]), np.array([0, 0]))
    assert caught.value.env_ids == (0, 1) and pool.closed
    with pytest.raises(RuntimeError, match="closed after a failure"):
        pool.step_batch(np.array([0]), np.array([0]))


def test_batch_games_is_validated_and_is_a_command_line_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from rbtrainer.cli import main

    with pytest.raises(TypeError, match="batch_games must be True or False"):
        DecentralizedTrainer(GAME, batch_games="no")  # type: ignore[arg-type]
    with pytest.raises(SystemExit):
        main(["train", "--no-batch-games", "--episodes-per-train", "0"])
    assert "episodes_per_train must be a positive int" in capsys.readouterr().err  # the flag itself parsed


def test_a_league_draws_and_scores_the_same_opponents_on_both_paths() -> None:
    from rbtrainer.league import League, LeagueConfig

    curves = []
    for batch in (False, True):
        trainer = DecentralizedTrainer(GAME, batch_games=batch, **{**RUN, "episodes_per_train": 30})
        learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=1, hidden_sizes=(16,))
        league = League(learner, [RandomAgent(seed=3)], LeagueConfig(snapshot_every=8, seed=2))
        stats = trainer.train(league, [True, False, False], plot=False)
        assert stats.league is not None
        curves.append((stats.reward_metric_history, repr(stats.league)))
    assert curves[0] == curves[1]
