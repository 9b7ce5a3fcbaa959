"""Device selection: ``device`` on the learner configs and learners, checkpoints through
``map_location``, clear errors for devices the machine does not have, the CLI's ``--device``.

The CI machine has no GPU: the device plumbing runs with ``"cpu"`` and ``"auto"``; the tests
that need CUDA are skipped with a reason when it is absent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from rbtrainer import DecentralizedTrainer, DQNConfig, PPOConfig, RandomAgent, dqn_agent, ppo_agent
from rbtrainer.agents.device import available_devices, resolve_device
from rbtrainer.checkpoint import learner_from_checkpoint, save_agents
from rbtrainer.cli import main

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA device (this machine has none)")
no_cuda = pytest.mark.skipif(CUDA, reason="checks the error on a machine without CUDA")

TINY: dict[str, Any] = {
    "num_train_envs": 2,
    "num_test_envs": 2,
    "episodes_per_train": 12,
    "episodes_per_test": 2,
    "test_freq": 6,
    "update_freq": 16,
    "batch_size": 8,
    "update_per_step": 0.5,
    "progress_bar": False,
}


@pytest.fixture(scope="module")
def trainer() -> DecentralizedTrainer:
    with DecentralizedTrainer({"game": "tictactoe"}, seed=0, **TINY) as t:
        yield t


def parameter_devices(learner: Any) -> set[torch.device]:
    return {p.device for p in learner.algorithm.parameters()}


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if CUDA else "mps" if "mps" in available_devices() else "cpu")
    assert available_devices()[0] == "cpu"
    with pytest.raises(ValueError, match=r"device 'gpu' is not a device; use one of cpu, cuda, cuda:N, mps, auto"):
        resolve_device("gpu")
    with pytest.raises(TypeError, match="device must be a device string"):
        resolve_device(0)
    with pytest.raises(ValueError, match=r"device 'cuda:99' is not available on this machine \(it has \['cpu'"):
        resolve_device("cuda:99")


@no_cuda
def test_cuda_without_cuda_is_a_clear_error(trainer) -> None:
    with pytest.raises(ValueError, match=r"device 'cuda' is not available on this machine \(it has \['cpu'.*'auto'"):
        dqn_agent(trainer.observation_space(0), trainer.action_space(0), device="cuda")
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        ppo_agent(trainer.observation_space(0), trainer.action_space(0), device="cuda")
    DQNConfig(device="cuda")  # a config may name a device this machine lacks (it was written elsewhere)


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "CPU", ""])
def test_unknown_device_strings_fail_at_the_config(device) -> None:
    with pytest.raises(ValueError, match="is not a device"):
        DQNConfig(device=device)
    with pytest.raises(ValueError, match="is not a device"):
        PPOConfig(device=device)


@pytest.mark.parametrize("build", [dqn_agent, ppo_agent])
@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_learners_train_and_act_on_their_device(trainer, build, device) -> None:
    learner = build(trainer.observation_space(0), trainer.action_space(0), hidden_sizes=(16,), device=device, seed=1)
    assert parameter_devices(learner) == {resolve_device(device)} and learner.device == resolve_device(device)
    frozen = learner.frozen()
    stats = trainer.train([learner, frozen], [True, False], plot=False)  # mixed: a snapshot in the other seat
    assert stats.gradient_steps > 0
    obs = np.zeros((3, *trainer.observation_space(0).shape), dtype=np.float32)
    mask = np.ones((3, 9), dtype=np.int8)
    act = learner.act(obs, mask, np.array([True, False, True]))
    assert isinstance(act, np.ndarray) and act.dtype == np.int64 and act.shape == (3,)
    result = trainer.test([learner, RandomAgent(seed=0)])
    assert result.num_episodes == TINY["episodes_per_test"]


def test_checkpoints_load_through_map_location(trainer, tmp_path, monkeypatch) -> None:
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), hidden_sizes=(16,), seed=2)
    path = tmp_path / "ttt.pt"
    save_agents(path, [learner, learner], {"dqn": {"hidden_sizes": (16,)}})
    calls: list[dict[str, Any]] = []
    load = torch.load

    def recording_load(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    again = learner_from_checkpoint(path, trainer.observation_space(0), trainer.action_space(0), device="auto")
    assert calls and all(c.get("map_location") == "cpu" and c.get("weights_only") is True for c in calls)
    assert again.device == resolve_device("auto")
    obs = np.random.default_rng(0).integers(0, 2, (5, 3, 3, 2)).astype(np.float32)
    mask = np.ones((5, 9), dtype=np.int8)
    assert np.array_equal(again.greedy(obs, mask), learner.greedy(obs, mask))


@needs_cuda
def test_cuda_training_and_a_checkpoint_read_on_the_cpu(trainer, tmp_path) -> None:
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), hidden_sizes=(16,), device="cuda")
    assert {d.type for d in parameter_devices(learner)} == {"cuda"}
    trainer.train([learner, RandomAgent(seed=1)], [True, False], plot=False)
    path = tmp_path / "cuda.pt"
    save_agents(path, [learner, learner], {"dqn": {"hidden_sizes": (16,), "device": "cuda"}})
    on_cpu = learner_from_checkpoint(path, trainer.observation_space(0), trainer.action_space(0), device="cpu")
    assert parameter_devices(on_cpu) == {torch.device("cpu")}
    obs = np.zeros((2, 3, 3, 2), dtype=np.float32)
    mask = np.ones((2, 9), dtype=np.int8)
    assert np.array_equal(on_cpu.greedy(obs, mask), learner.greedy(obs, mask))


def test_cli_device(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    flags = ["--env", "game=tictactoe", "--num-test-envs", "3", "--episodes-per-test", "3"]
    train = ["train", *flags, "--num-train-envs", "3", "--episodes-per-train", "4", "--test-freq", "2"]
    train += ["--hidden-sizes", "8", "--no-progress-bar", "--logdir", "", "--checkpoint", "ck.pt"]
    assert main([*train, "--device", "auto"]) == 0
    capsys.readouterr()
    evaluating = [*flags[:4], "--games", "3"]  # eval plays --games per seating, not test episodes
    for argv in (["test", *flags, "--checkpoint", "ck.pt"], ["eval", *evaluating, "--agents", "ck.pt", "random"]):
        assert main([*argv, "--device", "auto"]) == 0
        capsys.readouterr()
        with pytest.raises(SystemExit) as info:
            main([*argv, "--device", "gpu"])
        assert info.value.code == 2 and "device 'gpu' is not a device" in capsys.readouterr().err
    assert main(["play", "--env", "game=tictactoe", "--checkpoint", "ck.pt", "--device", "auto"]) == 0
    if not CUDA:
        with pytest.raises(SystemExit) as info:
            main([*train, "--device", "cuda", "--overwrite"])
        err = capsys.readouterr().err
        assert info.value.code == 2 and err.count("\n") == 1 and "device 'cuda' is not available" in err
