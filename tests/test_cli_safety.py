"""rbtrainer train never destroys a run by a mistyped command, and a resume says what it changes.

Issue 35, "Reliability, round two": every check before the first file is touched, ``--overwrite``
moving the earlier run aside only once the new one is built (and putting it back if the new run
fails before it saved anything), ``--resume`` refusing another run's files, a lock on a run's
output paths, output names checked up front, and changed settings on resume refused unless
``--resume-changed`` accepts them.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rbtrainer.cli import main

TINY = [
    "--num-train-envs", "3", "--num-test-envs", "3", "--episodes-per-train", "12", "--episodes-per-test", "6",
    "--test-freq", "6", "--update-freq", "32", "--no-progress-bar",
    "--hidden-sizes", "16", "16", "--buffer-size", "2000",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _argv(tmp_path: Path, checkpoint: Path, *more: str) -> list[str]:
    argv = ["train", "--env", "game=tictactoe", *TINY, "--plot-dir", str(tmp_path)]
    return [*argv, "--checkpoint", str(checkpoint), *more]


def _trained(out: str) -> int:
    match = re.search(r"trained (\d+) episodes", out)
    assert match, out
    return int(match.group(1))


def _files(tmp_path: Path) -> dict[str, bytes]:
    """Every file under ``tmp_path`` (but the plots) with its bytes."""
    return {
        str(p.relative_to(tmp_path)): p.read_bytes()
        for p in sorted(tmp_path.rglob("*"))
        if p.is_file() and p.suffix != ".png"
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished tiny tic-tac-toe run: ck.pt, ck_last.pt, ck.state and runs/ck/ under the folder returned."""
    folder = tmp_path_factory.mktemp("finished")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        assert main(_argv(folder, folder / "ck.pt")) == 0
    finally:
        os.chdir(cwd)
    return folder


@pytest.fixture
def earlier_run(finished_run, tmp_path) -> Path:
    """A copy of the finished run in ``tmp_path`` (the test's working directory); its checkpoint path."""
    for path in finished_run.rglob("*"):
        if path.is_file():
            target = tmp_path / path.relative_to(finished_run)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return tmp_path / "ck.pt"


# --------------------------------------------------------------- A1: checks before --overwrite touches anything
BAD_COMMANDS = [
    (["--env", "foo=1"], "foo"),
    (["--league.enabled", "--league.opponents", "wizard"], "unknown agent spec 'wizard'"),
    (["--panel.opponents", "wizard"], "wizard"),
]
if not torch.cuda.is_available():
    BAD_COMMANDS.append((["--device", "cuda"], "cuda"))


