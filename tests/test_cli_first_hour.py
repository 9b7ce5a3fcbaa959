"""What a new user meets in the first hour of the command line: the progress bar, errors, help, speed, version."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rbtrainer.cli import main

TINY = [
    "--env", "game=tictactoe", "--num-train-envs", "6", "--num-test-envs", "6", "--episodes-per-train", "6",
    "--episodes-per-test", "6", "--test-freq", "6", "--update-freq", "16", "--hidden-sizes", "8",
    "--buffer-size", "500", "--logdir", "",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _train(tmp_path, capsys, *flags: str) -> str:
    argv = ["train", *TINY, "--plot-dir", str(tmp_path), "--checkpoint", str(tmp_path / "a.pt"), "--overwrite"]
    assert main([*argv, *flags]) == 0
    return capsys.readouterr().err


def test_the_progress_bar_follows_the_terminal_unless_a_flag_forces_it(tmp_path, capsys):
    assert "%|" not in _train(tmp_path, capsys)  # stderr is captured here: not a terminal, no bar
    assert "%|" in _train(tmp_path, capsys, "--progress-bar")
    assert "%|" not in _train(tmp_path, capsys, "--no-progress-bar")


def test_help_says_when_the_bar_is_drawn(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "(default: only when stderr is a terminal)" in capsys.readouterr().out


def _error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_a_misspelt_flag_keeps_tyros_suggestion(capsys):
    err = _error(["train", "--episodes-per-trian", "3"], capsys)
    assert err.startswith("rbtrainer train: error: Unrecognized options: --episodes-per-trian")
    assert "perhaps you meant --episodes-per-train" in err and err.rstrip().endswith("(see rbtrainer train --help)")


@pytest.mark.parametrize("argv", [["trian"], ["trian", "--seed", "3"], [], ["-v"]])
def test_a_bad_or_missing_command_names_the_commands(argv, capsys):
    err = _error(argv, capsys)
    assert err.startswith("rbtrainer: error: ") and "train, test, eval, search, demo, play" in err, err
    assert "rbtrainer :" not in err and "trian --help" not in err and err.rstrip().endswith("(see rbtrainer --help)")


def test_a_failure_without_a_command_has_no_stray_space(tmp_path, capsys):
    err = _error(["--config", str(tmp_path / "none.toml")], capsys)
    assert err.startswith("rbtrainer: error: "), err


def test_version(capsys):
    import rbtrainer

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"rbtrainer {rbtrainer.__version__}\n"


HEAVY = """
import sys
from rbtrainer.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print(sorted(m for m in ("torch", "tianshou") if m in sys.modules))
"""


@pytest.mark.parametrize(
    "argv", [["--help"], ["train", "--help"], ["test", "--help"], ["train", "--episodes-per-trian", "3"]]
)
def test_help_and_parse_errors_import_neither_torch_nor_tianshou(argv, tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", HEAVY.format(argv=argv)], capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines()[-1] == "[]", done.stderr[-2000:]


MATRIX = [
    "train", "--env", "game=matrix_game", "--num-train-envs", "2", "--num-test-envs", "2", "--episodes-per-train", "4",
    "--episodes-per-test", "2", "--test-freq", "2", "--update-freq", "8", "--hidden-sizes", "8", "--logdir", "",
]  # fmt: skip
"""A train run of a few seconds: the matrix game, whose games never have a winner."""


def test_the_training_summary_says_n_a_for_a_time_span_no_game_has(tmp_path, capsys):
    """No game of the matrix game has a winner: there is no time span to average, and no 'nan' is printed."""
    assert main([*MATRIX, "--plot-dir", str(tmp_path), "--checkpoint", "m.pt"]) == 0
    out = capsys.readouterr().out
    summary = [line for line in out.splitlines() if line.startswith(("final agents", "best agents"))]
    assert len(summary) == 2 and all("mean time span n/a (no game was won)" in line for line in summary), out
    assert not re.search(r"\bnan\b", out, re.IGNORECASE), out


def test_the_training_figure_is_titled_with_the_games_registry_name(tmp_path, monkeypatch):
    """The figure's title names the game as the command line does (matrix_game), not as its env does (*_v0)."""
    import rbtrainer.run.loop as loop

    titles: list[str] = []
    real = loop.plot_training_curves

    def recording(*args, **kwargs):
        titles.append(kwargs["title"])
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "plot_training_curves", recording)
    assert main([*MATRIX, "--plot-dir", str(tmp_path), "--checkpoint", "m.pt"]) == 0
    assert len(titles) == 1 and titles[0].startswith("matrix_game: 2 seats, "), titles
    assert (tmp_path / "matrix_game_training.png").stat().st_size > 0


