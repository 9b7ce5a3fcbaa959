"""``benchmarks/strong_agents.py robots --evaluate``: saved robot snapshots measured again on fresh games
(the script loaded as a module, in this process)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark

from rbtrainer.checkpoint import Checkpoint

ROOT = Path(__file__).resolve().parent.parent
STRONG_AGENTS = ROOT / "benchmarks" / "strong_agents.py"


def _main(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_benchmark("strong_agents", monkeypatch)
    monkeypatch.setattr(sys, "argv", [str(STRONG_AGENTS), *argv])
    module.main()


def test_evaluate_names_every_missing_snapshot_before_playing(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        _main(["robots", "--evaluate", str(tmp_path), "--settings", "2", "3b", "--seeds", "0"], monkeypatch)
    message = str(exit_.value.code)
    for name in ("robot_delivery_2_seed0.pt", "robot_delivery_3b_seed0.pt"):
        assert str(tmp_path / name) in message
    assert "give the --save-dir of a robots sweep" in message and capsys.readouterr().out == ""


def test_evaluate_plays_a_saved_snapshot_again_and_keeps_its_training_figures(tmp_path, monkeypatch):
    shipped = ROOT / "pretrained" / "robot_delivery_2p_battery.pt"
    shutil.copy(shipped, tmp_path / "robot_delivery_2b_seed0.pt")
    out = tmp_path / "rows.json"
    _main(["robots", "--evaluate", str(tmp_path), "--settings", "2b", "--seeds", "0", "--json", str(out)], monkeypatch)
    (row,) = json.loads(out.read_text())["rows"]
    metadata = Checkpoint.read(shipped).metadata
    trained = metadata["figures"]
    for key in ("setting", "players", "battery", "episodes", "env_steps", "train_seconds", "best_episode"):
        assert row[key] == trained[key]
    assert row["trained_at"] == metadata["git"] and row["evaluation_seed"] == 1_000
    assert row["games_per_seating"] == 100 and row["games"] == 200  # two seat orders
    assert row["dqn"]["games"] == row["astar"]["games"] == 200
    assert row["dqn"]["wins"] + row["dqn"]["draws"] + row["dqn"]["losses"] == 200
    assert row["dqn"]["wins"] > row["astar"]["wins"]  # the shipped battery agent beats A*


def test_robots_recipe_changes_reach_the_trained_recipe_and_bad_ones_stop_first(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit):
        _main(["robots", "--settings", "2a", "--recipe", '{"dqn": {"gama": 0.5}}'], monkeypatch)
    assert "[dqn] has unknown key(s) ['gama']" in capsys.readouterr().err
    out = tmp_path / "rows.json"
    changes = {
        "dqn": {"gamma": 0.5},
        "trainer": {"num_train_envs": 3, "num_test_envs": 3, "episodes_per_test": 3, "test_freq": 6},
        "panel": {"games_per_seat": 1},
    }
    argv = ["robots", "--settings", "2a", "--seeds", "0", "--episodes", "6", "--recipe", json.dumps(changes)]
    _main([*argv, "--json", str(out), "--save-dir", str(tmp_path)], monkeypatch)
    (row,) = json.loads(out.read_text())["rows"]
    assert row["setting"] == "2a" and row["config"] == "configs/robot_delivery_2p_vs_astar.toml"
    assert row["episodes"] >= 6 and row["dqn"]["games"] == 200
    recipe = Checkpoint.read(tmp_path / "robot_delivery_2a_seed0.pt").metadata["recipe"]
    assert recipe["dqn"]["gamma"] == 0.5 and recipe["trainer"]["num_train_envs"] == 3
    assert recipe["opponents"]["against"][0]["spec"] == "astar"  # the setting's own tables are kept
