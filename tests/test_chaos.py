"""Chaos test: ``rbtrainer train`` killed with SIGKILL 20 times, resumed each time, ends as if never killed.

Issue 35, "Reliability, round two". A real ``rbtrainer train`` subprocess (a small tic-tac-toe run
that writes its training state at every test round) is killed with SIGKILL at 20 moments drawn
from a seeded ``random.Random`` and resumed each time with ``--resume <checkpoint>.state`` and
the same options (started again with ``--overwrite`` when it died before its first state).

Aiming. Each launch runs ``rbtrainer.cli.main`` behind a small boot script (``BOOT``) that
changes nothing the run does; it writes what the run is doing (``collect``, ``update``, ``test``,
``checkpoint``, ``state``, ``csv``) to a phase file, unbuffered, so that the test can tell what a
kill interrupted. An aimed kill names an event and its occurrence in that launch (the n-th
env step of a training collection, the n-th gradient step, the n-th checkpoint or training-state
write): the child stops there (a write stops with its temporary file cut to a random prefix of its
bytes, on disk: what a kill in the middle of ``torch.save`` leaves) and the test kills it from
outside with SIGKILL. A timed kill lands at a random moment of the launch's training, wherever
it is. A checkpoint write happens only when a test round beats the best one, so an aimed
checkpoint kill that does not come within a few seconds becomes a timed kill.

After every kill: each file left behind loads (the checkpoints with ``Checkpoint.read`` and
into a learner, the training state with ``read_training_state``, the CSV logs parse with one
value per column in every row), the killed run's lock files are taken over by the next launch
(it says so, naming the dead PID) and its temporary files trip nothing. At the end: no
temporary, backup or lock file is left, and the chain's statistics (the summary line, the
test-round curve in ``tests.csv``, the learners' values in ``updates.csv``, the final agents'
weights) equal those of an uninterrupted run with the same options, run at the same time.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="SIGKILL and flock on Linux"),
]

SEED = 35
KILLS = 20
CONFIG = """
[env]
game = "tictactoe"

[trainer]
num_train_envs = 3
num_test_envs = 3
episodes_per_train = 300
episodes_per_test = 6
test_freq = 6
update_freq = 32
update_per_step = 0.5
batch_size = 32
seed = 3

[dqn]
hidden_sizes = [16]
buffer_size = 600
gamma = 0.9
target_update_freq = 50

[schedule]
eps_episodes = 200

[opponents]
self_play = 1.0
against = [{ spec = "random", first = 1.0, second = 1.0 }]
"""
OPTIONS = ["--config", "small.toml", "--checkpoint", "ck/ttt.pt", "--logdir", "runs", "--plot-dir", "plots"]
OPTIONS += ["--no-progress-bar", "--verbose"]

BOOT = r"""
import contextlib, os, sys, time