@pytest.mark.parametrize("flag", ["--record", "--gif"])
@pytest.mark.parametrize("path", ["games/c4.json", "games/new/c4.json"])
def test_play_writes_no_recording_into_a_python_package(tmp_path, capsys, flag, path):
    """From the repository's root, games/ is a package: a record there is refused before the game is played."""
    (tmp_path / "games").mkdir()
    (tmp_path / "games" / "__init__.py").write_text("")
    err = _error(["play", "--env", "game=tictactoe", "--agents", "random", flag, path], capsys)
    assert f"{flag} {path}: games is a Python package directory" in err and f"{flag} recordings/c4.json" in err
    assert sorted(p.name for p in (tmp_path / "games").iterdir()) == ["__init__.py"]


def test_play_records_into_a_plain_folder(tmp_path, capsys):
    assert main(["play", "--env", "game=tictactoe", "--agents", "random", "--record", "recordings/c4.json"]) == 0
    assert "record: recordings/c4.json" in capsys.readouterr().out
    assert main(["play", "--replay", "recordings/c4.json"]) == 0


ROBOT_RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "robot_results.py"


def _robot_results(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROBOT_RESULTS), *argv], capture_output=True, text=True, timeout=300, check=False
    )


def test_robot_results_reuse_refuses_a_folder_without_results(tmp_path):
    """On a fresh clone --reuse finds nothing: it says so instead of training every row for hours."""
    done = _robot_results("--reuse", "--out-dir", str(tmp_path / "none"), "--rows", "2", "3")
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"--reuse: none of the rows' results is in --out-dir {tmp_path / 'none'}" in done.stderr
    assert "leave out --reuse to train every row" in done.stderr and done.stdout == ""


def test_robot_results_reuse_names_the_file_of_every_row_it_reads(tmp_path):
    row = {
        "row": "2", "seed": 0, "env": {"game": "robot_delivery", "robot_colors": ["r", "b"]}, "plateau": 21.0,
        "reference_episodes": 2000, "reached": None, "episodes": 2000, "env_steps": 1000, "wall_seconds": 60.0,
        "best_metric": 17.0, "best_episode": 1000, "curve": [[0, 0, 1.0], [2000, 1000, 17.0]], "astar_selfplay": 17.0,
    }  # fmt: skip
    (tmp_path / "robots_2_seed0.json").write_text(json.dumps(row))
    done = _robot_results("--reuse", "--out-dir", str(tmp_path), "--rows", "2", "--plot-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[0] == f"2 seed 0: reusing {tmp_path / 'robots_2_seed0.json'}"
    assert "| 2 | no | 0 | 21 at 2,000 | not reached in 2,000 episodes" in done.stdout


def test_robot_results_holds_the_plateau_as_long_as_it_documents():
    """The README's table ran with 100 more episodes after the plateau; the script's default and docstring say so."""
    shown = " ".join(_robot_results("--help").stdout.split())  # the docstring, then the options
    assert "``--hold-episodes`` more (default 100)" in shown
    assert "--hold-episodes HOLD_EPISODES episodes to keep training after the plateau (default: 100)" in shown


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()
    }


