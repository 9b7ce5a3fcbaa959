"""``benchmarks/planning_agents.py connect_four --evaluate``: saved planning learners measured again on
fresh games, with their own or another play budget (the script loaded as a module, in this process)."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark

from rbtrainer.checkpoint import Checkpoint

ROOT = Path(__file__).resolve().parent.parent
PLANNING_AGENTS = ROOT / "benchmarks" / "planning_agents.py"
SHIPPED = ROOT / "pretrained" / "connect_four_planning.pt"


def _main(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_benchmark("planning_agents", monkeypatch)
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


def test_verbose_logs_the_test_rounds_of_a_sweep(tmp_path, monkeypatch, caplog):
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(
        '[env]\ngame = "connect_four"\n'
        "[trainer]\nnum_train_envs = 2\nnum_test_envs = 2\nepisodes_per_train = 4\nepisodes_per_test = 2\n"
        "test_freq = 2\nupdate_freq = 16\nbatch_size = 8\n"
        "[planning]\nsimulations = 2\nchannels = 4\nblocks = 1\nhidden = 8\nrandom_moves = 2\n"
        '[panel]\nopponents = ["random"]\ngames_per_seat = 1\n'
    )
    out = tmp_path / "sweep.json"
    argv = ["connect_four", "--config", str(recipe), "--seeds", "0", "--games", "1", "--opponents", "random"]
    try:
        _main([*argv, "--json", str(out), "--verbose"], monkeypatch)
    finally:  # --verbose set these loggers' levels: the next tests get the defaults back
        for name in ("rbtrainer.run.loop", "rbtrainer.callbacks"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    assert any(record.getMessage().startswith("test at ") for record in caplog.records)
    (row,) = json.loads(out.read_text())["rows"]
    assert row["episodes"] >= 4 and set(row["results"]) == {"random/0", "random/1"}
