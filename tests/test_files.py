"""Atomic writes (``rbtrainer.files.atomic_write``) and the writers built on it."""

from __future__ import annotations

import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

from rbtrainer import RandomAgent, dqn_agent
from rbtrainer.checkpoint import load_agents, save_agents
from rbtrainer.files import atomic_write
from rbtrainer.plotting import plot_training_curves, save_gif, save_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _leftovers(directory) -> list[str]:
    """Temporary files left in ``directory`` (recursively)."""
    return [str(p) for p in directory.rglob("*") if p.name.endswith(".tmp")]


def _learner():
    obs_space = gym.spaces.Box(low=0.0, high=1.0, shape=(4,), dtype=np.float32)
    return dqn_agent(obs_space, gym.spaces.Discrete(3), seed=0, hidden_sizes=(8,))


def test_atomic_write_writes_content_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "data.bin"
    with atomic_write(target) as handle:
        handle.write(b"hello ")
        handle.write(b"world")
        assert not target.exists()  # nothing is visible before the body finishes
        assert os.path.dirname(handle.name) == str(tmp_path)  # temporary file sits next to the target
    assert target.read_bytes() == b"hello world"
    assert _leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_atomic_write_replaces_an_existing_file(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old content that is longer")
    with atomic_write(str(target)) as handle:
        handle.write(b"new")
    assert target.read_bytes() == b"new"
    assert _leftovers(tmp_path) == []


def test_atomic_write_relative_path_in_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with atomic_write("plain.bin") as handle:
        handle.write(b"x")
    assert (tmp_path / "plain.bin").read_bytes() == b"x"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_atomic_write_failure_keeps_original_and_removes_temporary_file(tmp_path, error):
    target = tmp_path / "data.bin"
    target.write_bytes(b"original")
    with pytest.raises(type(error)), atomic_write(target) as handle:
        handle.write(b"partial")
        raise error
    assert target.read_bytes() == b"original"
    assert _leftovers(tmp_path) == []


def test_atomic_write_failure_without_original_creates_nothing(tmp_path):
    target = tmp_path / "sub" / "data.bin"
    with pytest.raises(ValueError, match="nope"), atomic_write(target) as handle:
        handle.write(b"partial")
        raise ValueError("nope")
    assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_atomic_write_creates_parent_directories(tmp_path):
    target = tmp_path / "a" / "b" / "c" / "data.bin"
    with atomic_write(target) as handle:
        handle.write(b"deep")
    assert target.read_bytes() == b"deep"
    assert _leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
def test_atomic_write_honours_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "data.bin") as handle:
            handle.write(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "data.bin").stat().st_mode & 0o777 == 0o644


def test_save_agents_leaves_no_temporary_file(tmp_path):
    learner = _learner()
    path = save_agents(tmp_path / "ckpt" / "agents.pt", [learner, RandomAgent()], metadata={"note": "x"})
    assert path == str(tmp_path / "ckpt" / "agents.pt")
    assert _leftovers(tmp_path) == []
    assert load_agents(path, [_learner(), RandomAgent()]) == {"note": "x"}


def test_failing_torch_save_keeps_existing_checkpoint(tmp_path, monkeypatch):
    learner = _learner()
    path = save_agents(tmp_path / "agents.pt", [learner], metadata={"round": 1})
    before = (tmp_path / "agents.pt").read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_agents(tmp_path / "agents.pt", [learner], metadata={"round": 2})
    monkeypatch.undo()
    assert (tmp_path / "agents.pt").read_bytes() == before
    assert _leftovers(tmp_path) == []
    assert load_agents(path, [_learner()]) == {"round": 1}


def test_plot_training_curves_writes_png_without_temporary_file(tmp_path):
    path = plot_training_curves(
        tmp_path / "plots" / "curve.png",
        episodes=[10, 20, 30],
        reward_metric=[0.1, 0.5, 0.3],
        per_seat=np.array([[0.1, -0.1], [0.5, -0.5], [0.3, -0.3]]),
        seat_labels=["r1", "b1"],
        title="test",
    )
    assert path == str(tmp_path / "plots" / "curve.png")
    assert (tmp_path / "plots" / "curve.png").read_bytes()[:8] == PNG_SIGNATURE
    assert _leftovers(tmp_path) == []


def test_save_png_and_gif(tmp_path):
    frame = np.zeros((12, 16, 3), dtype=np.uint8)
    frame[:, :8] = (200, 30, 30)
    png = save_png(frame, tmp_path / "out" / "frame.png")
    assert png == str(tmp_path / "out" / "frame.png")
    assert (tmp_path / "out" / "frame.png").read_bytes()[:8] == PNG_SIGNATURE
    gif = save_gif([frame, frame[:, ::-1].copy(), frame], tmp_path / "out" / "anim.gif", fps=10.0)
    assert gif == str(tmp_path / "out" / "anim.gif")
    assert (tmp_path / "out" / "anim.gif").read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    from PIL import Image

    with Image.open(gif) as image:
        assert image.n_frames >= 2 and image.size == (16, 12)
    assert _leftovers(tmp_path) == []


def test_save_gif_rejects_empty_frames(tmp_path):
    with pytest.raises(ValueError, match="frames is empty"):
        save_gif([], tmp_path / "anim.gif")
    assert list(tmp_path.iterdir()) == []


def test_games_package_does_not_import_rbtrainer():
    code = (
        "import sys, games, games.robot_delivery, games.robot_delivery.render as r\n"
        "assert not hasattr(r, 'save_gif') and not hasattr(r, 'save_png')\n"
        "bad = sorted(m for m in sys.modules if m == 'rbtrainer' or m.startswith('rbtrainer.'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
