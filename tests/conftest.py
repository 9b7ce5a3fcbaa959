"""Shared test doubles and the small training run of the long-run tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from rbtrainer.agents.base import Agent, Learner
from rbtrainer.agents.fixed import RandomAgent

Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]

SMALL_ROBOT_GAME = {"robot_colors": ["r", "b"], "max_step": 60}
"""A short 2-robot game."""
SMALL_RUN = {
    "num_train_envs": 4,
    "num_test_envs": 4,
    "episodes_per_train": 40,
    "episodes_per_test": 8,
    "test_freq": 10,
    "update_freq": 64,
    "progress_bar": False,
    "seed": 3,
}
"""Trainer settings of a run of a few seconds with four test rounds."""
TIMING_FIELDS = {"training_time", "test_time", "state_path", "plot_path"}
"""TrainStats fields that differ between runs with the same statistics."""


class RecordingLearner(Learner):
    """A cheap learner that only records: the memories it was given, what ``act`` was asked, and
    every array ``store`` received. It acts by ``fn`` (per row), ``batch_fn`` (per batch) or
    uniformly at random over legal actions. Tianshou's replay buffers JIT-compile on first use,
    which would cost seconds in tests that only check the trainer's plumbing."""

    def __init__(
        self,
        fn: Callable[[np.ndarray, np.ndarray], int] | None = None,
        batch_fn: Policy | None = None,
        seed: int = 0,
        name: str = "recorder",
    ) -> None:
        self.fn = fn
        self.batch_fn = batch_fn
        self.name = name
        self._rng = np.random.default_rng(seed)
        self.act_batch_sizes: list[int] = []
        self.attached: list[tuple[int, int, int]] = []
        self.stored: list[dict[str, np.ndarray]] = []

    # Agent
    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        self.act_batch_sizes.append(len(obs))
        if self.batch_fn is not None:
            return np.asarray(self.batch_fn(obs, mask), dtype=np.int64)
        if self.fn is not None:
            return np.array([int(self.fn(o, m)) for o, m in zip(obs, mask)], dtype=np.int64)
        noise = self._rng.random(mask.shape)
        return np.argmax(np.where(mask > 0, noise, -1.0), axis=1).astype(np.int64)

    # Learner
    def attach_memory(self, num_streams: int, update_freq: int, batch_size: int) -> None:
        self.attached.append((num_streams, update_freq, batch_size))

    def store(
        self,
        streams: np.ndarray,
        obs: np.ndarray,
        mask: np.ndarray,
        act: np.ndarray,
        rew: np.ndarray,
        obs_next: np.ndarray,
        mask_next: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
    ) -> None:
        assert len(streams) == len(obs) == len(act) == len(rew) == len(terminated), "one row per transition"
        self.stored.append(
            {
                "streams": np.array(streams, copy=True),
                "obs": np.array(obs, copy=True),
                "mask": np.array(mask, copy=True),
                "act": np.array(act, copy=True),
                "rew": np.array(rew, copy=True),
                "obs_next": np.array(obs_next, copy=True),
                "mask_next": np.array(mask_next, copy=True),
                "terminated": np.array(terminated, copy=True),
                "truncated": np.array(truncated, copy=True),
            }
        )

    def update(self, batch_size: int, gradient_steps: int) -> int:
        return 0

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        pass

    def frozen(self) -> Agent:
        return RandomAgent()

    # inspection
    @property
    def stored_count(self) -> int:
        return sum(len(call["streams"]) for call in self.stored)

    def transitions(self) -> list[dict[str, Any]]:
        """Every stored transition, in store order, one dict per row."""
        out = []
        for call in self.stored:
            for i, stream in enumerate(call["streams"].tolist()):
                row = {k: v[i] for k, v in call.items() if k != "streams"}
                row["stream"] = stream
                out.append(row)
        return out

    def stream(self, index: int) -> list[dict[str, Any]]:
        return [t for t in self.transitions() if t["stream"] == index]


def statistics_without_timings(stats: Any) -> dict[str, Any]:
    """A run's statistics as a dict, less the fields that differ between runs with the same statistics."""
    import dataclasses

    return {k: v for k, v in dataclasses.asdict(stats).items() if k not in TIMING_FIELDS}


def assert_same_run(batch: tuple[Any, ...], per_game: tuple[Any, ...]) -> None:
    """Two ``(trainer, learner, TrainStats, TestResult)`` runs, on the batch and the per-game engine
    path, gave the same statistics, stored the same memory rows and learned the same weights."""
    import numpy as np
    import torch

    assert type(per_game[0]._train_engine.pool).__name__ == "GamePool"
    assert type(batch[0]._train_engine.pool).__name__ == "BatchGamePool"
    for ours, theirs in zip(batch[2:], per_game[2:]):
        mine = {k: v for k, v in vars(ours).items() if k not in TIMING_FIELDS}
        reference = {k: v for k, v in vars(theirs).items() if k not in TIMING_FIELDS}
        assert repr(mine) == repr(reference)
    memory, reference_memory = batch[1].memory, per_game[1].memory
    assert len(memory) > 0
    np.testing.assert_array_equal(memory._lengths, reference_memory._lengths)
    for key in ("act", "rew", "terminated", "truncated"):
        np.testing.assert_array_equal(memory._meta[key], reference_memory._meta[key])
    for key in ("obs", "obs_next"):
        np.testing.assert_array_equal(memory._meta[key].obs, reference_memory._meta[key].obs)
        np.testing.assert_array_equal(memory._meta[key].mask, reference_memory._meta[key].mask)
    for mine_w, reference_w in zip(batch[1].policy.parameters(), per_game[1].policy.parameters()):
        torch.testing.assert_close(mine_w, reference_w, rtol=0, atol=0)


def stop_and_resume(
    build: Callable[..., tuple[Any, list[Any]]], learning: list[bool], stop: Callable[[Any], bool], state: Any
) -> tuple[Any, Any, Any]:
    """The whole run of ``build(**settings)``, the same run stopped at the first test round where
    ``stop(progress)`` holds (its training state at ``state``), and a fresh run resumed from that state."""
    from rbtrainer import progress_hook

    trainer, seats = build()
    with trainer:
        whole = trainer.train(seats, learning, plot=False)
    trainer, seats = build(state_path=str(state), state_memory=True)
    trainer.test_fn = progress_hook(lambda p: trainer.request_stop() if stop(p) else None)
    with trainer:
        stopped = trainer.train(seats, learning, plot=False)
    trainer, seats = build()
    with trainer:
        resumed = trainer.train(seats, learning, plot=False, resume=state)
    return whole, stopped, resumed


RAY_OPT_IN = "RBTRAINER_RAY_TESTS"
"""Environment variable that turns on the tests that start a local Ray runtime."""


def ray_skip_reason() -> str | None:
    """Why the Ray tests are skipped (Ray missing, or not opted in), or None."""
    import os

    try:
        import ray  # noqa: F401
    except ImportError:
        return "Ray is not installed"
    if os.environ.get(RAY_OPT_IN) != "1":
        return f"starting Ray and its actors takes 20-30 s on a 2-core machine; set {RAY_OPT_IN}=1 to run"
    return None


def write_control(path: Any, **plan: Any) -> None:
    """Write the plan a controllable test game reads from its control file (JSON)."""
    import json

    path.write_text(json.dumps(plan))


@pytest.fixture
def control(tmp_path: Any) -> Any:
    """An empty control file for the controllable test games of the pool tests."""
    path = tmp_path / "control.json"
    write_control(path)
    return path
