"""League self-play: snapshots, eviction, opponent sampling, per-env reseating, statistics and state."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from rbtrainer import DecentralizedTrainer, DQNConfig, PPOConfig, RandomAgent, dqn_agent, ppo_agent
from rbtrainer.checkpoint import read_checkpoint, save_agents
from rbtrainer.envs import Episode
from rbtrainer.league import League, LeagueConfig, LeagueCurve

BOARD = {
    "num_train_envs": 6,
    "num_test_envs": 4,
    "episodes_per_train": 60,
    "episodes_per_test": 8,
    "test_freq": 20,
    "update_freq": 48,
    "update_per_step": 0.1,
    "progress_bar": False,
    "seed": 2,
}
SMALL_DQN = DQNConfig(hidden_sizes=(32,), buffer_size=4096, target_update_freq=20)


def board_league(game: str = "tictactoe", **config: Any) -> tuple[DecentralizedTrainer, League]:
    trainer = DecentralizedTrainer({"game": game}, **BOARD)
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=SMALL_DQN, seed=1)
    settings = {"snapshot_every": 15, "max_snapshots": 3, "seed": 5, **config}
    return trainer, League(learner, [RandomAgent(seed=3, name="random")], LeagueConfig(**settings))


def nan_free(value: Any) -> Any:
    """``value`` with NaN replaced by None, so that equal curves compare equal."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: nan_free(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [nan_free(v) for v in value]
    return value


def curve(stats: Any) -> dict[str, Any]:
    return nan_free(dataclasses.asdict(stats.league))


