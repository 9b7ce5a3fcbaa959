"""SIGTERM / SIGINT during ``rbtrainer train``, on a real subprocess.

One signal: the run stops after its collection phase, writes its training state, last agents and
curve, says how to resume, and ``--resume`` finishes it. Two signals: it exits at once, and no
half-written (temporary) file is left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ARGS = [
    "--env", "game=tictactoe", "--num-train-envs", "4", "--num-test-envs", "3", "--episodes-per-test", "3",
    "--test-freq", "20", "--update-freq", "32", "--hidden-sizes", "16", "--buffer-size", "4000",
    "--no-progress-bar", "--seed", "1",
]  # fmt: skip


def start(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "rbtrainer", "train", *ARGS, "--checkpoint", "ck/ttt.pt", *extra]
    return subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_training(tmp_path: Path, proc: subprocess.Popen[str], rows: int = 2, timeout: float = 120.0) -> None:
    """Until the run has logged ``rows`` test rounds (the first is before any training)."""
    log = tmp_path / "runs" / "ttt" / "tests.csv"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) > rows:
            return
        if proc.poll() is not None:
            raise AssertionError(f"train exited early: {proc.communicate()}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("train did not start training in time")


def test_sigterm_saves_everything_and_resume_finishes_the_run(tmp_path: Path) -> None:
    proc = start(tmp_path, "--episodes-per-train", "100000")
    wait_for_training(tmp_path, proc, rows=2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, (out, err)
    assert "SIGTERM received, stopping after this collection phase" in err
    assert "Traceback" not in err
    assert "resume with the same options plus: --resume ck/ttt.state" in out
    for name in ("ck/ttt.state", "ck/ttt_last.pt", "ck/ttt.pt", "plots/tictactoe_training.png"):
        assert (tmp_path / name).exists(), name
    episodes = int(out.split("trained ")[1].split(" episodes")[0])
    assert 0 < episodes < 100000

    target = str(episodes + 40)
    resumed = start(tmp_path, "--episodes-per-train", target, "--resume", "ck/ttt.state")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, (out, err)
    assert int(out.split("trained ")[1].split(" episodes")[0]) >= int(target)  # a phase may overshoot the target
    steps = [int(line.split(",")[0]) for line in (tmp_path / "runs" / "ttt" / "tests.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps) and len(steps) == len(set(steps))  # one run's log, no repeated rounds


def test_a_second_signal_exits_at_once_without_half_written_files(tmp_path: Path) -> None:
    # long collection phases: the first signal's stop is still under way when the second arrives
    proc = start(tmp_path, "--episodes-per-train", "100000", "--update-freq", "20000", "--test-freq", "1")
    wait_for_training(tmp_path, proc, rows=1)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)  # two signals sent together are delivered as one
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGINT, (out, err)
    assert "SIGINT again, exiting now" in err
    leftovers = (
        [p for p in (tmp_path / "ck").iterdir() if p.name.endswith(".tmp")] if (tmp_path / "ck").exists() else []
    )
    assert leftovers == []
    assert not os.path.exists(tmp_path / "ck" / "ttt_last.pt.tmp")
