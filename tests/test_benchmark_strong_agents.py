"""``benchmarks/strong_agents.py robots --evaluate``: saved robot snapshots measured again on fresh games
(the script loaded as a module, in this process)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from rbtrainer.checkpoint import Checkpoint

ROOT = Path(__file__).resolve().parent.parent
STRONG_AGENTS = ROOT / "benchmarks" / "strong_agents.py"


def _main(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("benchmark_strong_agents", STRONG_AGENTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
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
