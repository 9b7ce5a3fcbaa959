"""A stuck game never hangs the trainer: a worker that does not answer a step, reset or restore within
``step_timeout`` is killed and the pool raises :class:`~rbtrainer.envs.GameError` naming the envs and the
worker; ``close()`` returns in bounded time; worker processes die with their parent and a SIGINT to the
parent never hangs its exit.

Scenarios that hung before these guarantees run in a child Python process under
``subprocess`` timeouts, so a regression fails the test instead of hanging the suite. Time bounds
are generous: they only prove "returns instead of hanging".
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import RecordingLearner, ray_skip_reason
from conftest import write_control as _control
from pettingzoo import ParallelEnv

from rbtrainer import DecentralizedTrainer
from rbtrainer.envs import GameError, GamePool, game_factory, make_pool
from rbtrainer.envs.adapters import ReplayPoint
from rbtrainer.params import TrainerConfig

SEATS = ("left", "right")
LENGTH = 4
HANG_BOUND = 60.0
"""Seconds within which a call on a stuck game must return (the timeouts used are 2 s)."""
TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


class StuckGame(ParallelEnv):
    """Two seats pick 0 or 1 for ``LENGTH`` joint steps. ``control`` names a JSON file:
    ``{"in": "step" | "reset" | "close", "seed": s | null}`` makes the game started with seed ``s``
    (any game when null; ``close`` ignores the seed) loop forever in that method; ``{}``: behave."""

    metadata = {"name": "stuck_v0", "render_modes": []}  # noqa: RUF012

    def __init__(self, control: str) -> None:
        self.control = control
        self.possible_agents = list(SEATS)
        self.agents: list[str] = []
        self._space = gym.spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)
        self._seed: int | None = None
        self._t = 0

    def observation_space(self, agent: str) -> gym.Space:
        return self._space

    def action_space(self, agent: str) -> gym.Space:
        return gym.spaces.Discrete(2)

    def _stick_in(self, method: str) -> None:
        plan = json.loads(Path(self.control).read_text())
        if plan.get("in") == method and (method == "close" or plan["seed"] in (None, self._seed)):
            while True:  # a game that never returns
                time.sleep(0.05)

    def _obs(self) -> dict[str, np.ndarray]:
        return {a: np.array([self._t / LENGTH, 1.0], dtype=np.float32) for a in self.agents}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        self._seed, self._t, self.agents = seed, 0, list(SEATS)
        self._stick_in("reset")
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        self._stick_in("step")
        self._t += 1
        done = self._t >= LENGTH
        rewards = {a: float(actions[a]) for a in self.agents}
        obs, infos = self._obs(), {a: {} for a in self.agents}
        terminations, truncations = {a: done for a in self.agents}, {a: False for a in self.agents}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def close(self) -> None:
        self._stick_in("close")


def _pool(control: Path, backend: str = "subproc", step_timeout: float | None = 2.0) -> GamePool:
    factory = game_factory({"control": str(control)}, StuckGame)
    pool = make_pool(factory, 6, backend, num_workers=2, step_timeout=step_timeout)
    assert isinstance(pool, GamePool)
    return pool


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (read from /proc; Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _wait_gone(pids: list[int], seconds: float = 30.0) -> list[int]:
    """The processes among ``pids`` still running after up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in pids if _running(p)]