@pytest.mark.parametrize(("flags", "message"), BAD_COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_overwrite_with_a_bad_command_keeps_the_earlier_run(earlier_run, tmp_path, capsys, flags, message):
    before = _files(tmp_path)
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(_argv(tmp_path, earlier_run, "--overwrite", *flags))
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and message in err, err
    assert _files(tmp_path) == before  # nothing deleted, nothing added (no lock, no backup left behind)


def test_overwrite_puts_the_earlier_run_back_when_the_new_one_fails_before_saving(
    earlier_run, tmp_path, capsys, monkeypatch
):
    from rbtrainer.run.loop import TrainingRun

    before = _files(tmp_path)

    def broken_step(self):
        raise RuntimeError("the game broke")

    monkeypatch.setattr(TrainingRun, "step", broken_step)
    with pytest.raises(RuntimeError, match="the game broke"):
        main(_argv(tmp_path, earlier_run, "--overwrite", "--seed", "5"))
    assert _files(tmp_path) == before


def test_overwrite_replaces_the_earlier_run_and_leaves_no_backup(earlier_run, tmp_path):
    before = _files(tmp_path)
    assert main(_argv(tmp_path, earlier_run, "--overwrite", "--seed", "5")) == 0
    after = _files(tmp_path)
    assert after["ck.pt"] != before["ck.pt"] and after["ck_last.pt"] != before["ck_last.pt"]
    names = lambda files: sorted(n for n in files if "tfevents" not in n)  # noqa: E731
    assert names(after) == names(before)  # the same files: no backup, no lock left
    assert sum("tfevents" in n for n in after) == 1  # the earlier run's event file replaced


# --------------------------------------------------------------- A2: --resume never writes into another run's files
def test_resume_refuses_to_write_into_another_runs_files(earlier_run, tmp_path, capsys):
    other = tmp_path / "other.pt"
    assert main(_argv(tmp_path, other)) == 0  # run A: other.pt, finished
    before = _files(tmp_path)
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:  # run B's state, run A's checkpoint
        main(_argv(tmp_path, other, "--resume", str(tmp_path / "ck.state"), "--episodes-per-train", "24"))
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1, err
    assert "ck.state" in err and "other.pt" in err and "--checkpoint" in err
    assert _files(tmp_path) == before


def test_resume_continues_its_own_run(earlier_run, tmp_path, capsys):
    assert main(_argv(tmp_path, earlier_run, "--resume", str(tmp_path / "ck.state"), "--episodes-per-train", "18")) == 0
    assert _trained(capsys.readouterr().out) >= 18
    assert not list(tmp_path.glob("*.lock"))


# --------------------------------------------------------------- A3: a lock on the run's output paths
def _hold_lock(path: Path, pid: int):
    handle = open(path, "a+")  # noqa: SIM115
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.truncate(0)
    handle.write(f"{pid}\n")
    handle.flush()
    return handle


def test_a_second_run_on_the_same_paths_is_refused_naming_the_first(tmp_path, capsys):
    checkpoint = tmp_path / "ck.pt"
    handle = _hold_lock(tmp_path / "ck.pt.lock", os.getpid())  # a live run holds the lock
    try:
        with pytest.raises(SystemExit) as info:
            main(_argv(tmp_path, checkpoint))
    finally:
        handle.close()
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and f"PID {os.getpid()}" in err, err
    assert not checkpoint.exists() and not (tmp_path / "runs").exists()


def test_a_stale_lock_of_a_dead_run_is_taken_over(tmp_path, capsys, caplog):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / "ck.pt.lock").write_text(f"{pid}\n")  # left by a killed run: no process holds it
    assert main(_argv(tmp_path, tmp_path / "ck.pt")) == 0
    assert f"PID {pid}" in caplog.text and "stale" in caplog.text
    assert not (tmp_path / "ck.pt.lock").exists()  # released on exit


def test_a_second_process_is_refused_while_the_first_trains(tmp_path, capsys):
    checkpoint = tmp_path / "ck.pt"
    argv = _argv(tmp_path, checkpoint)
    argv[argv.index("--episodes-per-train") + 1] = "100000"
    first = subprocess.Popen([sys.executable, "-m", "rbtrainer", *argv], cwd=tmp_path, stdout=subprocess.DEVNULL)
    try:
        lock = tmp_path / "ck.pt.lock"
        for _ in range(600):
            if lock.exists() and lock.read_text().strip():
                break
            try:
                first.wait(0.1)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"the first run ended early (exit {first.returncode})")
        with pytest.raises(SystemExit) as info:
            main(argv)
        err = capsys.readouterr().err
        assert info.value.code == 2 and f"PID {first.pid}" in err, err
    finally:
        first.terminate()
        first.wait(60)


