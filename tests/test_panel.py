"""Evaluation panels in test rounds: scores, ratings, the default panel of constant-sum self-play,
no untrained "best", the constant-metric warning, resume, logs and refusals."""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
from typing import Any

import numpy as np
import pytest
from conftest import RecordingLearner, statistics_without_timings, stop_and_resume

from rbtrainer import DecentralizedTrainer, DQNConfig, PanelConfig, RandomAgent, dqn_agent, progress_hook
from rbtrainer.evaluation import EvaluationPanel, tournament
from rbtrainer.logs import CSVLogger

TINY: dict[str, Any] = {
    "num_train_envs": 4,
    "num_test_envs": 4,
    "episodes_per_train": 30,
    "episodes_per_test": 4,
    "test_freq": 10,
    "update_freq": 32,
    "batch_size": 16,
    "progress_bar": False,
    "seed": 1,
}
SMALL_PANEL = PanelConfig(opponents=("random", "minimax"), games_per_seat=6, seed=2)


def tictactoe(**settings: Any) -> DecentralizedTrainer:
    return DecentralizedTrainer({"game": "tictactoe"}, **{**TINY, **settings})


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"opponents": ()}, "opponents is empty"),
        ({"opponents": "random"}, "opponents must be a list of agent specs"),
        ({"opponents": ("random", "random")}, "name a spec twice"),
        ({"opponents": ("random", 3)}, "non-empty agent spec"),
        ({"opponents": ("random",), "games_per_seat": 0}, "games_per_seat must be a positive int"),
        ({"opponents": ("random",), "games_per_seat": -2}, "games_per_seat must be a positive int"),
        ({"opponents": ("random",), "metric": "yes"}, "metric must be True or False"),
    ],
)
def test_bad_panel_settings_are_named(settings: dict[str, Any], match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        PanelConfig(**settings)


@pytest.mark.parametrize(
    ("opponents", "match"),
    [
        (("random", "negamax:x"), r"panel opponent 'negamax:x': .*depth after 'negamax:' must be an int"),
        (("astar",), r"panel opponent 'astar': .*plays robot_delivery only"),
        (("nobody",), r"panel opponent 'nobody': unknown agent spec"),
    ],
)
def test_bad_panel_opponents_are_refused_before_any_game(opponents: tuple[str, ...], match: str) -> None:
    trainer = tictactoe(panel=list(opponents))
    with pytest.raises(ValueError, match=match), trainer:
        trainer.train([RecordingLearner(), RandomAgent()], [True, False], plot=False)
    assert trainer._train_engine is None  # nothing was played
    with pytest.raises(TypeError, match="panel must be a PanelConfig, a list of agent specs"):
        tictactoe(panel="random")


def test_a_panel_round_equals_a_tournament_with_the_same_seeds() -> None:
    with tictactoe() as trainer:
        learner = RecordingLearner(seed=4)
        panel = EvaluationPanel(SMALL_PANEL, trainer)
        round_ = panel.play({"learner": learner}, 0, 0)
        learner = RecordingLearner(seed=4)  # the same generator again
        entrants = {"learner": learner, **panel.opponents}
        table = tournament(trainer, entrants, SMALL_PANEL.games_per_seat, seed=SMALL_PANEL.seed, focus="learner")
    mine = table.entrant("learner")
    assert round_.scores["learner"] == mine.score and round_.games == len(table.games) == 4 * 6
    by_opponent = {line.opponent: line for line in round_.lines if line.seat == trainer.seats[0]}
    vs_random = [g for g in table.games if g.seating[0] == 0 and 1 in g.seating]
    assert by_opponent["random"].wins == sum(g.outcome(0) == 1.0 for g in vs_random)
    assert {(line.opponent, line.seat) for line in round_.lines} == {
        (o, s) for o in ("random", "minimax") for s in trainer.seats
    }
    assert all(line.score_low <= line.score <= line.score_high for line in round_.lines)
    assert round_.ratings["learner"] < 100  # random play rates near random (0), far below minimax
    assert "minimax" in round_.table() and math.isclose(
        round_.opponent_scores()["random"], np.mean([line.score for line in round_.lines if line.opponent == "random"])
    )


def test_constant_sum_self_play_without_a_metric_is_scored_by_the_default_panel(caplog) -> None:
    best: list[int] = []
    trainer = tictactoe(save_best_fn=best.append)
    learner = RecordingLearner(seed=3)
    with caplog.at_level(logging.INFO, logger="rbtrainer.trainer"), trainer:
        stats = trainer.train([learner, learner], [True, True], plot=False)
    assert "test rounds play it against random, minimax" in caplog.text
    assert len(stats.panel) == len(stats.reward_metric_history) >= 3
    assert stats.reward_metric_history == [r.score for r in stats.panel]
    assert stats.best_episode > 0 and 0 not in best  # the round before training is never "best"
    assert best[-1] == stats.best_episode and stats.best_reward_metric == max(stats.reward_metric_history[1:])
    assert stats.panel[0].episodes == 0 and stats.panel[-1].env_steps == stats.collected_steps
    assert all(0.0 <= r.score <= 1.0 for r in stats.panel)


def test_no_default_panel_with_a_metric_or_fixed_opponents() -> None:
    learner = RecordingLearner()
    with tictactoe(reward_metric=lambda r: float(np.mean(r[:, 0]))) as trainer:
        assert trainer.train([learner, learner], [True, True], plot=False).panel == []
    with tictactoe() as trainer:
        assert trainer.train([learner, RandomAgent()], [True, False], plot=False).panel == []
    with tictactoe(panel=False) as trainer:  # no panel, not even the default one
        assert trainer.train([learner, learner], [True, True], plot=False).panel == []


def test_the_untrained_round_is_best_only_when_no_other_round_follows() -> None:
    best: list[int] = []
    trainer = tictactoe(save_best_fn=best.append, panel=SMALL_PANEL)
    trainer.train_fn = progress_hook(lambda p: trainer.request_stop())  # stops after the first phase: one round
    learner = RecordingLearner()
    with trainer:
        stats = trainer.train([learner, learner], [True, True], plot=False)
    assert stats.interrupted and len(stats.reward_metric_history) == 1
    assert best == [0] and stats.best_reward_metric == stats.reward_metric_history[0]


def test_a_constant_metric_of_constant_sum_self_play_is_warned_about_once(caplog) -> None:
    learner = RecordingLearner()
    trainer = tictactoe(reward_metric=lambda r: float(np.mean(r)), episodes_per_train=60)
    with caplog.at_level(logging.WARNING, logger="rbtrainer.run.loop"), trainer:
        stats = trainer.train([learner, learner], [True, True], plot=False)
    assert len(set(stats.reward_metric_history)) == 1 and len(stats.reward_metric_history) > 3
    warnings = [r for r in caplog.records if "cannot change" in r.getMessage()]
    assert len(warnings) == 1 and "no later round can beat the first" in warnings[0].getMessage()


def test_a_panel_beside_the_metric_leaves_the_metric_alone(tmp_path) -> None:
    panel = dataclasses.replace(SMALL_PANEL, metric=False)
    metric = lambda r: float(np.mean(r[:, 0]))  # noqa: E731
    learner = RecordingLearner()
    trainer = tictactoe(panel=panel, reward_metric=metric, logger=CSVLogger(tmp_path / "logs"), plot_dir=str(tmp_path))
    with trainer:
        stats = trainer.train([learner, RandomAgent()], [True, False])
    assert (
        len(stats.panel) == len(stats.reward_metric_history) and stats.reward_metric_history[0] != stats.panel[0].score
    )
    with open(tmp_path / "logs" / "tests.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(stats.panel) and float(rows[-1]["panel/score"]) == stats.panel[-1].score
    assert "panel/recorder/minimax/player_2/score" in rows[0]
    assert stats.plot_path is not None and stats.plot_path.endswith(".png")


def test_resume_with_a_panel_is_exact(tmp_path) -> None:
    def run(**settings: Any) -> tuple[DecentralizedTrainer, list[Any]]:
        trainer = tictactoe(panel=SMALL_PANEL, episodes_per_train=40, **settings)
        learner = dqn_agent(
            trainer.observation_space(0), trainer.action_space(0), config=DQNConfig(hidden_sizes=(16,)), seed=6
        )
        return trainer, [learner, learner]

    whole, stopped, resumed = stop_and_resume(run, [True, True], lambda p: p.episodes >= 20, tmp_path / "run.state")
    assert stopped.interrupted and statistics_without_timings(resumed) == statistics_without_timings(whole)
    assert len(whole.panel) >= 4


# ------------------------------------------------------------------------ recipes and the CLI
def test_the_panel_table_of_a_recipe() -> None:
    from rbtrainer.recipes import Recipe

    recipe = Recipe.from_tables({"env": {"game": "tictactoe"}})
    assert recipe.panel.config("tictactoe") == PanelConfig(opponents=("random", "minimax"))  # the game's default
    assert recipe.panel.config("robot_delivery") is None
    recipe = Recipe.from_tables(
        {"env": {"game": "connect_four"}, "panel": {"opponents": ["random"], "games_per_seat": 4, "metric": False}}
    )
    assert recipe.panel.config("connect_four") == PanelConfig(opponents=("random",), games_per_seat=4, metric=False)
    assert Recipe.from_tables({"panel": {"off": True}}).panel.config("tictactoe") is False
    with pytest.raises(ValueError, match=r"\[panel\] has unknown key\(s\) \['games'\]"):
        Recipe.from_tables({"panel": {"games": 3}})
    with pytest.raises(ValueError, match="games_per_seat must be a positive int"):
        Recipe.from_tables({"panel": {"games_per_seat": 0}})
    with pytest.raises(ValueError, match="off = true leaves no panel"):
        Recipe.from_tables({"panel": {"off": True, "opponents": ["random"]}})


CLI_TINY = [
    "--num-train-envs", "3", "--num-test-envs", "3", "--episodes-per-train", "12", "--episodes-per-test", "4",
    "--test-freq", "6", "--update-freq", "32", "--no-progress-bar", "--hidden-sizes", "16", "--buffer-size", "2000",
    "--panel.games-per-seat", "4", "--logdir", "",
]  # fmt: skip


def test_rbtrainer_train_scores_self_play_by_its_panel(tmp_path, capsys, monkeypatch) -> None:
    from rbtrainer.checkpoint import Checkpoint
    from rbtrainer.cli import main

    monkeypatch.chdir(tmp_path)
    checkpoint = tmp_path / "ttt.pt"
    argv = ["train", "--env", "game=tictactoe", *CLI_TINY, "--plot-dir", str(tmp_path), "--checkpoint", str(checkpoint)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "against the panel" in out and "minimax" in out and "random" in out
    saved = Checkpoint.read(checkpoint).metadata
    assert saved["episodes"] > 0 and saved["panel"]["episodes"] == saved["episodes"]
    assert {line["opponent"] for line in saved["panel"]["lines"]} == {"random", "minimax"}
    assert main([*argv, "--overwrite", "--panel.off"]) == 0
    assert "against the panel" not in capsys.readouterr().out
    assert "panel" not in Checkpoint.read(checkpoint).metadata


def test_train_without_a_config_takes_the_game_s_own_defaults() -> None:
    from rbtrainer.cli import DEFAULT_TRAIN_CONFIG, GAME_DEFAULT_CONFIGS, _config_path
    from rbtrainer.recipes import Recipe

    for game, path in GAME_DEFAULT_CONFIGS.items():
        recipe = Recipe.from_toml(path)
        assert recipe.game == game and recipe.panel.config(game) is not None  # scored by the game's panel
        assert _config_path("train", ["--env", f"game={game}", "--seed", "1"]) == path
        assert _config_path("train", [f"--env=game={game}"]) == path
        assert _config_path("train", ["--env", f"game={game}", "--config", "mine.toml"]) == "mine.toml"
    assert _config_path("train", ["--env", "game=matrix_game"]) == DEFAULT_TRAIN_CONFIG
    assert _config_path("train", []) == DEFAULT_TRAIN_CONFIG


def test_panels_with_env_groups_and_a_league() -> None:
    from rbtrainer import EnvGroup, League, LeagueConfig

    learner = RecordingLearner(name="learner")
    groups = [
        EnvGroup("self", [learner, learner]),
        EnvGroup("vs random", [learner, RandomAgent(seed=1)], learning_mask=[True, False]),
    ]
    with tictactoe(panel=SMALL_PANEL) as trainer:
        stats = trainer.train(groups, [True, True], plot=False)
    assert len(stats.panel) == len(stats.reward_metric_history) and set(stats.panel[-1].scores) == {"learner"}
    assert set(stats.groups) == {"self", "vs random"}
    league = League(learner, [RandomAgent(seed=3, name="random")], LeagueConfig(snapshot_every=10, seed=5))
    with tictactoe(panel=SMALL_PANEL, num_train_envs=6) as trainer:
        stats = trainer.train(league, [True, False], plot=False)
    assert stats.league is not None and len(stats.panel) == len(stats.reward_metric_history) >= 3


def test_a_league_without_a_metric_is_scored_by_the_default_panel() -> None:
    from rbtrainer import League, LeagueConfig

    league = League(RecordingLearner(), [RandomAgent(seed=3, name="random")], LeagueConfig(snapshot_every=10, seed=5))
    with tictactoe(num_train_envs=6) as trainer:
        stats = trainer.train(league, [True, False], plot=False)
    assert stats.panel and {line.opponent for line in stats.panel[-1].lines} == {"random", "minimax"}
    assert stats.reward_metric_history == [r.score for r in stats.panel] and stats.best_episode > 0


def test_a_run_stopped_before_its_second_round_resumes_exactly(tmp_path) -> None:
    """Its only round is reported "best", but its training state leaves that out: the resumed run
    then picks its best among trained rounds, as the uninterrupted run does."""

    def run(**settings: Any) -> tuple[DecentralizedTrainer, list[Any]]:
        trainer = tictactoe(panel=SMALL_PANEL, **settings)
        learner = dqn_agent(
            trainer.observation_space(0), trainer.action_space(0), config=DQNConfig(hidden_sizes=(16,)), seed=6
        )
        return trainer, [learner, learner]

    whole, stopped, resumed = stop_and_resume(run, [True, True], lambda p: p.episodes == 0, tmp_path / "run.state")
    assert stopped.interrupted and len(stopped.reward_metric_history) == 1 and stopped.best_episode == 0
    assert statistics_without_timings(resumed) == statistics_without_timings(whole) and whole.best_episode > 0
