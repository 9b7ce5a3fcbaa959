"""``benchmarks/strong_agents.py robots --evaluate``: saved robot snapshots measured again on fresh games."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from rbtrainer.checkpoint import Checkpoint

ROOT = Path(__file__).resolve().parent.parent
STRONG_AGENTS = ROOT / "benchmarks" / "strong_agents.py"


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(STRONG_AGENTS), *argv], capture_output=True, text=True, timeout=600, check=False, cwd=cwd
    )


def test_evaluate_names_every_missing_snapshot_before_playing(tmp_path):
    done = _run("robots", "--evaluate", str(tmp_path), "--settings", "2", "3b", "--seeds", "0", cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    for name in ("robot_delivery_2_seed0.pt", "robot_delivery_3b_seed0.pt"):
        assert str(tmp_path / name) in done.stderr
    assert "give the --save-dir of a robots sweep" in done.stderr


def test_evaluate_plays_a_saved_snapshot_again_and_keeps_its_training_figures(tmp_path):
    shipped = ROOT / "pretrained" / "robot_delivery_2p_battery.pt"
    shutil.copy(shipped, tmp_path / "robot_delivery_2b_seed0.pt")
    out = tmp_path / "rows.json"
    done = _run(
        "robots", "--evaluate", str(tmp_path), "--settings", "2b", "--seeds", "0", "--json", str(out), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
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