def _kill(pids: list[int]) -> None:
    """Clean up after a failed test: leave no stuck process behind."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------ step_timeout
@pytest.mark.parametrize("operation", ["step", "reset", "restore"])
def test_a_stuck_game_times_out_naming_its_envs_and_worker(operation: str, control: Path) -> None:
    children = set(multiprocessing.active_children())
    if operation == "step":
        _control(control, **{"in": "step", "seed": 104})
    else:
        _control(control, **{"in": "reset", "seed": 103})
    pool = _pool(control)
    stuck = pool.venv.workers[1].process
    start = time.monotonic()
    try:
        with pytest.raises(GameError) as caught:
            if operation == "restore":
                pool.restore(3, ReplayPoint(seed=103, game=0, actions=()))
            else:
                for env_id in range(6):
                    pool.reset(env_id, seed=100 + env_id)
                pool.step(np.zeros((6, 2), dtype=np.int64), range(6))
    finally:
        pool.close()
    assert time.monotonic() - start < HANG_BOUND
    err = caught.value
    assert str(err).startswith(
        f"the worker holding envs 3-5 (worker 1, pid {stuck.pid}) did not answer {operation} within 2 s (step_timeout)"
    )
    assert "The worker was killed and the env pool closed. If the game is only slow, raise step_timeout" in str(err)
    assert err.env_ids == (3, 4, 5) and err.operation == operation
    assert err.timed_out and not err.worker_exited and err.error_type == "timeout"
    assert not stuck.is_alive() and stuck.exitcode == -signal.SIGKILL
    assert pool.closed and set(multiprocessing.active_children()) == children
    with pytest.raises(RuntimeError, match=r"^the env pool is closed after a failure \(the worker holding envs 3-5"):
        pool.reset(0, seed=1)


def test_a_healthy_pool_with_a_timeout_gives_the_same_games(control: Path) -> None:
    reports = []
    for backend, step_timeout in (("dummy", None), ("subproc", 2.0), ("subproc", None)):
        pool = _pool(control, backend, step_timeout)
        try:
            first = [pool.reset(env_id, seed=100 + env_id) for env_id in range(6)]
            steps = [pool.step(np.ones((6, 2), dtype=np.int64), range(6)) for _ in range(LENGTH)]
        finally:
            pool.close()
        reports.append(repr((first, steps)))
    assert reports[0] == reports[1] == reports[2]


@pytest.mark.parametrize("value", [0, -1.0, math.nan, math.inf, 10**7])
def test_step_timeout_must_be_a_positive_number_of_seconds(value: float) -> None:
    with pytest.raises(ValueError, match=r"^step_timeout \(seconds; None waits forever\) must be in \(0\.0, 604800"):
        TrainerConfig(step_timeout=value)


def test_step_timeout_defaults_to_a_minute_and_may_be_none() -> None:
    assert TrainerConfig().step_timeout == 60.0
    assert TrainerConfig(step_timeout=None).step_timeout is None
    with pytest.raises(TypeError, match=r"^step_timeout \(seconds; None waits forever\) must be a number, got '5'"):
        TrainerConfig(step_timeout="5")  # type: ignore[arg-type]


def test_the_trainer_times_out_on_a_stuck_game_and_closes(control: Path) -> None:
    children = set(multiprocessing.active_children())
    trainer = DecentralizedTrainer(
        {"control": str(control)},
        env_fn=StuckGame,
        seed=5,
        backend="subproc",
        step_timeout=2,
        num_train_envs=4,
        num_test_envs=4,
        episodes_per_train=8,
        episodes_per_test=8,
        test_freq=8,
        update_freq=8,
        progress_bar=False,
    )
    _control(control, **{"in": "step", "seed": None})
    start = time.monotonic()
    stuck = r"^the workers holding envs 0-1 \(worker 0, pid \d+\) and envs 2-3 \(worker 1, pid \d+\) did not answer"
    with trainer, pytest.raises(GameError, match=stuck + r" step within 2 s .* The workers were killed"):
        learner = RecordingLearner(fn=lambda obs, mask: 1)
        trainer.train([learner, learner], [True, False], plot=False)
    assert time.monotonic() - start < HANG_BOUND
    assert set(multiprocessing.active_children()) == children


# ------------------------------------------------------------- scenarios in a child process
def _run_script(tmp_path: Path, script: str, *args: str) -> subprocess.Popen[str]:
    path = tmp_path / "scenario.py"
    path.write_text(script)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, str(path), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _pids_line(child: subprocess.Popen[str], seconds: float = 120.0) -> list[int]:
    """The worker PIDs the child prints on its first line (it prints them before getting stuck)."""
    assert child.stdout is not None
    deadline = time.monotonic() + seconds
    line = ""
    while not line and time.monotonic() < deadline and child.poll() is None:
        line = child.stdout.readline()
    assert line, f"the scenario printed no worker PIDs; stderr:\n{child.stderr.read() if child.stderr else ''}"
    return [int(p) for p in line.split()]


CLOSE_SCRIPT = """
import sys, time
from test_pool_timeouts import StuckGame, _control
from pathlib import Path
from rbtrainer.envs import game_factory, make_pool

