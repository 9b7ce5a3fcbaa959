"""``benchmarks/planning_agents.py connect_four --evaluate``: saved planning learners measured again on
fresh games, with their own or another play budget (the script loaded as a module, in this process)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from rbtrainer.checkpoint import Checkpoint

ROOT = Path(__file__).resolve().parent.parent
PLANNING_AGENTS = ROOT / "benchmarks" / "planning_agents.py"
SHIPPED = ROOT / "pretrained" / "connect_four_planning.pt"


def _main(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("benchmark_planning_agents", PLANNING_AGENTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", [str(PLANNING_AGENTS), *argv])
    module.main()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "0", "3"], "connect_four_planning_seed3.pt; give the --save-dir of a sweep"),
        (["--seeds", "0", "--play-simulations", "0"], "--play-simulations must be >= 1, got 0"),
        (["--seeds", "0", "--save-dir", "x"], "--save-dir does not apply to --evaluate"),
    ],
)
def test_evaluate_refuses_bad_arguments_before_playing(argv, message, tmp_path, monkeypatch, capsys):
    shutil.copy(SHIPPED, tmp_path / "connect_four_planning_seed0.pt")
    with pytest.raises(SystemExit):
        _main(["connect_four", "--evaluate", str(tmp_path), *argv], monkeypatch)
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_play_simulations_without_evaluate_is_refused(monkeypatch, capsys):
    with pytest.raises(SystemExit):
        _main(["connect_four", "--play-simulations", "50"], monkeypatch)
    assert "--play-simulations applies to --evaluate" in capsys.readouterr().err


def test_evaluate_plays_a_saved_learner_again_with_another_budget(tmp_path, monkeypatch):
    shutil.copy(SHIPPED, tmp_path / "connect_four_planning_seed0.pt")
    out = tmp_path / "again.json"
    argv = ["connect_four", "--evaluate", str(tmp_path), "--seeds", "0", "--games", "2", "--opponents", "random"]
    _main([*argv, "--play-simulations", "3", "--json", str(out)], monkeypatch)
    (row,) = json.loads(out.read_text())["rows"]
    trained = Checkpoint.read(SHIPPED).metadata
    assert row["simulations"] == 3 and row["train_seconds"] == trained["figures"]["train_seconds"]
    assert row["trained_at"] == trained["git"] and row["evaluation_seed"] == 30_000
    assert {key: counts["games"] for key, counts in row["results"].items()} == {"random/0": 2, "random/1": 2}
    for counts in row["results"].values():
        assert counts["wins"] + counts["draws"] + counts["losses"] == 2