phase_fd = os.open(os.environ["CHAOS_PHASE"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
aim = os.environ.get("CHAOS_AIM", "")  # "<event>:<occurrence>:<fraction of the bytes kept>"
event, occurrence, kept = (aim.split(":") + ["", "0", "1"])[:3] if aim else ("", "0", "1")
occurrence, kept = int(occurrence), float(kept)
counts = {}
stack = ["start"]


def mark(text):
    os.pwrite(phase_fd, text.encode().ljust(80), 0)  # unbuffered: what a kill interrupted is on disk


def due(kind):
    counts[kind] = counts.get(kind, 0) + 1
    return kind == event and counts[kind] == occurrence


def stop_here(kind):
    mark(f"paused {kind} {occurrence}")
    time.sleep(3600)  # the test kills this process now


@contextlib.contextmanager
def phase(name):
    stack.append(name)
    mark(name)
    try:
        yield
    finally:
        stack.pop()
        mark(stack[-1])


def wrap(owner, attribute, make):
    setattr(owner, attribute, make(getattr(owner, attribute)))


import rbtrainer.checkpoint, rbtrainer.files, rbtrainer.logs, rbtrainer.run.state
from rbtrainer.agents.stream_memory import StreamDQN
from rbtrainer.rollout import RolloutEngine
from rbtrainer.run.loop import TrainingRun

original_write = rbtrainer.files.atomic_write


@contextlib.contextmanager
def atomic_write(path):
    name = os.path.basename(os.fspath(path))
    kind = "state" if name.endswith(".state") else "checkpoint" if name.endswith(".pt") else "csv"
    with phase(kind), original_write(path) as handle:
        yield handle
        if due(kind):  # killed in the middle of the write: the temporary file holds a prefix of the bytes
            handle.flush()
            size = os.fstat(handle.fileno()).st_size
            os.ftruncate(handle.fileno(), int(size * kept))
            os.fsync(handle.fileno())
            stop_here(kind)


for module in (rbtrainer.checkpoint, rbtrainer.logs, rbtrainer.run.state):
    module.atomic_write = atomic_write


def engine_run(run):
    def wrapped(self, plan, **kwargs):
        with phase("collect" if kwargs.get("store") else "test"):
            return run(self, plan, **kwargs)
    return wrapped


def choose_actions(choose):
    def wrapped(self, *args, **kwargs):
        if stack[-1] == "collect" and due("collect"):
            stop_here("collect")
        return choose(self, *args, **kwargs)
    return wrapped


def gradient_step(update):
    def wrapped(self, *args, **kwargs):
        with phase("update"):
            if due("update"):
                stop_here("update")
            return update(self, *args, **kwargs)
    return wrapped


def test_round(round_):
    def wrapped(self):
        with phase("test"):
            return round_(self)
    return wrapped


wrap(RolloutEngine, "run", engine_run)
wrap(RolloutEngine, "_choose_actions", choose_actions)  # the per-game path
batch_actions = RolloutEngine.__dict__["_batch_actions"].__func__  # the batch path: a static method


def choose_batch_actions(*args, **kwargs):
    if stack[-1] == "collect" and due("collect"):
        stop_here("collect")
    return batch_actions(*args, **kwargs)


RolloutEngine._batch_actions = staticmethod(choose_batch_actions)
wrap(StreamDQN, "update", gradient_step)
wrap(TrainingRun, "_test_round", test_round)

from rbtrainer.cli import main

sys.exit(main(sys.argv[1:]))
"""

EVENTS = ("collect", "update", "checkpoint", "state")
TIMED_OUT = 4.0  # an aimed kill that has not come after this many seconds of training becomes a timed kill


def _plan(rng: random.Random) -> list[tuple[str, int, float]]:
    """The kills: (event or "timed", occurrence in the launch, fraction of the write kept / delay in s)."""
    kinds = [*EVENTS * 3, *["timed"] * (KILLS - 3 * len(EVENTS))]
    rng.shuffle(kinds)
    plan = []
    for kind in kinds:
        if kind == "timed":
            plan.append((kind, 0, rng.uniform(0.0, 1.2)))
        elif kind == "collect":
            plan.append((kind, rng.randint(1, 30), 1.0))
        elif kind == "update":
            plan.append((kind, rng.randint(1, 40), 1.0))
        else:  # a state at the first or second test round of the launch, cut anywhere (or complete, not renamed)
            occurrence = 1 if kind == "checkpoint" else rng.randint(1, 2)
            plan.append((kind, occurrence, rng.choice([rng.random(), 0.0, 1.0])))
    return plan


def _launch(folder: Path, aim: str, *extra: str) -> subprocess.Popen[str]:
    (folder / "phase").unlink(missing_ok=True)  # the last launch's
    env = {**os.environ, "CHAOS_PHASE": str(folder / "phase"), "CHAOS_AIM": aim}
    argv = [sys.executable, "-c", BOOT, "train", *OPTIONS, *extra]
    return subprocess.Popen(argv, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _phase(folder: Path) -> str:
    try:
        return (folder / "phase").read_text().strip()
    except FileNotFoundError:
        return ""


def _temporaries(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.tmp"))


def _kill_when(folder: Path, proc: subprocess.Popen[str], kind: str, delay: float) -> str | None:
    """Wait for the child to stop at its aimed event (or, timed, for ``delay`` s of training), SIGKILL it.

    Returns what it was doing when killed (``None``: it ended on its own first)."""
    started = None
    while proc.poll() is None:
        phase = _phase(folder)
        now = time.monotonic()
        if started is None and phase not in ("", "start"):
            started = now  # built, outputs locked, training (or its first test round) under way
        if started is not None:
            if kind != "timed" and phase.startswith("paused"):
                break
            if now - started >= (delay if kind == "timed" else TIMED_OUT):
                break
        time.sleep(0.002)
    else:
        return None
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    return _phase(folder)


def _drop_backups(folder: Path) -> list[str]:
    """Remove the earlier run's files that a killed ``--overwrite`` launch left aside (``.<name>.overwritten``).

    The next launch refuses to start while they are there (by design: the user decides whether to
    put them back or drop them). They were checked to load after the kill; starting over, the test
    drops them as the message suggests."""
    backups = sorted(folder.rglob("*.overwritten"))
    for path in backups:
        path.unlink()
    return [str(p.relative_to(folder)) for p in backups]


def _pid_of_locks(folder: Path) -> set[int]:
    return {int(text) for p in folder.rglob("*.lock") if (text := p.read_text().strip()).isdigit()}


def _check_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV log; each has a value (or an empty cell) for every column, and a whole step."""
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    for row in rows:
        assert len(row) == len(header), f"{path}: a row of {len(row)} cells under {len(header)} columns: {row}"
        assert re.fullmatch(r"\d+", row[0]), f"{path}: step {row[0]!r}"
        for cell in row[1:]:
            if cell:
                float(cell)
    return [dict(zip(header, row)) for row in rows]


def _check_files_load(folder: Path, trainer) -> dict[str, object]:
    """Every file the killed run left: checkpoints, training state, CSV logs (and backups of an --overwrite)."""
    from rbtrainer.checkpoint import Checkpoint
    from rbtrainer.run.state import read_training_state

    found: dict[str, object] = {}
    for path in sorted((folder / "ck").glob("*")) if (folder / "ck").exists() else []:
        name = path.name.removeprefix(".").removesuffix(".overwritten")
        if path.name.endswith((".tmp", ".lock")):
            continue
        if name.endswith(".pt"):
            saved = Checkpoint.read(path)
            saved.learner(trainer.observation_space(0), trainer.action_space(0))  # loads the weights
            found[path.name] = "checkpoint"
        elif name.endswith(".state"):
            state = read_training_state(path)
            found[path.name] = state.stats.collected_episodes
        else:
            raise AssertionError(f"unexpected file {path}")
    for name in ("tests.csv", "updates.csv"):
        if (folder / "runs" / "ttt" / name).exists():
            found[name] = len(_check_csv(folder / "runs" / "ttt" / name))
    return found


def _summary(out: str) -> dict[str, object]:
    trained = re.search(r"trained (\d+) episodes / (\d+) env steps / (\d+) gradient steps", out)
    best = re.search(r"best test reward metric (\S+) at (\d+) episodes", out)
    assert trained and best, out
    finals = re.findall(r"^(final agents|best agents) +reward metric .*$", out, flags=re.M)
    lines = [line for line in out.splitlines() if line.startswith(("final agents", "best agents"))]
    assert len(lines) == len(finals)
    return {"trained": trained.groups(), "best": best.groups(), "agents": lines}


def _curve(folder: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """tests.csv, and updates.csv without its timings (env steps / gradient steps per second)."""
    tests = _check_csv(folder / "runs" / "ttt" / "tests.csv")
    updates = [
        {k: v for k, v in row.items() if not k.endswith("_per_s")}
        for row in _check_csv(folder / "runs" / "ttt" / "updates.csv")
    ]
    return tests, updates


def _weights(path: Path) -> dict[str, object]:
    from rbtrainer.checkpoint import read_checkpoint

    def flat(tree, prefix=""):
        if isinstance(tree, dict):
            for key, value in tree.items():
                yield from flat(value, f"{prefix}/{key}")
        elif isinstance(tree, (list, tuple)):
            for key, value in enumerate(tree):
                yield from flat(value, f"{prefix}/{key}")
        else:
            yield prefix, tree

    return dict(flat([entry["state"] for entry in read_checkpoint(path)["learners"]]))


def test_sigkill_twenty_times_and_resume_ends_as_an_uninterrupted_run(tmp_path: Path) -> None:
    import torch

    from rbtrainer.trainer import DecentralizedTrainer

    chain, whole = tmp_path / "chain", tmp_path / "whole"
    for folder in (chain, whole):
        folder.mkdir()
        (folder / "small.toml").write_text(CONFIG)
    uninterrupted = _launch(whole, "")  # on the other core, while the chain runs
    trainer = DecentralizedTrainer({"game": "tictactoe"}, plot_dir=str(tmp_path))
    rng = random.Random(SEED)
    records: list[dict[str, object]] = []
    dead_pid = None
    try:
        for number, (kind, occurrence, amount) in enumerate(_plan(rng), 1):
            state = chain / "ck" / "ttt.state"
            extra = ["--resume", "ck/ttt.state"] if state.exists() else ["--overwrite"]
            set_aside = _drop_backups(chain) if extra == ["--overwrite"] else []
            aim = f"{kind}:{occurrence}:{amount}" if kind != "timed" else ""
            tmp_before = _temporaries(chain)
            proc = _launch(chain, aim, *extra)
            doing = _kill_when(chain, proc, kind, amount)
            out, err = proc.communicate()
            assert doing is not None, f"kill {number}: the run ended before it (too short a run?)\n{out}\n{err}"
            if dead_pid is not None:  # the killed run's locks were taken over, with a message
                assert "took over the stale lock" in err and f"PID {dead_pid}" in err, err
            assert "Traceback" not in err, err
            dead_pid = proc.pid
            assert _pid_of_locks(chain) == {dead_pid}  # what the next launch finds
            files = _check_files_load(chain, trainer)
            records.append(
                {
                    "kill": number,
                    "aim": aim or f"timed {amount:.2f} s",
                    "doing": doing,
                    "resumed": extra[0] == "--resume",
                    "temporaries": _temporaries(chain),
                    "stale before launch": tmp_before,
                    "backups removed before launch": set_aside,
                    "files": files,
                }
            )
        # the last launch runs to the end
        extra = ["--resume", "ck/ttt.state"] if (chain / "ck" / "ttt.state").exists() else ["--overwrite"]
        if extra == ["--overwrite"]:
            _drop_backups(chain)
        last = _launch(chain, "", *extra)
        out, err = last.communicate(timeout=600)
        assert last.returncode == 0, (out, err)
        assert "took over the stale lock" in err and f"PID {dead_pid}" in err, err
        whole_out, whole_err = uninterrupted.communicate(timeout=600)
        assert uninterrupted.returncode == 0, (whole_out, whole_err)
    finally:
        for proc in (uninterrupted,):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        trainer.close()
        report = "\n".join(json.dumps(r) for r in records)
        (tmp_path / "kills.jsonl").write_text(report)
        print(report)

    # every kind of moment was hit
    hit = {str(r["doing"]).split()[-2] if str(r["doing"]).startswith("paused") else str(r["doing"]) for r in records}
    assert {"collect", "update", "checkpoint", "state"} <= hit, records

    # nothing left behind: no temporary file, no backup of --overwrite, no lock
    leftovers = [p.name for p in chain.rglob("*") if p.name.endswith((".tmp", ".overwritten", ".lock"))]
    assert leftovers == []
    _check_files_load(chain, trainer)

    # the chain's statistics are the uninterrupted run's
    assert _summary(out) == _summary(whole_out)
    chain_tests, chain_updates = _curve(chain)
    whole_tests, whole_updates = _curve(whole)
    assert len(chain_tests) == len(whole_tests) > 10
    for mine, theirs in zip(chain_tests, whole_tests):
        assert mine == theirs
    assert chain_updates == whole_updates
    for name in ("ttt.pt", "ttt_last.pt"):
        chained, straight = _weights(chain / "ck" / name), _weights(whole / "ck" / name)
        assert chained.keys() == straight.keys()
        for key, value in chained.items():
            other = straight[key]
            if isinstance(value, torch.Tensor):
                assert isinstance(other, torch.Tensor) and torch.equal(value, other), (name, key)
            elif isinstance(value, float) and math.isnan(value):
                assert isinstance(other, float) and math.isnan(other), (name, key)
            else:
                assert value == other, (name, key)