def test_resuming_a_complete_run_says_so_and_changes_no_file(tmp_path, capsys):
    """A finished run's state is behind its end (its last round writes none): resuming it used to train the
    tail again, cut its logs back and rewrite its final agents. Same budget, or a smaller one: one line, status 0
    (the run asked for is there, as a scheduler re-running the command should see). A larger budget trains on."""
    run = tmp_path / "run"
    argv = ["train", *TINY[:-2], "--episodes-per-train", "18", "--logdir", str(run / "logs")]
    argv += ["--plot-dir", str(run), "--checkpoint", str(run / "a.pt"), "--no-progress-bar"]
    assert main(argv) == 0
    capsys.readouterr()
    before = _files(run)
    assert {"a.pt", "a_last.pt", "a.state", "logs/a/tests.csv"} <= set(before)
    for budget in ("18", "6"):
        assert main([*argv, "--episodes-per-train", budget, "--resume", str(run / "a.state")]) == 0
        out = capsys.readouterr().out
        assert out.count("\n") == 1 and f"the run of --resume {run / 'a.state'} is complete" in out, out
        assert f"reach its budget --episodes-per-train {budget})" in out and "no file changed" in out
        assert _files(run) == before
    first = [float(row.split(",")[1]) for row in before["logs/a/tests.csv"][0].decode().splitlines()[1:]]
    assert main([*argv, "--episodes-per-train", "30", "--resume", str(run / "a.state")]) == 0
    trained = re.search(r"^trained (\d+) episodes", capsys.readouterr().out, re.MULTILINE)
    assert trained is not None and int(trained.group(1)) >= 30
    rounds = [float(row.split(",")[1]) for row in (run / "logs" / "a" / "tests.csv").read_text().splitlines()[1:]]
    assert rounds[: len(first) - 1] == first[:-1] and rounds[-1] >= 30 > first[-1] >= 18
    assert _files(run)["a_last.pt"] != before["a_last.pt"]


def test_without_tensorboard_train_logs_csv_and_says_how_to_get_event_files(tmp_path, capsys, monkeypatch):
    """tensorboard is an extra: without it TensorBoardLogger names the extra, and rbtrainer train logs CSV only."""
    from rbtrainer.logs import TensorBoardLogger

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "rbtrainer\[tensorboard\]"'):
        TensorBoardLogger(tmp_path / "tb")
    argv = [*MATRIX[:-2], "--logdir", str(tmp_path / "logs"), "--plot-dir", str(tmp_path), "--checkpoint", "m.pt"]
    assert main(argv) == 0
    assert 'pip install "rbtrainer[tensorboard]" for TensorBoard event files' in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "logs" / "m").iterdir()) == ["tests.csv", "updates.csv"]