# --------------------------------------------------------------- A4: output names checked before training
def test_a_checkpoint_name_whose_temporary_files_are_too_long_is_refused_before_training(tmp_path, capsys):
    checkpoint = tmp_path / f"{'c' * 237}.pt"  # fits, and so does its own temporary name; _last's does not
    assert len(f".{checkpoint.name}.01234567.tmp") <= 255 < len(f".{'c' * 237}_last.pt.01234567.tmp")
    with pytest.raises(SystemExit) as info:
        main(["train", "--env", "game=tictactoe", *TINY, "--plot-dir", str(tmp_path), "--checkpoint", str(checkpoint)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "255" in err and "_last.pt" in err, err
    assert not checkpoint.exists() and not (tmp_path / "runs").exists()
    assert not list(tmp_path.glob("*.pt*"))


# --------------------------------------------------------------- B: resume that says what it changes
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lr", "0.01"], "lr=0.001 (now 0.01)"),
        (["--gamma", "0.5"], "gamma=0.9 (now 0.5)"),
        (["--n-step", "3"], "n_step=1 (now 3)"),
        (["--eps-start", "0.5"], "eps_start=1.0 (now 0.5)"),
        (["--eps-episodes", "10"], "eps_episodes=2500 (now 10)"),
    ],
)
def test_resume_with_changed_settings_is_refused(earlier_run, tmp_path, capsys, flags, message):
    before = _files(tmp_path)
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(_argv(tmp_path, earlier_run, "--resume", str(tmp_path / "ck.state"), "--episodes-per-train", "18", *flags))
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1, err
    assert message in err and "ck.state" in err and "--resume-changed" in err and "no longer exact" in err
    assert _files(tmp_path) == before


def test_resume_changed_accepts_the_change_and_uses_it(earlier_run, tmp_path, capsys):
    from rbtrainer.checkpoint import read_checkpoint
    from rbtrainer.run.state import read_training_state

    argv = _argv(tmp_path, earlier_run, "--resume", str(tmp_path / "ck.state"), "--episodes-per-train", "18")
    assert main([*argv, "--lr", "0.01", "--resume-changed"]) == 0
    assert _trained(capsys.readouterr().out) >= 18
    meta = read_checkpoint(tmp_path / "ck_last.pt")["metadata"]
    assert meta["dqn"]["lr"] == 0.01
    assert meta["resumed_with_changes"] == {"lr": {"saved": 0.001, "now": 0.01}}
    state = read_training_state(tmp_path / "ck.state")
    assert state.key.recorded["lr"] == 0.01  # what the resumed run really used
    groups = state.learners[0]["weights"]
    lrs = {g["lr"] for g in _param_groups(groups)}
    assert lrs == {0.01}


def _param_groups(tree):
    """Every optimiser ``param_groups`` entry inside a learner's saved weights."""
    if isinstance(tree, dict):
        if "param_groups" in tree:
            yield from tree["param_groups"]
        for value in tree.values():
            yield from _param_groups(value)
    elif isinstance(tree, (list, tuple)):
        for value in tree:
            yield from _param_groups(value)


def test_a_library_resume_with_the_same_recipe_stays_exact(tmp_path):
    """Recipe.run(resume=...) keeps its signature; an unchanged recipe resumes as before."""
    from rbtrainer.recipes import Recipe

    recipe = Recipe.from_tables(
        {
            "env": {"game": "tictactoe"},
            "trainer": {
                "num_train_envs": 2, "num_test_envs": 2, "episodes_per_train": 12, "episodes_per_test": 4,
                "test_freq": 6, "update_freq": 32, "progress_bar": False, "state_path": str(tmp_path / "r.state"),
            },
            "dqn": {"hidden_sizes": [16, 16], "buffer_size": 2000},
            "panel": {"off": True},
        }
    )  # fmt: skip
    recipe.run()
    longer = recipe.replace(trainer={"episodes_per_train": 18})
    assert longer.run(resume=str(tmp_path / "r.state")).collected_episodes >= 18
    changed = longer.replace(dqn={"gamma": 0.5}, trainer={"episodes_per_train": 24})
    with pytest.raises(ValueError, match=r"gamma=0.99 \(now 0.5\)"):
        changed.run(resume=str(tmp_path / "r.state"))


def _small_recipe(tmp_path, **tables):
    from rbtrainer.recipes import Recipe

    base = {
        "env": {"game": "tictactoe"},
        "trainer": {
            "num_train_envs": 3, "num_test_envs": 3, "episodes_per_train": 12, "episodes_per_test": 3,
            "test_freq": 6, "update_freq": 32, "progress_bar": False, "state_path": str(tmp_path / "r.state"),
        },
        "dqn": {"hidden_sizes": [16], "buffer_size": 1000},
        "panel": {"off": True},
    }  # fmt: skip
    return Recipe.from_tables({**base, **tables})


