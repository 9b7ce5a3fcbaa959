"""Env pools report worker failures: a game raising (or its worker dying) inside a pool worker
gives one :class:`~rbtrainer.envs.GameError` naming the env, the pool closes itself without
leaving a process behind, and the trainer builds a fresh pool on its next call.

The failing game reads what to do from a control file (subprocess workers share no memory with
the tests), so flipping the file makes fresh pools healthy again.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from conftest import RecordingLearner, ray_skip_reason
from conftest import write_control as _control
from pettingzoo import ParallelEnv

from rbtrainer import DecentralizedTrainer, ScriptedAgent
from rbtrainer.envs import GameError, GamePool, game_factory, make_pool
from rbtrainer.envs.adapters import ReplayPoint

SEATS = ("left", "right")
LENGTH = 4
"""Joint steps per game."""


class GameBroke(Exception):
    """The failing game's own exception type."""


class FlakyGame(ParallelEnv):
    """Two seats pick 0 or 1 for ``LENGTH`` joint steps; a seat scores when it picks the step's target.

    Deterministic given its seed. ``control`` names a JSON file read at every reset:
    ``{"on": "step" | "reset", "how": "raise" | "exit", "seed": s | null, "step": n}`` makes the
    game started with seed ``s`` (any seed when null) raise :class:`GameBroke` (``"raise"``) or end
    its process with ``os._exit(3)`` (``"exit"``) at its reset or at its ``n``-th step; ``{}``:
    behave.
    """

    metadata = {"name": "flaky_v0", "render_modes": []}  # noqa: RUF012

    def __init__(self, control: str) -> None:
        self.control = control
        self.possible_agents = list(SEATS)
        self.agents: list[str] = []
        self._obs_space = gym.spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)
        self._act_space = gym.spaces.Discrete(2)
        self._plan: dict[str, Any] = {}
        self._targets = np.zeros(LENGTH, dtype=np.int64)
        self._t = 0

    def observation_space(self, agent: str) -> gym.Space:
        return self._obs_space

    def action_space(self, agent: str) -> gym.Space:
        return self._act_space

    def _fail(self, where: str) -> None:
        if self._plan.get("how") == "exit":
            os._exit(3)
        raise GameBroke(f"flaky game broke at its {where}")

    def _obs(self) -> dict[str, np.ndarray]:
        view = np.array([self._t / LENGTH, 1.0], dtype=np.float32)
        return {a: view.copy() for a in self.agents}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        plan = json.loads(Path(self.control).read_text())
        self._plan = plan if plan and plan["seed"] in (None, seed) else {}
        if self._plan.get("on") == "reset":
            self._fail("reset")
        self._targets = np.random.default_rng(seed).integers(0, 2, size=LENGTH)
        self._t = 0
        self.agents = list(SEATS)
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        self._t += 1
        if self._plan.get("on") == "step" and self._t == self._plan["step"]:
            self._fail(f"step {self._t}")
        target = self._targets[self._t - 1]
        rewards = {a: float(actions[a] == target) for a in self.agents}
        done = self._t >= LENGTH
        terminations = {a: done for a in self.agents}
        truncations = {a: False for a in self.agents}
        obs, infos = self._obs(), {a: {} for a in self.agents}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def close(self) -> None:
        pass


def _pool(control: Path, backend: str, num_envs: int = 6) -> GamePool:
    factory = game_factory({"control": str(control)}, FlakyGame)
    return make_pool(factory, num_envs, backend, num_workers=None if backend == "dummy" else 2)


def _reset_all(pool: GamePool) -> None:
    for env_id in range(pool.num_envs):
        pool.reset(env_id, seed=100 + env_id)


def _step_all(pool: GamePool, ticks: int) -> None:
    actions = np.zeros((pool.num_envs, len(SEATS)), dtype=np.int64)
    for _ in range(ticks):
        pool.step(actions, range(pool.num_envs))


def _new_children(before: set[Any]) -> set[Any]:
    """Child processes started since ``before`` (other tests' pools may still be alive)."""
    return set(multiprocessing.active_children()) - before


@pytest.fixture
def children() -> set[Any]:
    """The child processes alive when the test starts."""
    return set(multiprocessing.active_children())