def test_the_wheel_holds_the_license_the_type_marker_and_the_extras(tmp_path):
    import shutil
    import zipfile

    root = Path(__file__).resolve().parent.parent
    source = tmp_path / "src"  # a copy: the build leaves nothing in the checkout
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        source.mkdir(exist_ok=True)
        shutil.copy(root / name, source / name)
    for package in ("rbtrainer", "games"):
        shutil.copytree(root / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)]
    done = subprocess.run([*argv, str(source)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("rbtrainer-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "rbtrainer/py.typed" in names and any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    lines = zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
    assert "Provides-Extra: tensorboard" in lines and "License-File: LICENSE" in lines
    for extra in ("tensorboard", "dev"):
        assert any(n.startswith("Requires-Dist: tensorboard") and f'extra == "{extra}"' in n for n in lines), extra


def _help_boxes(command: str, capsys, monkeypatch) -> dict[str, list[str]]:
    """``rbtrainer COMMAND --help`` by group (title -> options, each its flags and help on one line).

    Captured output is not a terminal: tyro draws each group as a title over a rule, its options
    indented two spaces, their help wrapped below at a deeper indent."""
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit):
        main([command, "--help"])
    boxes: dict[str, list[str]] = {}
    entries: list[str] = []
    lines = capsys.readouterr().out.splitlines()
    for line, below in zip(lines, [*lines[1:], ""]):
        if re.fullmatch(r" \S.*", line.rstrip()) and set(below.strip()) == {"-"}:
            entries = boxes.setdefault(line.strip(), [])
        elif re.match(r"  -[^-]|  --\w", line):
            entries.append(line.strip())
        elif line.startswith("   ") and line.strip() and entries:  # the help of the option above, wrapped
            entries[-1] += " " + line.strip()
    return boxes


@pytest.mark.parametrize("command", ["train", "test", "eval", "play", "search", "demo"])
def test_help_is_plain_text_and_says_each_default_once(command, capsys, monkeypatch):
    options = [entry for entries in _help_boxes(command, capsys, monkeypatch).values() for entry in entries]
    assert len(options) > 5
    for entry in options:
        assert "`" not in entry and not re.search(r":\w+:", entry), entry  # no reST: ``x``, :class:`x`
        assert entry.count("(default") <= 1, entry


def test_help_moves_a_docstrings_default_remark_to_the_default(capsys, monkeypatch):
    (plot_name,) = [e for e in _help_boxes("train", capsys, monkeypatch)["trainer options"] if "--plot-name" in e]
    assert plot_name.endswith("File name of the figure. (default: <game>_training.png)"), plot_name
    (anchor,) = [e for e in _help_boxes("eval", capsys, monkeypatch)["options"] if e.startswith("--anchor")]
    assert anchor.endswith("Entrant rated 0 Elo. (default: the weakest)"), anchor


@pytest.mark.parametrize("command", ["train", "test", "eval"])
def test_config_help_names_every_table_a_recipe_may_hold(command, capsys, monkeypatch):
    from rbtrainer.config import TABLES

    (config,) = [e for e in _help_boxes(command, capsys, monkeypatch)["options"] if e.startswith("--config")]
    assert all(f"[{table}]" in config for table in TABLES), config


def test_checkpoint_is_with_the_output_options(capsys, monkeypatch):
    boxes = _help_boxes("train", capsys, monkeypatch)
    flags = [entry.split()[0].rstrip(",") for entry in boxes["output options"]]
    assert flags == ["--checkpoint", "--logdir", "--resume", "--overwrite", "--resume-changed"]
    assert not any("--checkpoint" in entry for entry in boxes["schedule options"])


TRAINING_FLAGS = [
    ("--episodes-per-train", "3"), ("--max-env-steps", "3"), ("--update-freq", "3"), ("--test-freq", "3"),
    ("--num-train-envs", "3"), ("--batch-size", "3"), ("--update-per-step", "1"), ("--state-path", "x"),
    ("--state-every", "2"), ("--state-memory", "True"), ("--overlap",), ("--no-shared-memory",), ("--progress-bar",),
    ("--plot-name", "x"), ("--lr", "0.1"), ("--eps-start", "0.5"), ("--logdir", "x"), ("--resume", "x"),
    ("--league.enabled",), ("--panel.off",),
]  # fmt: skip


@pytest.mark.parametrize("command", ["test", "eval"])
def test_test_and_eval_offer_only_the_flags_they_use(command, capsys, monkeypatch):
    shown = {
        e.split()[0].rstrip(",") for entries in _help_boxes(command, capsys, monkeypatch).values() for e in entries
    }
    assert {"--num-test-envs", "--seed", "--backend", "--device"} <= shown
    assert not shown & {flag for flag, *_ in TRAINING_FLAGS}, shown & {flag for flag, *_ in TRAINING_FLAGS}
    needed = ["--checkpoint", "x.pt"] if command == "test" else ["--agents", "random", "random"]
    for flag in TRAINING_FLAGS:
        err = _error([command, *needed, *flag], capsys)
        assert err.startswith(f"rbtrainer {command}: error: {flag[0]}: an option of rbtrainer train, which {command}")


def test_every_command_seeds_with_0_unless_told(tmp_path, capsys, monkeypatch):
    """train with a --config that sets no seed, test and eval: seed 0 (test and eval used to draw one at random)."""
    from rbtrainer.trainer import DecentralizedTrainer

    seeds: list[int] = []
    real = DecentralizedTrainer._set_root_seed

    def recording(trainer: DecentralizedTrainer, root: int) -> None:
        seeds.append(root)
        real(trainer, root)

    monkeypatch.setattr(DecentralizedTrainer, "_set_root_seed", recording)
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('[env]\ngame = "tictactoe"\n')
    assert main(["train", "--config", str(recipe), *TINY[2:], "--plot-dir", str(tmp_path), "--checkpoint", "a.pt"]) == 0
    assert main(["test", "--checkpoint", "a.pt", "--num-test-envs", "3", "--episodes-per-test", "3"]) == 0
    eval_ = ["eval", "--env", "game=tictactoe", "--agents", "random", "minimax", "--games", "2"]
    assert main(eval_) == 0
    assert main([*eval_, "--seed", "5"]) == 0
    assert seeds == [0, 0, 0, 5]
    out = capsys.readouterr().out
    assert "tictactoe: 4 games, seed 0" in out and "tictactoe: 4 games, seed 5" in out