@pytest.mark.parametrize(
    ("tables", "change", "message"),
    [
        ({"league": {"snapshot_every": 6}}, {"league": {"snapshot_every": 3}}, "league.snapshot_every=6 (now 3)"),
        ({"league": {"snapshot_every": 6}}, {"league": {"sampling": "uniform"}}, "league.sampling='pfsp' (now"),
        (
            {"opponents": {"against": [{"spec": "random"}]}},
            {"opponents": {"against": [{"spec": "random", "second": 3.0}]}},
            "opponents.against=[{'spec': 'random', 'epsilon': 0.0, 'first': 1.0, 'second': 1.0}] (now",
        ),
        (
            {"opponents": {"against": [{"spec": "random"}]}},
            {"opponents": {"self_play": 2.0}},
            "opponents.self_play=1.0 (now 2.0)",
        ),
    ],
)  # fmt: skip
def test_a_resume_compares_the_league_and_opponents_tables(tmp_path, tables, change, message):
    recipe = _small_recipe(tmp_path, **tables)
    recipe.run(plot=False)
    longer = recipe.replace(trainer={"episodes_per_train": 18})
    with pytest.raises(ValueError) as caught:
        longer.replace(**change).run(plot=False, resume=str(tmp_path / "r.state"))
    assert message in str(caught.value) and "no longer exact" in str(caught.value)
    assert longer.run(plot=False, resume=str(tmp_path / "r.state")).collected_episodes >= 18  # unchanged: resumes


def _library_run(tmp_path, lr=1e-3, gamma=0.9):
    from rbtrainer import DecentralizedTrainer, dqn_agent

    trainer = DecentralizedTrainer(
        {"game": "tictactoe"}, num_train_envs=2, num_test_envs=2, episodes_per_train=12, episodes_per_test=2,
        test_freq=6, update_freq=16, batch_size=8, progress_bar=False, seed=1, panel=False,
        state_path=str(tmp_path / "lib.state"),
    )  # fmt: skip
    learner = dqn_agent(
        trainer.observation_space(0), trainer.action_space(0), seed=1, hidden_sizes=(16,), lr=lr, gamma=gamma
    )
    return trainer, learner


@pytest.mark.parametrize(
    ("change", "message"), [({"lr": 0.01}, "dqn.lr=0.001 (now 0.01)"), ({"gamma": 0.5}, "dqn.gamma=0.9 (now 0.5)")]
)
def test_a_library_resume_outside_a_recipe_compares_the_learners_settings(tmp_path, change, message):
    trainer, learner = _library_run(tmp_path)
    trainer.test_fn = lambda episodes, steps: trainer.request_stop() if episodes >= 6 else None
    with trainer:
        assert trainer.train([learner, learner], [True, True], plot=False).interrupted
    trainer, learner = _library_run(tmp_path, **change)
    with trainer, pytest.raises(ValueError) as caught:
        trainer.train([learner, learner], [True, True], plot=False, resume=tmp_path / "lib.state")
    assert message in str(caught.value) and "resume_changed=True" in str(caught.value)


def test_a_library_resume_changed_uses_the_new_learning_rate(tmp_path):
    trainer, learner = _library_run(tmp_path)
    trainer.test_fn = lambda episodes, steps: trainer.request_stop() if episodes >= 6 else None
    with trainer:
        trainer.train([learner, learner], [True, True], plot=False)
    trainer, learner = _library_run(tmp_path, lr=0.01)
    with trainer:
        stats = trainer.train(
            [learner, learner], [True, True], plot=False, resume=tmp_path / "lib.state", resume_changed=True
        )
    assert stats.collected_episodes >= 12
    assert learner.learning_rate == 0.01  # the saved optimiser's 0.001 did not come back
