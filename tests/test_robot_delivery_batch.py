"""The batch rules are the single-game rules, game for game: seeded games driven by the same
actions pass through the same rewards, observations, masks, scores and endings."""

from __future__ import annotations

import numpy as np
import pytest

from games.robot_delivery.batch import BatchRobotDeliveryRules
from games.robot_delivery.rules import GameOverError, RobotDeliveryConfig, RobotDeliveryRules

CONFIGS = {
    "2 players": {"robot_colors": ("r", "b"), "max_step": 120},
    "3 players, battery": {"robot_colors": ("r", "b", "gr"), "with_battery": True, "max_step": 200},
    "2 players, station mail": {"robot_colors": ("r", "b"), "observe_station_mail": True, "max_step": 120},
    "2x3 robots, random steps": {
        "robot_colors": ("r", "b"),
        "num_robots_per_player": 3,
        "random_num_steps": True,
        "max_step": 150,
    },
    "4 players x2, battery, random steps": {
        "robot_colors": ("a", "b", "c", "d"),
        "num_robots_per_player": 2,
        "with_battery": True,
        "random_num_steps": True,
        "required_mail": 2,
        "max_step": 300,
    },
}


def _single_view(game: RobotDeliveryRules) -> tuple[np.ndarray, list[int]]:
    return game.observation(game.current), game.legal_mask(game.current)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_batch_games_equal_single_games_step_for_step(name: str) -> None:
    config = RobotDeliveryConfig(**CONFIGS[name])
    num_games, rng = 6, np.random.default_rng(len(name))
    batch = BatchRobotDeliveryRules(config, num_games)
    singles = [RobotDeliveryRules(config) for _ in range(num_games)]
    seeds = [int(s) for s in rng.integers(0, 2**31, num_games)]
    batch.reset(np.arange(num_games), seeds)
    for game, seed in zip(singles, seeds):
        game.reset(seed)
    endings = 0
    for tick in range(900):
        # a varying subset of games moves each tick, mostly legal actions, some passes
        games = np.flatnonzero(rng.random(num_games) < 0.8)
        masks = batch.masks(games)
        observations = batch.observations(games)
        actions = []
        for row, g in enumerate(games.tolist()):
            obs, mask = _single_view(singles[g])
            np.testing.assert_array_equal(observations[row], obs)
            np.testing.assert_array_equal(masks[row], mask)
            legal = np.flatnonzero(mask)
            pick = rng.integers(0, 5) if rng.random() < 0.1 or len(legal) == 0 else rng.choice(legal)
            actions.append(int(pick))
        rewards = batch.step(games, np.array(actions, dtype=np.int64))
        for row, (g, a) in enumerate(zip(games.tolist(), actions)):
            single = singles[g]
            assert rewards[row] == single.step(a), (tick, g)
            assert batch.current[g] == single.current and batch.clock[g] == single.clock
            assert batch.score[g].tolist() == single.score
            np.testing.assert_array_equal(batch.energy[g], single.energy)
            np.testing.assert_array_equal(batch.stand_count[g], single.stand_count)
            assert bool(batch.terminated[g]) == single.terminated and bool(batch.truncated[g]) == single.truncated
            winner = None if batch.winner[g] < 0 else config.robot_colors[batch.winner[g]]
            assert winner == single.winner
            if single.game_over:
                endings += 1
                # every robot's final view, as the PettingZoo env shows each seat at the end
                for k in range(config.num_robots):
                    np.testing.assert_array_equal(
                        batch.observations(np.array([g]), np.array([k]))[0], single.observation(k)
                    )
                    np.testing.assert_array_equal(batch.masks(np.array([g]), np.array([k]))[0], single.legal_mask(k))
                fresh = None if endings % 3 == 0 else int(rng.integers(0, 2**31))  # None: keep the generator
                batch.reset([g], [fresh])
                single.reset(fresh)
    assert endings >= 4


def test_bad_calls_raise_and_change_nothing() -> None:
    batch = BatchRobotDeliveryRules(RobotDeliveryConfig(max_step=5), 3)
    with pytest.raises(GameOverError, match="game 0"):
        batch.step(np.array([0]), np.array([1]))
    batch.reset([0, 1, 2], [1, 2, 3])
    before = batch.position.copy(), batch.num_steps.copy()
    with pytest.raises(ValueError, match=r"game 1: action must be in 0\.\.4"):
        batch.step(np.array([0, 1]), np.array([0, 7]))
    with pytest.raises(ValueError, match="once per call"):
        batch.step(np.array([2, 2]), np.array([0, 0]))
    with pytest.raises(TypeError, match="integers"):
        batch.step(np.array([0]), np.array([1.0]))
    with pytest.raises(ValueError, match=r"0\.\.2"):
        batch.reset([3], [0])
    with pytest.raises(ValueError, match="num_games"):
        BatchRobotDeliveryRules(RobotDeliveryConfig(), 0)
    np.testing.assert_array_equal(batch.position, before[0])
    np.testing.assert_array_equal(batch.num_steps, before[1])
    for _ in range(5):
        batch.step(np.array([1]), np.array([0]))
    assert batch.truncated.tolist() == [False, True, False]
    with pytest.raises(GameOverError, match="game 1"):
        batch.step(np.array([1]), np.array([0]))