# ------------------------------------------------------------------------------------ config
@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"snapshot_every": 0}, "snapshot_every"),
        ({"snapshot_score": 1.5}, "snapshot_score"),
        ({"sampling": "elo"}, "sampling must be one of"),
        ({"max_snapshots": 0}, "max_snapshots"),
        ({"snapshot_every": None}, "never add a snapshot"),
        ({"pfsp_power": -1.0}, "pfsp_power"),
    ],
)
def test_bad_league_settings_are_named(settings: dict[str, Any], match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        LeagueConfig(**settings)


def test_bad_league_arguments_are_named() -> None:
    trainer = DecentralizedTrainer({"game": "tictactoe"}, **BOARD)
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=SMALL_DQN, seed=1)
    with pytest.raises(TypeError, match="learner must be an rbtrainer Learner"):
        League(RandomAgent(), [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"opponents\[0\] must be an rbtrainer Agent"):
        League(learner, ["random"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="plain self-play"):
        League(learner, [learner])
    with pytest.raises(ValueError, match="pool would be empty"):
        League(learner, [], LeagueConfig(initial_snapshot=False))
    with pytest.raises(TypeError, match="a League is for train"):
        trainer.test(League(learner))  # type: ignore[arg-type]
    c4 = DecentralizedTrainer({"game": "connect_four"}, **BOARD)
    c4_learner = dqn_agent(c4.observation_space(0), c4.action_space(0), config=SMALL_DQN, seed=1)
    from rbtrainer.evaluation import TicTacToeMinimax

    with pytest.raises((TypeError, ValueError), match="league opponent 'minimax' cannot play seat"):
        c4.train(League(c4_learner, [TicTacToeMinimax()]), [True, False])
    with pytest.raises(ValueError, match="no learning seat"):
        trainer.train(League(learner), [False, False])


# --------------------------------------------------------------------- snapshots and eviction
def test_snapshots_join_every_k_episodes_and_the_oldest_leave() -> None:
    trainer, league = board_league(snapshot_every=15, max_snapshots=3)
    with trainer.start(league, [True, True], plot=False) as run:
        for _ in run:
            held = len(run._plan.agents)  # what the engine loops over stays bounded
            assert held <= run._plan.num_given + 1 + 3 + BOARD["num_train_envs"]
    stats = run.stats
    assert stats.league is league.curve
    due = list(range(0, stats.collected_episodes + 1, 15))
    assert league.curve.snapshots == due
    assert league.member_names == ["random"] + [f"dqn@{e}" for e in due[-3:]]
    assert league.curve.members == ["random"] + [f"dqn@{e}" for e in due]
    # the pool size recorded at each test round never exceeds the fixed member plus the cap
    assert max(league.curve.pool_size) == 4 and league.curve.pool_size[0] == 2


def test_a_snapshot_joins_when_the_learner_beats_the_pool() -> None:
    trainer, league = board_league(snapshot_every=None, snapshot_score=0.75, score_window=4)
    with trainer.start(league, [True, True], plot=False) as run:
        plan = run._plan
        assert league.member_names == ["random", "dqn@0"]
        first = league.episodes
        seat = league._train.learner_seat[0]  # type: ignore[union-attr]
        winner = trainer.seats[seat]

        def ended(winner_name: str | None) -> None:
            game = Episode(env_id=0, returns=np.zeros(2), length=5, winner=winner_name, time_span=5)
            league.episode_ended(plan, game)

        for _ in range(3):
            ended(winner)
        ended(None)  # three wins and a draw: 0.875 over the last 4 games
        assert league.curve.snapshots == [0, first + 4]
        for _ in range(3):
            ended(None)  # draws only: 0.5
        assert league.curve.snapshots == [0, first + 4]


# ------------------------------------------------------------------------------------ sampling
def test_pfsp_weights_follow_the_learners_scores_and_draws_are_seeded() -> None:
    _, league = board_league(sampling="pfsp", pfsp_power=2.0)
    league.add_snapshot()
    league.add_snapshot()
    beaten, even, strong = league.members
    beaten.recent.extend([1.0] * 8)  # smoothed (8 + 1) / 10 = 0.9
    even.recent.extend([0.5] * 8)  # 0.5
    strong.recent.extend([0.0] * 8)  # 0.1
    weights = np.array([0.1**2, 0.5**2, 0.9**2])
    assert list(league.probabilities().values()) == pytest.approx(list(weights / weights.sum()))
    draws = [m.name for m in league._draw(20_000)]
    shares = np.array([draws.count(m.name) for m in league.members]) / len(draws)
    assert shares == pytest.approx(weights / weights.sum(), abs=0.015)

    _, again = board_league(sampling="pfsp", pfsp_power=2.0)
    again.add_snapshot()
    again.add_snapshot()
    for mine, theirs in zip(league.members, again.members):
        theirs.recent.extend(mine.recent)
    again._rng = np.random.default_rng(5)
    league._rng = np.random.default_rng(5)
    assert [m.name for m in again._draw(50)] == [m.name for m in league._draw(50)]

    _, uniform = board_league(sampling="uniform")
    uniform.add_snapshot()
    uniform.members[0].recent.extend([1.0] * 8)
    assert list(uniform.probabilities().values()) == pytest.approx([0.5, 0.5])


def test_opponents_change_per_env_between_episodes() -> None:
    trainer, league = board_league(sampling="uniform", snapshot_every=10)
    seen: list[set[str]] = [set() for _ in range(BOARD["num_train_envs"])]
    with trainer.start(league, [True, True], plot=False) as run:
        plan = run._plan
        for _ in run:
            for env, row in enumerate(plan.agent_of):
                for k in row:
                    if plan.agents[k] is not league.learner:
                        seen[env].add(plan.agents[k].name)
            # every env seats the learner in one seat and a pool member in the other
            assert all(sum(plan.agents[k] is league.learner for k in row) == 1 for row in plan.agent_of)
    assert all(len(names) >= 2 for names in seen), seen
    games = {name: sum(counts) for name, counts in league.curve.train_games.items()}
    assert games["random"] > 0 and sum(games.values()) == run.stats.collected_episodes
    assert set(run.stats.groups) == {"dqn as player_1", "dqn as player_2"}


@pytest.mark.parametrize("share", [1.0, 0.5])
def test_self_play_share_seats_the_learner_itself_in_pool_seats(share: float) -> None:
    trainer, league = board_league(self_play=share)
    itself = 0
    seatings = 0
    with trainer.start(league, [True, True], plot=False) as run:
        plan = run._plan
        for _ in run:
            for row in plan.agent_of:
                itself += all(plan.agents[k] is league.learner for k in row)
                seatings += 1
    if share == 1.0:
        assert itself == seatings  # pure self-play: no game is scored against a member
        assert all(sum(v) == 0 for v in league.curve.train_games.values())
    else:
        assert 0.3 < itself / seatings < 0.7
        scored = sum(sum(v) for v in league.curve.train_games.values())
        assert 0 < scored < run.stats.collected_episodes


def test_same_seed_same_league() -> None:
    results = []
    for _ in range(2):
        trainer, league = board_league()
        stats = trainer.train(league, [True, True], plot=False)
        results.append((stats.reward_metric_history, curve(stats), league.member_names))
    assert results[0] == results[1]


# ---------------------------------------------------------------------- learners, games, backends
def test_a_ppo_learner_in_a_league() -> None:
    trainer = DecentralizedTrainer({"game": "tictactoe"}, **BOARD)
    learner = ppo_agent(trainer.observation_space(0), trainer.action_space(0), config=PPOConfig(), seed=1)
    league = League(learner, [RandomAgent(seed=3)], LeagueConfig(snapshot_every=20, seed=1))
    stats = trainer.train(league, [True, False], plot=False)
    assert stats.league is not None and len(stats.league.snapshots) >= 3
    assert set(stats.groups) == {f"{learner.name} as player_1"}
    assert stats.league.test_score and all(0.0 <= s <= 1.0 for s in stats.league.test_score)


def test_robot_delivery_learner_in_one_seat_pool_in_the_others() -> None:
    env = {"game": "robot_delivery", "robot_colors": ["r", "b", "gr"], "required_mail": 2, "max_step": 60}
    trainer = DecentralizedTrainer(env, **{**BOARD, "episodes_per_train": 24, "test_freq": 12})
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=SMALL_DQN, seed=1)
    league = League(learner, [RandomAgent(seed=3)], LeagueConfig(snapshot_every=8, seed=2))
    with trainer.start(league, [True, False, False], plot=False) as run:
        plan = run._plan
        for _ in run:
            for row in plan.agent_of:
                assert plan.agents[row[0]] is learner
                assert all(plan.agents[k] is not learner for k in row[1:])
    stats = run.stats
    assert stats.league is not None
    # each game counts once per opponent seat
    assert sum(sum(v) for v in stats.league.train_games.values()) == 2 * stats.collected_episodes


def test_the_subprocess_backend_plays_the_same_league() -> None:
    trainer, league = board_league()
    dummy = trainer.train(league, [True, True], plot=False)
    trainer, league = board_league()
    trainer.config.backend = "subproc"
    with trainer:
        subproc = trainer.train(league, [True, True], plot=False)
    assert subproc.reward_metric_history == dummy.reward_metric_history
    assert curve(subproc) == curve(dummy)


# ------------------------------------------------------------------------------ curves and state
def test_the_league_curve_is_plotted(tmp_path: Any) -> None:
    trainer, league = board_league()
    trainer.config.plot_dir = str(tmp_path)
    stats = trainer.train(league, [True, True], plot=True)
    assert stats.plot_path is not None and (tmp_path / "tictactoe_training.png").stat().st_size > 10_000
    rounds = len(stats.reward_metric_history)
    assert len(stats.league.test_score) == rounds  # type: ignore[union-attr]
    assert all(len(v) == rounds for v in stats.league.train_score.values())  # type: ignore[union-attr]


def test_a_league_round_trips_through_a_checkpoint(tmp_path: Any) -> None:
    trainer, league = board_league()
    trainer.train(league, [True, True], plot=False)
    path = tmp_path / "league.pt"
    save_agents(path, [league.learner, league.learner], {"league": league.state_dict()})

    _, restored = board_league()
    restored.load_state_dict(read_checkpoint(path)["metadata"]["league"])
    assert restored.member_names == league.member_names
    assert restored.scores() == league.scores()
    assert nan_free(dataclasses.asdict(restored.curve)) == nan_free(dataclasses.asdict(league.curve))
    assert isinstance(restored.curve, LeagueCurve)
    obs = np.random.default_rng(0).integers(0, 2, size=(32, 3, 3, 2)).astype(np.float32)
    mask = np.ones((32, 9), np.int8)
    for mine, theirs in zip(league.snapshots, restored.snapshots):
        no = np.zeros(32, bool)
        assert np.array_equal(mine.agent.act(obs, mask, no), theirs.agent.act(obs, mask, no))
    assert [m.name for m in restored._draw(30)] == [m.name for m in league._draw(30)]

    other = League(restored.learner, [RandomAgent(name="other")])
    with pytest.raises(ValueError, match="fixed opponents"):
        other.load_state_dict(league.state_dict())


@pytest.mark.parametrize("self_play", [0.0, 0.3])
def test_a_resumed_league_run_ends_like_an_uninterrupted_one(tmp_path: Any, self_play: float) -> None:
    trainer, league = board_league(self_play=self_play)
    whole = trainer.train(league, [True, True], plot=False)

    state = tmp_path / "league.state"
    trainer, league = board_league(self_play=self_play)
    trainer.config.state_path = str(state)
    rounds = iter(range(100))
    trainer.test_fn = lambda episodes, steps: trainer.request_stop() if next(rounds) == 2 else None
    stopped = trainer.train(league, [True, True], plot=False)
    assert stopped.interrupted and 0 < stopped.collected_episodes < whole.collected_episodes

    trainer, league = board_league(self_play=self_play)
    trainer.config.state_path = str(state)
    resumed = trainer.train(league, [True, True], plot=False, resume=state)
    assert resumed.reward_metric_history == whole.reward_metric_history
    assert curve(resumed) == curve(whole)
    assert resumed.collected_steps == whole.collected_steps

    trainer, agents = board_league()[0], None
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=SMALL_DQN, seed=1)
    agents = [learner, learner]
    with pytest.raises(ValueError, match="with a League"):
        trainer.train(agents, [True, True], plot=False, resume=state)
