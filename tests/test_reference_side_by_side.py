"""Side by side with the reference: ``robot_results.py`` training rows with the reference's trainer,
``reference_speed.py`` measuring its loops, and A*'s levels for every team split of a row. The scripts
run in this process (loaded as modules), with a stand-in for the reference environment's python."""

from __future__ import annotations

import importlib.util
import json
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

REFERENCE_RUN = {
    "curve": [[112, -23.4, 60.0], [2016, 17.1, 1500.0]],
    "reached": None,
    "best_metric": 17.1,
    "best_episode": 2016,
    "episodes": 2016,
    "env_steps": 300000,
    "gradient_steps": 6000,
    "wall_seconds": 1510.0,
    "versions": {"tianshou": "1.0.0", "torch": "2.13.0+cpu"},
}


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _main(name: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [str(BENCHMARKS / f"{name}.py"), *argv])
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # as when run: the script's directory comes first
    _script(name).main()


def _fake_reference_python(tmp_path: Path) -> Path:
    """A stand-in for the reference environment's python: answers the probe, records each run's arguments
    and prints what the driver prints last."""
    fake = tmp_path / "reference-python"
    calls = tmp_path / "calls.txt"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-c" ]; then echo "1.0.0 2.13.0+cpu"; exit 0; fi\n'
        f'echo "$@" >> {calls}\n'
        'echo "Epoch #1: 100%|#####| 16/16" >&2\n'  # the reference's own output: not passed on
        'echo "episode 112: metric -23.40 at 60 s" >&2\n'
        f"echo '{json.dumps(REFERENCE_RUN)}'\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake


@pytest.mark.parametrize("name", ["robot_results", "reference_speed"])
def test_a_python_without_the_reference_is_refused_before_anything_runs(name, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        _main(name, ["--reference-python", sys.executable], monkeypatch)
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert f"--reference-python {sys.executable!r} cannot import the reference's package rbgame" in err
    assert "give the python of the environment the reference is installed in" in err and out == ""


def test_reference_rows_run_the_driver_with_each_rows_settings_and_sit_beside_ours(tmp_path, monkeypatch, capsys):
    ours_row = {
        "row": "2", "seed": 0, "reached": None, "best_metric": 16.8, "best_episode": 1500, "episodes": 2000,
        "env_steps": 200000, "wall_seconds": 300.0, "astar_selfplay": 17.0, "curve": [],
    }  # fmt: skip
    ours = tmp_path / "ours.json"
    ours.write_text(json.dumps({"rows": [ours_row]}))
    fake = _fake_reference_python(tmp_path)
    out = tmp_path / "reference.json"
    argv = ["--rows", "2", "6b", "--reference-python", str(fake), "--ours", str(ours), "--json", str(out)]
    _main("robot_results", [*argv, "--minutes", "9"], monkeypatch)
    shown, err = capsys.readouterr()
    assert "row 2 seed 0, reference: episode 112: metric -23.40 at 60 s" in err  # each test round as it comes
    assert "row 6b seed 0, reference: episode 112" in err and "Epoch" not in err
    calls = sorted((tmp_path / "calls.txt").read_text().splitlines())
    assert len(calls) == 2
    assert "--players 2 --mails 4 --max-step 500 --episodes 2000 --minutes 9.0 --plateau 21.0 --seed 0" in calls[0]
    assert calls[1].endswith("--players 6 --mails 6 --max-step 800 --episodes 6000 --minutes 9.0 --plateau 22.0 "
                             "--seed 0 --battery")  # fmt: skip
    written = json.loads(out.read_text())
    assert "commit" in written["git"] and written["command"].startswith("benchmarks/robot_results.py")
    two, six = written["rows"]
    assert two["reference_run"] == REFERENCE_RUN and two["ours"]["best_metric"] == 16.8
    assert six["ours"] is None  # no run of ours for that row: shown as such, not made up
    assert (
        "| 2 | no | 21 at 2,000 | 2,016 / 25.2 min | 17.10 (2,016) | no | 2,000 / 5.0 min | 16.80 (1,500) | no | 17.0 |"
        in shown
    )
    assert "| 6 | yes | 22 at 6,000 | 2,016 / 25.2 min | 17.10 (2,016) | no | - | - | - | - |" in shown


def test_astar_splits_measures_every_way_to_split_a_rows_robots():
    robot_results = _script("robot_results")
    row = robot_results.astar_splits("4", 0)
    assert [split[:2] for split in row["splits"]] == [[4, 1], [2, 2]]
    alone, teams = row["splits"][0][2], row["splits"][1][2]
    assert alone > teams > 0  # two robots share a team's four mails: each earns about half as much
    assert f"| 4 | no | 14.5 | 4 x 1: {alone:.1f}, 2 x 2: {teams:.1f} |" in robot_results.splits_table([row])


def test_the_results_table_leaves_out_the_games_against_astar_when_no_row_played_them():
    """Rows of 4 robots and more play no games against A* (``crossplay`` is null): their table is the
    results table alone, not followed by an empty one."""
    robot_results = _script("robot_results")
    row = {
        "row": "4b",
        "seed": 1,
        "env": {"robot_colors": ["r", "o", "gr", "b"], "with_battery": True},
        "plateau": 24.0,
        "reference_episodes": 9000,
        "reached": {"episodes": 1550, "steps": 631904, "seconds": 438.0},
        "episodes": 1650,
        "env_steps": 670000,
        "wall_seconds": 460.0,
        "best_metric": 24.02,
        "best_episode": 1550,
        "astar_selfplay": 23.5,
        "crossplay": None,
    }
    shown = robot_results.table({"minutes": 12, "games": 100, "rows": [row]})
    assert (
        "| 4 | yes | 1 | 24 at 9,000 | 1,550 / 631,904 / 7.3 min | 0.17 | met | 24.02 (episode 1,550) | 23.5 |" in shown
    )
    assert "DQN wins" not in shown


def test_a_failed_reference_run_names_the_row_and_shows_the_end_of_its_output(tmp_path):
    failing = tmp_path / "reference-python"
    failing.write_text(
        '#!/bin/sh\necho "episode 112: metric -23.40 at 60 s" >&2\necho "ValueError: bad row" >&2\nexit 3\n'
    )
    failing.chmod(failing.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(RuntimeError, match=r"failed on row 2 \(exit 3\):\nepisode 112: .*\nValueError: bad row$"):
        _script("robot_results").run_reference_row("2", 0, str(failing), 100, 1.0)