control = Path(sys.argv[1])
_control(control, **{"in": "close"})
pool = make_pool(game_factory({"control": str(control)}, StuckGame), 4, "subproc", num_workers=2)
print(" ".join(str(w.process.pid) for w in pool.venv.workers), flush=True)
pool.reset(0, seed=1)
start = time.monotonic()
pool.close()  # the games' close never returns
print(f"closed in {time.monotonic() - start:.1f} s", flush=True)
"""


def test_close_returns_when_a_game_never_closes(tmp_path: Path) -> None:
    child = _run_script(tmp_path, CLOSE_SCRIPT, str(tmp_path / "control.json"))
    workers: list[int] = []
    try:
        workers = _pids_line(child)
        out, err = child.communicate(timeout=HANG_BOUND)
        assert child.returncode == 0, err
        assert out.startswith("closed in ")
        assert "did not exit within 10 s of its close (a game stuck?); terminating it" in err
        assert _wait_gone(workers) == []
    finally:
        _kill([child.pid, *workers])
        child.communicate()


PARENT_SCRIPT = """
import faulthandler, signal, sys, threading
faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test asks for the stacks of a hung run
# Python ignores SIGINT when it starts with SIGINT ignored (a background job of a non-interactive
# shell, e.g. a test suite started with "... &"): this program stands for one that takes Ctrl-C.
signal.signal(signal.SIGINT, signal.default_int_handler)
import numpy as np
from test_pool_timeouts import StuckGame, _control
from pathlib import Path
from rbtrainer.envs import game_factory, make_pool

control, where = Path(sys.argv[1]), sys.argv[2]
_control(control, **{"in": "step", "seed": None})
factory = game_factory({"control": str(control)}, StuckGame)
built = []
def build():
    built.append(make_pool(factory, 4, "subproc", num_workers=2))  # make_pool's default: wait forever
if where == "thread":  # the thread that starts the workers ends before they are used
    thread = threading.Thread(target=build)
    thread.start()
    thread.join()
else:
    build()
pool = built[0]
for env_id in range(4):
    pool.reset(env_id, seed=env_id)
print(" ".join(str(w.process.pid) for w in pool.venv.workers), flush=True)
pool.step(np.zeros((4, 2), dtype=np.int64), range(4))  # never returns
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("where", ["main", "thread"])
def test_workers_die_with_a_killed_parent(where: str, tmp_path: Path) -> None:
    child = _run_script(tmp_path, PARENT_SCRIPT, str(tmp_path / "control.json"), where)
    workers: list[int] = []
    try:
        workers = _pids_line(child)
        assert len(workers) == 2 and all(_running(p) for p in workers)
        child.kill()
        child.wait(timeout=HANG_BOUND)
        assert _wait_gone(workers) == [], "worker processes outlived their SIGKILLed parent"
    finally:
        _kill([child.pid, *workers])
        child.communicate()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigint_to_the_parent_never_hangs_its_exit(tmp_path: Path) -> None:
    child = _run_script(tmp_path, PARENT_SCRIPT, str(tmp_path / "control.json"), "main")
    workers: list[int] = []
    try:
        workers = _pids_line(child)
        time.sleep(0.5)  # the parent is waiting for the stuck step
        child.send_signal(signal.SIGINT)  # to the parent only, as a supervisor would
        try:
            _, err = child.communicate(timeout=HANG_BOUND)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGUSR1)  # every thread's stack to stderr, then fail with them
            time.sleep(2)
            _kill([child.pid, *workers])
            _, err = child.communicate()
            pytest.fail(f"the parent hung after SIGINT; its threads:\n{err}")
        assert "KeyboardInterrupt" in err
        assert child.returncode != 0
        assert _wait_gone(workers) == []
    finally:
        _kill([child.pid, *workers])
        child.communicate()


# ------------------------------------------------------------------ Ray (opt-in)
@pytest.mark.skipif(ray_skip_reason() is not None, reason=str(ray_skip_reason()))
def test_ray_pool_times_out_on_a_stuck_game(control: Path) -> None:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    module = sys.modules[__name__]
    ray.cloudpickle.register_pickle_by_value(module)  # Ray's workers cannot import the test modules
    try:
        _control(control, **{"in": "step", "seed": 104})
        pool = _pool(control, "ray")
        for env_id in range(6):
            pool.reset(env_id, seed=100 + env_id)
        start = time.monotonic()
        with pytest.raises(GameError, match=r"^the worker holding envs 3-5 \(worker 1, Ray actor .*\) did not answer"):
            pool.step(np.zeros((6, 2), dtype=np.int64), range(6))
        assert time.monotonic() - start < HANG_BOUND
        assert pool.closed
        start = time.monotonic()
        pool.close()
        assert time.monotonic() - start < HANG_BOUND
    finally:
        ray.cloudpickle.unregister_pickle_by_value(module)
        ray.shutdown()