def _no_worker_left(pool: GamePool, children: set[Any]) -> None:
    assert pool.closed
    assert _new_children(children) == set()
    for worker in pool.venv.workers:
        process = getattr(worker, "process", None)
        assert process is None or not process.is_alive()
    with pytest.raises(
        RuntimeError, match=r"^the env pool is closed after a failure \((env|the worker).*\); build a new pool$"
    ):
        pool.reset(0, seed=1)


BACKENDS = ["dummy", "subproc"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_game_raising_in_step_names_its_env(backend: str, control: Path, children: set[Any]) -> None:
    _control(control, on="step", how="raise", seed=104, step=2)
    pool = _pool(control, backend)
    try:
        _reset_all(pool)
        _step_all(pool, 1)
        with pytest.raises(GameError) as caught:
            _step_all(pool, 1)
    finally:
        pool.close()
    err = caught.value
    assert str(err).startswith("env 4: the game raised test_pool_failures.GameBroke during step: ")
    assert "flaky game broke at its step 2" in str(err)
    assert err.env_ids == (4,)
    assert err.operation == "step"
    assert err.error_type == "test_pool_failures.GameBroke"
    assert err.error_message == "flaky game broke at its step 2"
    assert not err.worker_exited
    assert "Traceback (most recent call last)" in err.worker_traceback
    assert 'raise GameBroke(f"flaky game broke at its {where}")' in err.worker_traceback
    assert err.worker_traceback.rstrip() in err.__notes__[0]
    assert isinstance(err, RuntimeError)
    _no_worker_left(pool, children)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("operation", ["reset", "restore"])
def test_a_game_raising_in_reset_or_restore_names_its_env(
    backend: str, operation: str, control: Path, children: set[Any]
) -> None:
    _control(control, on="reset", how="raise", seed=103, step=0)
    pool = _pool(control, backend)
    try:
        with pytest.raises(GameError) as caught:
            if operation == "reset":
                _reset_all(pool)
            else:
                pool.restore(3, ReplayPoint(seed=103, game=0, actions=()))
    finally:
        pool.close()
    err = caught.value
    assert str(err).startswith(f"env 3: the game raised test_pool_failures.GameBroke during {operation}: ")
    assert (err.env_ids, err.operation, err.error_message) == ((3,), operation, "flaky game broke at its reset")
    assert "in reset" in err.worker_traceback
    _no_worker_left(pool, children)


@pytest.mark.parametrize("death", ["os._exit", "killed"])
def test_a_worker_that_dies_names_its_envs(death: str, control: Path, children: set[Any]) -> None:
    if death == "os._exit":
        _control(control, on="step", how="exit", seed=104, step=2)
    pool = _pool(control, "subproc")
    try:
        _reset_all(pool)
        _step_all(pool, 1)
        if death == "killed":
            pool.venv.workers[1].process.kill()
        with pytest.raises(GameError) as caught:
            _step_all(pool, 1)
    finally:
        pool.close()
    err = caught.value
    code = 3 if death == "os._exit" else -9
    assert str(err).startswith(f"the worker process holding envs 3-5 exited with code {code} during step")
    assert err.env_ids == (3, 4, 5)
    assert err.worker_exited and err.error_type is None and err.worker_traceback == ""
    assert isinstance(err.__cause__, (EOFError, BrokenPipeError, ConnectionResetError))
    _no_worker_left(pool, children)


def _trainer(control: Path, backend: str) -> DecentralizedTrainer:
    return DecentralizedTrainer(
        {"control": str(control)},
        env_fn=FlakyGame,
        seed=5,
        backend=backend,
        num_train_envs=4,
        num_test_envs=4,
        episodes_per_train=8,
        episodes_per_test=8,
        test_freq=8,
        update_freq=8,
        progress_bar=False,
    )


def _pick_one(obs: np.ndarray, mask: np.ndarray) -> int:
    return 1


def _test_rewards(trainer: DecentralizedTrainer) -> np.ndarray:
    agent = ScriptedAgent(_pick_one)
    return trainer.test([agent, agent]).rewards


def _train_stats(trainer: DecentralizedTrainer) -> tuple:
    learner = RecordingLearner(fn=_pick_one)
    stats = trainer.train([learner, learner], [True, False], plot=False)
    return stats.reward_metric_history, stats.per_agent_rewards, stats.collected_steps, stats.collected_episodes


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_trainer_builds_a_fresh_pool_after_a_failure(backend: str, control: Path, children: set[Any]) -> None:
    _control(control)
    with _trainer(control, "dummy") as reference:
        expected_test = _test_rewards(reference)
        expected_train = _train_stats(reference)
    with _trainer(control, backend) as trainer:
        _control(control, on="step", how="raise", seed=None, step=3)  # every game breaks
        with pytest.raises(GameError, match=r"^env 0: the game raised .*GameBroke during step"):
            _test_rewards(trainer)
        assert trainer._test_engine is not None and trainer._test_engine.pool.closed
        assert _new_children(children) == set()

        _control(control, on="step", how="raise", seed=int(trainer._train_seeds[2]), step=3)  # train env 2 breaks
        with pytest.raises(GameError, match=r"^env 2: the game raised .*GameBroke during step"):
            _train_stats(trainer)
        train_pool, test_pool = trainer._train_engine.pool, trainer._test_engine.pool  # type: ignore[union-attr]
        assert train_pool.closed and not test_pool.closed  # the test round before training went well
        test_processes = {getattr(w, "process", None) for w in test_pool.venv.workers} - {None}
        assert _new_children(children) == test_processes

        _control(control)  # the game behaves again: the next calls run on fresh pools, like a new trainer's
        np.testing.assert_array_equal(_test_rewards(trainer), expected_test)
        assert _train_stats(trainer) == expected_train
        assert trainer._train_engine.pool is not train_pool  # type: ignore[union-attr]
    assert _new_children(children) == set()


@pytest.mark.skipif(ray_skip_reason() is not None, reason=str(ray_skip_reason()))
def test_ray_pool_reports_game_errors_and_dead_workers(control: Path) -> None:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    module = sys.modules[__name__]
    ray.cloudpickle.register_pickle_by_value(module)  # Ray's workers cannot import the test modules
    try:
        _control(control, on="step", how="raise", seed=104, step=2)
        pool = _pool(control, "ray")
        _reset_all(pool)
        _step_all(pool, 1)
        with pytest.raises(GameError, match=r"^env 4: the game raised .*GameBroke during step: flaky game broke"):
            _step_all(pool, 1)
        assert pool.closed

        _control(control, on="step", how="exit", seed=104, step=2)
        pool = _pool(control, "ray")
        _reset_all(pool)
        _step_all(pool, 1)
        with pytest.raises(GameError, match=r"^the worker process holding envs 3-5 exited during step") as caught:
            _step_all(pool, 1)
        assert caught.value.env_ids == (3, 4, 5) and caught.value.worker_exited
        assert pool.closed
    finally:
        ray.cloudpickle.unregister_pickle_by_value(module)
        ray.shutdown()


EXIT_SCRIPT = """
import multiprocessing, os, sys
from games.tictactoe import env as tictactoe
from rbtrainer import DecentralizedTrainer, RandomAgent

MARKER = sys.argv[1]

def make():
    game = tictactoe()
    inner = game.unwrapped  # the trainer drives the game beneath PettingZoo's checking wrappers
    close = inner.close
    def close_and_mark():
        with open(MARKER, "a") as handle:
            handle.write(f"{os.getpid()}\\n")
        close()
    inner.close = close_and_mark
    return game

if __name__ == "__main__":
    trainer = DecentralizedTrainer(
        env_fn=make, num_train_envs=2, num_test_envs=2, episodes_per_test=2, backend="subproc", progress_bar=False
    )
    trainer.test([RandomAgent(), RandomAgent()])
    print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
    # no trainer.close(): the pool is closed at interpreter exit
"""


def test_an_unclosed_subproc_pool_is_closed_at_exit(tmp_path) -> None:
    import subprocess
    import time

    script, marker = tmp_path / "leave_open.py", tmp_path / "closed.txt"
    script.write_text(EXIT_SCRIPT)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(script), str(marker)], capture_output=True, text=True, timeout=120, env=env, check=True
    )
    workers = [int(pid) for pid in done.stdout.split()]
    assert len(workers) == 2
    closed_in = {int(pid) for pid in marker.read_text().split()}
    assert set(workers) <= closed_in  # each worker closed its games (the game's own close ran)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
    assert "Exception ignored" not in done.stderr


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
