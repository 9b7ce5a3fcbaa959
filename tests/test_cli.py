"""The command line: train, test, demo, TOML configs; and the README/CI contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rbtrainer.cli import main

ROOT = Path(__file__).resolve().parents[1]

TINY = [
    "--num-train-envs", "3", "--num-test-envs", "3", "--episodes-per-train", "12", "--episodes-per-test", "4",
    "--test-freq", "6", "--update-freq", "32", "--no-progress-bar",
    "--hidden-sizes", "16", "16", "--buffer-size", "2000",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    """``rbtrainer train`` logs under ./runs by default: keep that out of the repository."""
    monkeypatch.chdir(tmp_path)


def test_train_then_test_round_trip(tmp_path, capsys):
    checkpoint = tmp_path / "ttt.pt"
    argv = ["train", "--env", "game=tictactoe", *TINY, "--plot-dir", str(tmp_path), "--checkpoint", str(checkpoint)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "trained 1" in out and "random agents" in out and "best agents" in out and "checkpoint:" in out
    assert checkpoint.exists() and (tmp_path / "ttt_last.pt").exists()
    assert (tmp_path / "tictactoe_training.png").exists()
    assert (tmp_path / "ttt.state").exists()  # the training state, beside the checkpoint
    tests_csv = tmp_path / "runs" / "ttt" / "tests.csv"
    assert tests_csv.read_text().startswith("step,episodes,reward_metric")
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "runs" / "ttt").iterdir())
    assert main(["test", "--checkpoint", str(checkpoint), "--num-test-envs", "2", "--episodes-per-test", "4"]) == 0
    assert "trained" in capsys.readouterr().out
    argv = ["eval", "--env", "game=tictactoe", "--agents", str(checkpoint), "minimax", "random", "--games", "3"]
    assert main([*argv, "--seed", "4", "--num-test-envs", "4", "--plot-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "tictactoe: 18 games, seed 4" in out and "Elo" in out and "score of row against column" in out
    assert "ttt.pt" in out and (tmp_path / "tictactoe_crossplay.png").exists()
    argv = ["eval", "--agents", "random", str(checkpoint), "--games", "2", "--num-test-envs", "2"]
    assert main([*argv, "--plot-dir", str(tmp_path)]) == 0  # no --env: the game the checkpoint records
    assert "tictactoe: 4 games" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["eval", "--env", "game=connect_four", "--agents", str(checkpoint), "strong"])
    assert info.value.code == 2 and "trained on 'tictactoe'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--agents", "random", "wizard"], "unknown agent spec 'wizard'"),
        (["--agents", "random"], "at least two entrants"),
        (["--agents", "random", "minimax", "--games", "0"], "games must be a positive int"),
        (["--agents", "random", "strong"], "cannot play seat"),
        (["--agents", "random", "minimax", "--anchor", "nobody"], "--anchor 'nobody'"),
        (["--agents", "random", "minimax", "--tactics"], "--tactics counts connect-four tactics"),
    ],
)
def test_eval_bad_input_exits_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["eval", "--env", "game=tictactoe", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_eval_counts_connect_four_tactics(tmp_path, capsys):
    argv = ["eval", "--env", "game=connect_four", "--agents", "strong", "opportunist", "random", "--games", "4"]
    assert main([*argv, "--tactics", "--num-test-envs", "4", "--plot-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "connect_four: 24 games" in out and "tactics (immediate wins taken" in out
    rows = {}
    for line in out.split("tactics (")[1].splitlines()[2:]:  # after the title and the column names
        fields = line.split()
        if len(fields) == 6:  # entrant, seat, moves, wins taken, threats blocked, double threats
            rows[fields[0], fields[1]] = [tuple(map(int, cell.split("/"))) for cell in fields[3:5]]
    assert len(rows) == 6
    for seat in ("first", "second"):
        (taken, available), (blocked, threats) = rows["strong", seat]  # it wins at once, else blocks: always
        assert taken == available > 0 and blocked == threats
        (taken, available), _ = rows["opportunist", seat]
        assert taken == available


def test_toml_config_and_flag_override(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(
        '[env]\ngame = "robot_delivery"\nrobot_colors = ["r", "b"]\nmax_step = 40\n\n'
        "[trainer]\nepisodes_per_train = 1000\nseed = 3\n\n[dqn]\nlr = 0.01\n\n[schedule]\neps_start = 0.3\n"
    )
    checkpoint = tmp_path / "robots.pt"
    argv = ["train", "--config", str(config), *TINY, "--plot-dir", str(tmp_path), "--checkpoint", str(checkpoint)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    match = re.search(r"trained (\d+) episodes", out)
    assert match and int(match.group(1)) < 1000  # --episodes-per-train 12 overrides the file's 1000
    import torch

    meta = torch.load(checkpoint, weights_only=True)["metadata"]
    assert meta["env"]["max_step"] == 40 and meta["dqn"]["lr"] == 0.01


def test_bad_arguments_exit_with_a_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--env", "game=chess", "--no-progress-bar"])
    assert info.value.code == 2
    assert "unknown game 'chess'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--lr", "0", "--no-progress-bar"])
    assert "lr must be in" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[trainers]\nseed = 1\n")
    with pytest.raises(SystemExit):
        main(["train", "--config", str(bad)])
    assert "unknown table" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "toml", "message"),
    [
        (["train", "--lr", "0"], None, "lr must be in"),
        (["train", "--env", "tictactoe"], None, "--env expects KEY=VALUE"),
        (["train"], '[dqn]\nlr = "fast"\n', "[dqn] lr must be a number"),
        (["train"], "[schedule]\ncheckpoint = 3\n", "[schedule] checkpoint must be a non-empty path"),
        (["train"], "[trainer]\nseeds = 1\n", "[trainer] has unknown key(s) ['seeds']"),
        (["train"], '[schedule]\ncheckpoint = "ck/{foo}.pt"\n', "the fields it may use are {game} and {learner}"),
        (["train", "--checkpoint", "ck/{foo}.pt"], None, "checkpoint 'ck/{foo}.pt' is not a valid path template"),
        (["train", "--checkpoint", "ck/{.pt"], None, "checkpoint 'ck/{.pt' is not a valid path template"),
        (["train", "--num-train-envs", "x"], None, "--num-train-envs: invalid literal for int()"),
        (["train", "--no-such-flag"], None, "Unrecognized options: --no-such-flag"),
        (["train", "--env"], None, "Missing value for argument '--env'"),
        (["train", "--config", "no-such-config.toml"], None, "--config no-such-config.toml: cannot read it"),
        (["train", "--plot-dir", "run.toml"], "", "plot_dir 'run.toml' exists and is not a directory"),
        (["test", "--checkpoint", "x.pt"], "[dqn\n", "Expected ']'"),
        (["test", "--checkpoint", "no-such-checkpoint.pt"], None, "No such file"),
    ],
)
def test_bad_values_end_with_one_line(argv, toml, message, tmp_path, capsys):
    if toml is not None:
        (tmp_path / "run.toml").write_text(toml)
        argv = [*argv, "--config", str(tmp_path / "run.toml")]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rbtrainer {argv[0]}: error: ") and err.count("\n") == 1 and message in err


def test_verbose_before_and_after_the_command(tmp_path, capsys):
    for argv in (["-v", "demo"], ["demo", "-v"], ["demo", "--out-dir", str(tmp_path), "--verbose"]):
        with pytest.raises(SystemExit) as info:
            main([*argv, "--max-step", "0"])  # a bad value: stops before playing
        assert info.value.code == 2
        assert "max_step must be" in capsys.readouterr().err


def test_help_comes_from_the_dataclass_docstrings(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")  # one column, wide enough that these help sentences do not wrap
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    help_text = capsys.readouterr().out
    assert "Gradient minibatch size" in help_text
    assert "Widths of the Q-network's hidden layers" in help_text
    assert "--num-train-envs" in help_text and "--no-progress-bar" in help_text and "--eps-start" in help_text
    config = tmp_path / "run.toml"
    config.write_text("[dqn]\nlr = 0.0123\n")
    with pytest.raises(SystemExit):
        main(["train", "--config", str(config), "--help"])
    assert "Adam learning rate. (default: 0.0123)" in capsys.readouterr().out  # the file's values are the defaults


def test_demo_writes_a_picture(tmp_path, capsys):
    assert main(["demo", "--out-dir", str(tmp_path), "--no-gif", "--players", "r", "b"]) == 0
    assert (tmp_path / "robot_delivery_demo.png").exists()
    assert "winner" in capsys.readouterr().out


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = next(line for line in ci.splitlines() if "pytest" in line).strip()
    assert command in readme


TRAIN_CONFIGS = sorted(p for p in (ROOT / "configs").glob("*.toml") if not p.name.startswith("search_"))


@pytest.mark.parametrize("config", TRAIN_CONFIGS, ids=lambda p: p.name)
def test_example_configs_run(config, tmp_path, capsys):
    envs = "6" if "[opponents]" in config.read_text() else "2"  # an env and a test game for each env group
    argv = ["train", "--config", str(config), "--num-train-envs", envs, "--num-test-envs", envs]
    argv += ["--episodes-per-train", "2", "--episodes-per-test", envs, "--no-progress-bar"]
    argv += ["--plot-dir", str(tmp_path), "--checkpoint", str(tmp_path / "agents.pt")]
    if "[planning]" in config.read_text():  # the search is the cost: a few simulations per move exercise it
        argv += ["--planning.simulations", "4", "--planning.play-simulations", "4", "--panel.games-per-seat", "1"]
    assert main(argv) == 0
    assert (tmp_path / "agents.pt").exists()


def test_the_planning_learners_settings_come_from_flags_and_reach_its_checkpoint(tmp_path, capsys):
    from rbtrainer.checkpoint import read_checkpoint

    argv = ["train", "--env", "game=tictactoe", *TINY, "--plot-dir", str(tmp_path)]
    argv += ["--checkpoint", str(tmp_path / "p.pt")]
    argv += ["--learner", "planning", "--planning.simulations", "4", "--planning.channels", "8"]
    argv += ["--planning.random-moves", "2", "--planning.sample-moves", "3", "--panel.games-per-seat", "1"]
    assert main(argv) == 0
    planning = read_checkpoint(tmp_path / "p.pt")["metadata"]["planning"]
    assert planning["random_moves"] == 2 and planning["sample_moves"] == 3 and planning["channels"] == 8


def test_a_second_run_does_not_replace_the_first_without_overwrite(tmp_path, capsys):
    checkpoint = tmp_path / "ck" / "ttt.pt"
    argv = ["train", "--env", "game=tictactoe", *TINY, "--plot-dir", str(tmp_path), "--checkpoint", str(checkpoint)]
    assert main(argv) == 0
    first = checkpoint.read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and "an earlier run's results are in the way" in err and "--overwrite" in err
    assert checkpoint.read_bytes() == first
    assert main([*argv, "--overwrite", "--seed", "5"]) == 0
    assert checkpoint.read_bytes() != first


def test_train_in_a_league_from_flags_and_from_a_table(tmp_path, capsys):
    from rbtrainer.checkpoint import read_checkpoint

    checkpoint = tmp_path / "league.pt"
    argv = ["train", "--env", "game=tictactoe", *TINY, "--episodes-per-train", "24", "--logdir", ""]
    argv += ["--plot-dir", str(tmp_path), "--checkpoint", str(checkpoint)]
    flags = ["--league.enabled", "--league.snapshot-every", "8", "--league.opponents", "random", "minimax"]
    assert main([*argv, *flags]) == 0
    out = capsys.readouterr().out
    assert "league: 4 snapshots taken, pool ['random', 'minimax', 'dqn@0', 'dqn@8', 'dqn@16', 'dqn@24']" in out
    league = read_checkpoint(tmp_path / "league_last.pt")["metadata"]["league"]  # the final pool
    assert [m["name"] for m in league["members"]] == ["random", "minimax", "dqn@0", "dqn@8", "dqn@16", "dqn@24"]
    (tmp_path / "league.toml").write_text('[league]\nsnapshot_every = 12\nsampling = "uniform"\n')
    assert main([*argv, "--config", str(tmp_path / "league.toml"), "--env", "game=tictactoe", "--overwrite"]) == 0
    assert "league: 3 snapshots taken, pool ['random', 'dqn@0', 'dqn@12', 'dqn@24']" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "toml", "message"),
    [
        (["--league.enabled", "--league.sampling", "elo"], None, "sampling must be one of ['uniform', 'pfsp']"),
        ([], '[league]\nopponents = ["wizard"]\n', "unknown agent spec 'wizard'"),
        ([], "[league]\nsnapshots = 3\n", "[league] has unknown key(s) ['snapshots']"),
        ([], "[league]\nsnapshot_every = 0\n", "[league] snapshot_every must be a positive int"),
        ([], '[league]\nopponents = "random"\n', "opponents must be a list of agent specs"),
    ],
)
def test_bad_league_options_end_with_one_line(argv, toml, message, tmp_path, capsys):
    argv = ["train", "--env", "game=tictactoe", *TINY, *argv]
    if toml is not None:
        (tmp_path / "run.toml").write_text(toml)
        argv = [*argv, "--config", str(tmp_path / "run.toml")]
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "checkpoints").exists()


def test_resume_of_a_missing_state_is_refused_before_anything_is_built(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--env", "game=tictactoe", *TINY, "--resume", str(tmp_path / "none.state")])
    assert info.value.code == 2 and "none.state: no such training state" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
