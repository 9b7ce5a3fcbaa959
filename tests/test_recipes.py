"""Recipes: TOML files -> the trainer, learner and schedule of ``rbtrainer train``, search and benchmarks."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from rbtrainer.cli import main
from rbtrainer.recipes import Opponent, OpponentMix, Recipe, ScheduleConfig, parse_env_pair, read_tables
from rbtrainer.search import load_search

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.toml"))

TINY = {
    "num_train_envs": 2,
    "num_test_envs": 2,
    "episodes_per_train": 12,
    "episodes_per_test": 4,
    "test_freq": 6,
    "update_freq": 32,
    "progress_bar": False,
}
TINY_DQN = {"hidden_sizes": [16, 16], "buffer_size": 2000}


def _flags(tables: dict[str, dict]) -> list[str]:
    out: list[str] = []
    for table in ("trainer", "dqn"):
        for key, value in tables[table].items():
            flag = "--" + key.replace("_", "-")
            if isinstance(value, bool):
                out.append(flag if value else "--no-" + key.replace("_", "-"))
            elif isinstance(value, list):
                out += [flag, *map(str, value)]
            else:
                out += [flag, str(value)]
    return out


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_every_config_parses(config: Path) -> None:
    if config.name.startswith("search_"):
        spec = load_search(config)
        assert spec.space and Recipe.from_tables(spec.base).game == spec.base["env"]["game"]
        return
    recipe = Recipe.from_toml(config)
    assert recipe.tables() == Recipe.from_tables(recipe.tables()).tables()  # the tables read back the same
    assert recipe.game == recipe.env.get("game", "robot_delivery")
    assert read_tables(config)["dqn"] == recipe.tables()["dqn"]  # the CLI reads the same settings


def test_a_recipe_trains_as_rbtrainer_train_does(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "ttt.toml"
    config.write_text('[env]\ngame = "tictactoe"\n\n[trainer]\nseed = 4\n\n[schedule]\neps_episodes = 8\n')
    argv = ["train", "--config", str(config), *_flags({"trainer": TINY, "dqn": TINY_DQN})]
    assert main([*argv, "--plot-dir", str(tmp_path), "--checkpoint", str(tmp_path / "a.pt"), "--logdir", ""]) == 0
    out = capsys.readouterr().out
    match = re.search(r"trained (\d+) episodes / (\d+) env steps / (\d+) gradient steps", out)
    best = re.search(r"best test reward metric (\S+) at (\d+) episodes", out)
    assert match and best

    recipe = Recipe.from_toml(config, trainer={**TINY, "plot_dir": str(tmp_path)}, dqn=TINY_DQN)
    stats = recipe.run()
    assert (stats.collected_episodes, stats.collected_steps, stats.gradient_steps) == tuple(map(int, match.groups()))
    assert f"{stats.best_reward_metric:.3f}" == best.group(1) and stats.best_episode == int(best.group(2))
    again = recipe.run()  # same seed, same statistics
    assert again.reward_metric_history == stats.reward_metric_history
    assert again.collected_steps == stats.collected_steps and again.gradient_steps == stats.gradient_steps


def test_the_opponent_mix_seats_the_learner_against_its_opponents(tmp_path) -> None:
    recipe = Recipe.from_toml(
        ROOT / "configs" / "tictactoe_strong.toml",
        trainer={**TINY, "num_train_envs": 5, "num_test_envs": 5, "episodes_per_test": 5, "test_freq": 5},
        dqn={**TINY_DQN},
    )
    with recipe.build() as run:
        assert run.groups is not None
        assert [g.name for g in run.groups] == [
            "self-play",
            "vs random (first)",
            "vs random (second)",
            "vs noisy minimax (first)",
            "vs noisy minimax (second)",
        ]
        assert run.groups[3].agents[0] is run.learner and run.groups[4].agents[1] is run.learner
        stats = run.train(plot=False)
    assert set(stats.groups) == {g.name for g in run.groups}
    with pytest.raises(ValueError, match="two-seat games"):
        Recipe(env={"robot_colors": ["r", "b", "gr"]}, opponents=OpponentMix(against=[{"spec": "random"}])).build()  # type: ignore[arg-type]


def test_unknown_tables_and_keys_are_refused_by_name(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[dqn]\nlearning_rate = 0.1\n")
    with pytest.raises(ValueError, match=r"\[dqn\] has unknown key\(s\) \['learning_rate'\]"):
        Recipe.from_toml(bad)
    bad.write_text("[trainers]\nseed = 1\n")
    with pytest.raises(ValueError, match=r"unknown table\(s\) \['trainers'\]"):
        Recipe.from_toml(bad)
    bad.write_text('[opponents]\nagainst = [{ spec = "random", weight = 2 }]\n')
    with pytest.raises(ValueError, match=r"\[opponents\] against\[0\] has unknown key\(s\) \['weight'\]"):
        Recipe.from_toml(bad)
    with pytest.raises(ValueError, match=r"\[schedule\] has unknown key\(s\) \['eps'\]"):
        Recipe.from_toml(ROOT / "configs" / "tictactoe_selfplay.toml", schedule={"eps": 0.1})
    with pytest.raises(ValueError, match=r"unknown table\(s\) \['dqns'\]"):
        Recipe.from_toml(ROOT / "configs" / "tictactoe_selfplay.toml", dqns={"lr": 0.1})
    with pytest.raises(ValueError, match=r"\[trainer\] test_freq must be a positive int"):
        Recipe.from_toml(ROOT / "configs" / "tictactoe_selfplay.toml", trainer={"test_freq": 0})
    with pytest.raises(ValueError, match="league or against an opponent mix, not both"):
        Recipe.from_toml(ROOT / "configs" / "tictactoe_strong.toml", league={"snapshot_every": 10})


def test_overrides_are_applied_and_nothing_passed_is_mutated() -> None:
    path = ROOT / "configs" / "connect_four_league.toml"
    trainer = {"seed": 7, "test_freq": 3}
    env = {"game": "connect_four"}
    kept = copy.deepcopy((trainer, env))
    recipe = Recipe.from_toml(path, trainer=trainer, env=env, dqn={"hidden_sizes": [8]})
    assert (trainer, env) == kept
    assert recipe.trainer.seed == 7 and recipe.trainer.test_freq == 3 and recipe.trainer.num_train_envs == 16
    assert recipe.dqn.hidden_sizes == (8,) and recipe.dqn.gamma == 0.95 and recipe.league.enabled
    assert recipe.checkpoint_path == "checkpoints/connect_four_league.pt"
    assert recipe.last_checkpoint_path == "checkpoints/connect_four_league_last.pt"

    changed = recipe.replace(trainer={"seed": 8}, env={"rows": 6})
    assert changed.trainer.seed == 8 and recipe.trainer.seed == 7 and "rows" not in recipe.env
    tables = recipe.tables()
    tables["env"]["game"] = "tictactoe"
    tables["trainer"]["seed"] = 99
    assert recipe.env["game"] == "connect_four" and recipe.trainer.seed == 7  # tables() is a copy

    colors = ["r", "b"]
    schedule = ScheduleConfig(eps_episodes=5)
    robots = Recipe(env={"robot_colors": colors}, schedule=schedule)
    robots.env["robot_colors"].append("gr")
    robots.schedule.eps_episodes = 6
    assert colors == ["r", "b"] and schedule.eps_episodes == 5
    assert robots.checkpoint_path == "checkpoints/robot_delivery_dqn.pt"
    planner = Recipe.from_tables({"env": {"game": "tictactoe"}, "planning": {"simulations": 4}})
    assert planner.checkpoint_path == "checkpoints/tictactoe_planning.pt"  # {learner} names the planning learner


def test_bad_values_name_their_field() -> None:
    with pytest.raises(TypeError, match="trainer must be a TrainerConfig"):
        Recipe(trainer={"seed": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="env must be a mapping"):
        Recipe(env=["game"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="epsilon must be in"):
        Opponent(spec="random", epsilon=2.0)
    with pytest.raises(ValueError, match="gives no env a share"):
        OpponentMix(self_play=0.0, against=[{"spec": "random", "first": 0.0, "second": 0.0}])  # type: ignore[arg-type]
    assert parse_env_pair("max_step=40") == ("max_step", 40) and parse_env_pair("game=tictactoe")[1] == "tictactoe"
    with pytest.raises(ValueError, match="--env expects KEY=VALUE"):
        parse_env_pair("tictactoe")


def test_the_library_never_imports_the_cli() -> None:
    offenders = [
        path.name
        for path in (ROOT / "rbtrainer").rglob("*.py")
        if path.name not in ("cli.py", "__main__.py")
        and re.search(r"rbtrainer\.cli\b|from rbtrainer import cli", path.read_text())
    ]
    assert not offenders
    benchmarks = [p.name for p in (ROOT / "benchmarks").glob("*.py") if "sys.path" in p.read_text()]
    assert benchmarks in ([], ["reference_speed.py"])  # it passes sys.path on to a subprocess, imports nothing
