"""The Tianshou guard: an untested Tianshou is refused at import of the module that reads its
internals, with the versions and the fix named; a missing update counter is an error, not a skip."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from rbtrainer.agents import DQNConfig, PPOConfig, dqn_agent, ppo_agent, tianshou_internals
from rbtrainer.agents.tianshou_internals import TESTED_TIANSHOU, check_tianshou_version, update_counters

AGENTS = Path(tianshou_internals.__file__).parent
OBS = gym.spaces.Box(0.0, 1.0, (4,), np.float32)
ACT = gym.spaces.Discrete(3)


def _import_a_fresh_copy() -> None:
    """Run ``tianshou_internals`` as a new module (``sys.modules`` keeps the imported one)."""
    spec = importlib.util.spec_from_file_location("tianshou_internals_copy", tianshou_internals.__file__)
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


def test_the_installed_tianshou_is_the_tested_one() -> None:
    assert check_tianshou_version() == TESTED_TIANSHOU == importlib.metadata.version("tianshou") == "2.0.1"


@pytest.mark.parametrize("version", ["2.0.0", "2.0.2", "2.1.0", "3.0.0", "2.0.1rc1"])
def test_another_version_is_refused_with_the_versions_and_the_fix(version: str) -> None:
    with pytest.raises(ImportError) as raised:
        check_tianshou_version(version)
    message = str(raised.value)
    assert f"tianshou {version} is installed" in message
    assert "tianshou==2.0.1" in message and "pip install tianshou==2.0.1" in message
    assert "private" in message  # why: it reads internals Tianshou does not promise to keep


def test_importing_the_internals_module_checks_the_installed_version(monkeypatch: pytest.MonkeyPatch) -> None:
    _import_a_fresh_copy()  # the installed version passes
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "2.1.0" if name == "tianshou" else "0")
    with pytest.raises(ImportError, match=r"tianshou 2\.1\.0 is installed.*pip install tianshou==2\.0\.1"):
        _import_a_fresh_copy()


def test_missing_package_metadata_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_metadata(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", no_metadata)
    with pytest.raises(ImportError, match=r"cannot tell which Tianshou.*pip install tianshou==2\.0\.1"):
        check_tianshou_version()


@pytest.mark.parametrize("module", ["stream_memory.py", "memory_state.py", "learners.py"])
def test_the_modules_reading_internals_import_the_guard(module: str) -> None:
    tree = ast.parse((AGENTS / module).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "rbtrainer.agents.tianshou_internals" in imported


def test_a_dqn_saves_and_restores_its_update_counter() -> None:
    learner = dqn_agent(OBS, ACT, config=DQNConfig(buffer_size=64), seed=0)
    learner.algorithm._iter = 7
    state = learner.training_state(memory=False)
    assert state["counters"] == {"_iter": 7}
    twin = dqn_agent(OBS, ACT, config=DQNConfig(buffer_size=64), seed=1)
    twin.load_training_state(state)
    assert twin.algorithm._iter == 7


def test_a_dqn_without_its_update_counter_is_an_error() -> None:
    learner = dqn_agent(OBS, ACT, config=DQNConfig(buffer_size=64), seed=0)
    del learner.algorithm._iter  # as a Tianshou that renamed it would have it
    with pytest.raises(RuntimeError, match=r"no update counter '_iter'.*pip install tianshou==2\.0\.1"):
        learner.training_state(memory=False)


def test_a_fake_q_learning_algorithm_missing_the_counter_is_an_error() -> None:
    from tianshou.algorithm import DQN

    fake = object.__new__(DQN)  # a DQN that Tianshou's constructor never gave a counter
    with pytest.raises(RuntimeError, match="DQN has no update counter '_iter'"):
        update_counters(fake)
    assert update_counters(object()) == {}  # not a Q-learning algorithm: nothing expected


def test_a_dqn_state_without_the_counter_does_not_load() -> None:
    learner = dqn_agent(OBS, ACT, config=DQNConfig(buffer_size=64), seed=0)
    state = learner.training_state(memory=False)
    with pytest.raises(ValueError, match="no update counter '_iter'"):
        learner.load_training_state({**state, "counters": {}})
    with pytest.raises(ValueError, match="unknown update counters"):
        learner.load_training_state({**state, "counters": {"_iter": 1, "_other": 2}})


def test_an_on_policy_learner_has_no_counter_to_save() -> None:
    learner = ppo_agent(OBS, ACT, config=PPOConfig(buffer_size=64), seed=0)
    state = learner.training_state(memory=False)
    assert state["counters"] == {}
    learner.load_training_state(state)
