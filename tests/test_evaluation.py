"""Cross-play tournaments, ratings, specs and the rating tracker (``rbtrainer.evaluation``)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from conftest import RecordingLearner

from rbtrainer import DecentralizedTrainer, EnvGroup, EpsilonAgent, RandomAgent
from rbtrainer.agents.base import Agent
from rbtrainer.checkpoint import save_agents
from rbtrainer.evaluation import (
    ConnectFourOpportunist,
    ConnectFourStrong,
    GameRecord,
    RatingTracker,
    TicTacToeMinimax,
    TournamentResult,
    agent_from_spec,
    bradley_terry_elo,
    seatings,
    tournament,
    wilson_interval,
)


def ttt(**kwargs) -> DecentralizedTrainer:
    return DecentralizedTrainer({"game": "tictactoe"}, num_test_envs=4, seed=0, progress_bar=False, **kwargs)


class CountingAgent(RandomAgent):
    """A random agent that counts the rows it was asked to act on."""

    def __init__(self, seed: int = 0, name: str = "counting") -> None:
        super().__init__(seed=seed, name=name)
        self.rows = 0

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        self.rows += len(obs)
        return super().act(obs, mask, explore)


# ------------------------------------------------------------------------------------- ratings
def test_bradley_terry_matches_a_hand_computed_record():
    """Strengths 4 : 2 : 1 satisfy the likelihood equations of this record exactly:
    A-B 4:2 (6 games), B-C 4:2 (6 games), A-C 4:1 (5 games). A's wins 8 = 6*4/6 + 5*4/5,
    B's 6 = 6*2/6 + 6*2/3, C's 3 = 6*1/3 + 5*1/5. So the ratings are 400*log10 of 4, 2, 1."""
    wins = [[0, 4, 4], [2, 0, 4], [1, 2, 0]]
    elo = bradley_terry_elo(wins, smoothing=0.0)
    step = 400 * math.log10(2)
    np.testing.assert_allclose(elo, [2 * step, step, 0.0], atol=1e-6)
    np.testing.assert_allclose(bradley_terry_elo(wins, smoothing=0.0, anchor=1), [step, 0.0, -step], atol=1e-6)


def test_bradley_terry_counts_a_draw_as_half_a_win_each():
    # 2 draws between equals and one win each way: equal ratings
    elo = bradley_terry_elo([[0, 1], [1, 0]], [[0, 2], [2, 0]], smoothing=0.0)
    np.testing.assert_allclose(elo, [0.0, 0.0], atol=1e-9)
    # a win and two draws: A scores 2 of 3, so A's odds are 2:1
    elo = bradley_terry_elo([[0, 1], [0, 0]], [[0, 2], [2, 0]], smoothing=0.0)
    np.testing.assert_allclose(elo[0] - elo[1], 400 * math.log10(2), atol=1e-6)


def test_bradley_terry_unbeaten_needs_smoothing():
    wins = [[0, 10], [0, 0]]
    assert np.all(np.isfinite(bradley_terry_elo(wins)))  # smoothing 0.1 by default
    with pytest.raises(ValueError, match="no win or draw"):
        bradley_terry_elo(wins, smoothing=0.0)
    with pytest.raises(ValueError, match="symmetric"):
        bradley_terry_elo(wins, [[0, 1], [0, 0]])
    with pytest.raises(ValueError, match="square"):
        bradley_terry_elo([[0, 1, 2], [1, 0, 2]])
    with pytest.raises(ValueError, match="at least two"):
        bradley_terry_elo([[0]])


def test_wilson_interval():
    low, high = wilson_interval(0.5, 100)
    assert low == pytest.approx(0.40383, abs=1e-4) and high == pytest.approx(0.59617, abs=1e-4)
    low, high = wilson_interval(1.0, 200)
    assert high == 1.0 and low == pytest.approx(0.98115, abs=1e-4)
    assert wilson_interval(0.3, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="score"):
        wilson_interval(1.5, 10)


# ------------------------------------------------------------------------------------ seatings
def test_seatings_two_seats_every_ordered_pair():
    assert seatings(3, 2) == [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)]


@pytest.mark.parametrize(("entrants", "seats", "count"), [(2, 3, 6), (4, 3, 12), (3, 3, 3), (3, 4, 36)])
def test_seatings_are_balanced(entrants, seats, count):
    plan = seatings(entrants, seats)
    assert len(plan) == count == len(set(plan))
    assert all(set(range(entrants)) <= set(s) or len(set(s)) == seats for s in plan)
    per_seat = [Counter(s[k] for s in plan) for k in range(seats)]
    for counts in per_seat:  # every entrant sits in every seat equally often
        assert len(set(counts.values())) == 1 and set(counts) == set(range(entrants))


def test_seatings_refuse_degenerate_tournaments():
    with pytest.raises(ValueError, match="at least two entrants"):
        seatings(1, 2)
    with pytest.raises(ValueError, match="at least two seats"):
        seatings(3, 1)
    with pytest.raises(ValueError, match="use fewer entrants"):
        seatings(2, 13)


# ---------------------------------------------------------------------------------- tournaments
def test_tictactoe_tournament_table_and_matrix():
    trainer = ttt()
    result = tournament(trainer, {"random": RandomAgent(), "minimax": TicTacToeMinimax()}, 30, seed=1)
    assert result.rating_kind == "elo" and len(result.games) == 60
    minimax, random = result.entrant("minimax"), result.entrant("random")
    assert minimax.games == random.games == 60
    assert minimax.losses == 0 and minimax.wins == random.losses and minimax.draws == random.draws
    assert minimax.score == pytest.approx((minimax.wins + minimax.draws / 2) / 60)
    assert minimax.score_low < minimax.score <= minimax.score_high
    assert minimax.rating > random.rating == 0.0  # the weakest is the zero of the scale
    assert result.score_matrix[1, 0] == pytest.approx(minimax.score)
    assert result.score_matrix[0, 1] + result.score_matrix[1, 0] == pytest.approx(1.0)
    assert np.isnan(result.score_matrix[0, 0]) and result.games_matrix[0, 1] == 60
    seats = result.seat_results("minimax")
    assert set(seats) == {"player_1", "player_2"} and all(s.games == 30 for s in seats.values())
    assert "minimax" in result.table().splitlines()[1]  # best first
    assert minimax.mean_return == pytest.approx(-random.mean_return)


def test_tournament_is_deterministic_and_independent_of_history():
    def run(warm_up: bool) -> TournamentResult:
        trainer = ttt()
        agents = [RandomAgent(seed=1), RandomAgent(seed=2), TicTacToeMinimax(seed=3)]
        if warm_up:  # agents that played before give the same results once reseeded
            trainer.test([agents[0], agents[1]])
        return tournament(trainer, agents, 12, seed=7)

    first, second = run(False), run(True)
    assert first.games == second.games and first.entrants == second.entrants
    assert first.names == ("random", "random#2", "minimax")


def test_play_runs_more_groups_than_test_envs():
    trainer = ttt()
    a, b = RandomAgent(seed=1), RandomAgent(seed=2)
    groups = [EnvGroup(f"g{k}", [a, b] if k % 2 else [b, a]) for k in range(7)]
    played = trainer.play(groups, 5)
    assert list(played) == [f"g{k}" for k in range(7)]
    assert all(len(episodes) == 5 for episodes in played.values())
    with pytest.raises(ValueError, match="episodes_per_group"):
        trainer.play(groups, 0)
    with pytest.raises(TypeError, match="EnvGroup"):
        trainer.play([a, b], 3)


def test_tournament_on_the_subproc_backend_matches_dummy():
    results = []
    for backend in ("dummy", "subproc"):
        with DecentralizedTrainer(
            {"game": "tictactoe"}, num_test_envs=2, seed=0, progress_bar=False, backend=backend
        ) as trainer:
            results.append(tournament(trainer, [RandomAgent(), TicTacToeMinimax()], 6, seed=3))
    assert results[0].games == results[1].games


def test_multiplayer_tournament_rates_with_openskill():
    trainer = DecentralizedTrainer(
        {"game": "robot_delivery", "robot_colors": ["r", "b", "g"], "max_step": 60},
        num_test_envs=6,
        seed=0,
        progress_bar=False,
    )
    result = tournament(trainer, {"a": RandomAgent(), "b": RandomAgent()}, 2, seed=0)
    assert result.rating_kind == "openskill"
    assert len(result.games) == 12  # 6 surjective seatings x 2 games
    assert all(row.rating_sigma is not None and row.games == 12 for row in result.entrants)


def test_team_winner_maps_to_its_block_of_seats():
    trainer = DecentralizedTrainer(
        {"game": "robot_delivery", "robot_colors": ["r", "b"], "num_robots_per_player": 2},
        num_test_envs=2,
        seed=0,
        progress_bar=False,
    )
    assert trainer.seats == ("r1", "r2", "b1", "b2")
    assert trainer.game.winning_seats("b") == (2, 3)
    assert trainer.game.winning_seats("r1") == (0,)
    assert trainer.game.winning_seats(None) == ()
    with pytest.raises(ValueError, match="neither a seat"):
        trainer.game.winning_seats("g")


def test_pairwise_scores_in_a_multiplayer_game():
    # seats (0, 1, 2): entrant 1 wins one game, a draw in the other
    games = [
        GameRecord((0, 1, 2), (0.0, 1.0, 0.0), (1,), 10, 10.0),
        GameRecord((2, 0, 1), (0.0, 0.0, 0.0), (), 10, 10.0),
    ]
    result = TournamentResult.from_games(["a", "b", "c"], ["s0", "s1", "s2"], games)
    assert result.score_matrix[1, 0] == pytest.approx(0.75) and result.score_matrix[0, 2] == pytest.approx(0.5)
    assert result.entrant("b").wins == 1 and result.entrant("b").draws == 1
    assert result.entrant("b").mean_winning_span == 10.0 and math.isnan(result.entrant("a").mean_winning_span)


def test_bad_entrants_fail_before_any_game():
    trainer = DecentralizedTrainer({"game": "connect_four"}, num_test_envs=2, seed=0, progress_bar=False)
    counting = CountingAgent()
    with pytest.raises(ValueError, match="entrant 'minimax' cannot play seat 'player_0'"):
        tournament(trainer, {"random": counting, "minimax": TicTacToeMinimax()}, 3)
    assert counting.rows == 0
    with pytest.raises(ValueError, match="at least two entrants"):
        tournament(trainer, [counting], 3)
    with pytest.raises(ValueError, match="games_per_seating"):
        tournament(trainer, [counting, ConnectFourStrong()], 0)
    with pytest.raises(TypeError, match="must be an rbtrainer Agent"):
        tournament(trainer, {"x": counting, "y": "strong"}, 3)  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="focus"):
        tournament(trainer, [counting, ConnectFourStrong()], 3, focus="nobody")


# ------------------------------------------------------------------------------------ agent specs
def test_specs_name_baselines_and_checkpoints(tmp_path):
    trainer = ttt()
    assert isinstance(agent_from_spec("minimax", trainer, seed=1), TicTacToeMinimax)
    assert isinstance(agent_from_spec("random", trainer), RandomAgent)
    with pytest.raises(ValueError, match="unknown agent spec 'chess-bot'"):
        agent_from_spec("chess-bot", trainer)
    with pytest.raises(ValueError, match="cannot play seat"):
        agent_from_spec("strong", trainer)
    four = DecentralizedTrainer({"game": "connect_four"}, progress_bar=False)
    assert isinstance(agent_from_spec("opportunist", four, seed=0), ConnectFourOpportunist)
    with pytest.raises(ValueError, match="negamax:"):
        agent_from_spec("negamax:deep", four)
    with pytest.raises(ValueError, match="robot_delivery only"):
        agent_from_spec("astar", trainer)
    robots = DecentralizedTrainer({"game": "robot_delivery", "robot_colors": ["r", "b"]}, progress_bar=False)
    assert agent_from_spec("astar", robots, seed=0).name == "astar"


def test_checkpoint_specs_refuse_another_game(tmp_path):
    from rbtrainer import dqn_agent

    trainer = ttt()
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), hidden_sizes=(8,), seed=0)
    path = tmp_path / "ttt.pt"
    save_agents(path, [learner, learner], {"env": {"game": "tictactoe"}, "dqn": {"hidden_sizes": (8,)}})
    loaded = agent_from_spec(str(path), trainer)
    obs = np.zeros((1, 3, 3, 2), dtype=np.float32)
    mask = np.ones((1, 9), dtype=np.int8)
    explore = np.zeros(1, dtype=bool)
    assert loaded.act(obs, mask, explore).tolist() == learner.act(obs, mask, explore).tolist()
    four = DecentralizedTrainer({"game": "connect_four"}, progress_bar=False)
    with pytest.raises(ValueError, match="trained on 'tictactoe'"):
        agent_from_spec(str(path), four)
    bare = tmp_path / "bare.pt"
    save_agents(bare, [learner, learner])
    with pytest.raises(ValueError, match="does not record its learner's configuration"):
        agent_from_spec(str(bare), trainer)


# ------------------------------------------------------------------------------------- tracker
def test_rating_tracker_records_every_test_round(tmp_path):
    trainer = ttt(num_train_envs=2, episodes_per_train=8, test_freq=4, episodes_per_test=4)
    learner = RecordingLearner(seed=1)
    calls: list[int] = []
    tracker = RatingTracker(
        trainer,
        learner,
        {"random": RandomAgent(seed=2), "minimax": TicTacToeMinimax(seed=3)},
        4,
        plot_path=tmp_path / "rating.png",
        then=lambda episodes, steps: calls.append(episodes),
    )
    trainer.test_fn = tracker
    stats = trainer.train([learner, learner], [True, True], plot=False)
    assert [p.episodes for p in tracker.history] == stats.test_episodes == calls
    assert all(p.games == 16 and 0.0 <= p.score_low <= p.score <= p.score_high <= 1.0 for p in tracker.history)
    assert (tmp_path / "rating.png").exists()
    with pytest.raises(ValueError, match="also a pool member"):
        RatingTracker(trainer, learner, {"learner": RandomAgent()})


def test_agents_are_not_modified_by_a_tournament_beyond_reseeding():
    class Fixed(Agent):
        name = "fixed"

        def act(self, obs, mask, explore):
            return np.argmax(mask, axis=1).astype(np.int64)

    trainer = ttt()
    agents = {"fixed": Fixed(), "minimax": TicTacToeMinimax(seed=0)}
    before = dict(agents)
    tournament(trainer, agents, 2)
    assert agents == before


def test_epsilon_agent_mixes_random_legal_moves():
    obs = np.zeros((4000, 3, 3, 2), dtype=np.float32)
    mask = np.zeros((4000, 9), dtype=np.int8)
    mask[:, [2, 5, 7]] = 1
    explore = np.zeros(4000, dtype=bool)
    first_legal = ScriptedFirst()
    assert (EpsilonAgent(first_legal, 0.0, seed=0).act(obs, mask, explore) == 2).all()
    noisy = EpsilonAgent(first_legal, 0.3, seed=0).act(obs, mask, explore)
    assert set(noisy.tolist()) == {2, 5, 7}
    assert np.mean(noisy != 2) == pytest.approx(0.3 * 2 / 3, abs=0.03)
    again = EpsilonAgent(first_legal, 0.3, seed=0)
    again.seed(0)
    assert EpsilonAgent(first_legal, 0.3).name == "first~0.3"
    with pytest.raises(ValueError, match="epsilon"):
        EpsilonAgent(first_legal, 1.5)
    with pytest.raises(TypeError, match="agent must be"):
        EpsilonAgent("minimax", 0.1)  # type: ignore[arg-type]


class ScriptedFirst(Agent):
    name = "first"

    def act(self, obs, mask, explore):
        return np.argmax(mask > 0, axis=1).astype(np.int64)
