"""Saving and loading the learners of a seat assignment.

A checkpoint holds each distinct learner's network and optimiser state once (a learner filling
several seats is saved once) plus the seat -> learner map and free-form metadata. Files are
written atomically (``rbtrainer.files.atomic_write``: temporary file, then rename) and read with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import torch

from rbtrainer.agents.base import Agent, Learner
from rbtrainer.files import atomic_write

__all__ = ["CHECKPOINT_FORMAT", "learner_from_checkpoint", "load_agents", "read_checkpoint", "save_agents"]

CHECKPOINT_FORMAT = 1


def _distinct_learners(agents: Sequence[Agent]) -> tuple[list[Learner], list[int]]:
    learners: list[Learner] = []
    seat_to_learner: list[int] = []
    for agent in agents:
        if isinstance(agent, Learner):
            for i, known in enumerate(learners):
                if known is agent:
                    seat_to_learner.append(i)
                    break
            else:
                learners.append(agent)
                seat_to_learner.append(len(learners) - 1)
        else:
            seat_to_learner.append(-1)
    return learners, seat_to_learner


def save_agents(
    path: str | os.PathLike[str], agents: Sequence[Agent], metadata: Mapping[str, Any] | None = None
) -> str:
    """Write the learners among ``agents`` (one entry per seat) to ``path``; returns the path."""
    learners, seat_to_learner = _distinct_learners(agents)
    if not learners:
        raise ValueError("agents contains no learner: there is nothing to save")
    payload = {
        "format": CHECKPOINT_FORMAT,
        "seat_to_learner": seat_to_learner,
        "learners": [{"name": lr.name, "kind": type(lr).__name__, "state": lr.state_dict()} for lr in learners],
        "metadata": dict(metadata or {}),
    }
    with atomic_write(path) as handle:
        torch.save(payload, handle)
    return os.fspath(path)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked contents of a checkpoint file (``ValueError`` if it is not one of ours)."""
    try:
        payload = torch.load(os.fspath(path), weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint {os.fspath(path)!r} does not exist") from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        if isinstance(err, OSError) and not isinstance(err, EOFError) and os.path.isdir(os.fspath(path)):
            raise IsADirectoryError(f"checkpoint {os.fspath(path)!r} is a directory, not a checkpoint file") from None
        raise ValueError(f"{os.fspath(path)} is not a readable rbtrainer checkpoint: {err}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an rbtrainer checkpoint (format {CHECKPOINT_FORMAT})")
    return payload


def load_agents(path: str | os.PathLike[str], agents: Sequence[Agent], strict: bool = True) -> dict[str, Any]:
    """Load a checkpoint into the learners among ``agents`` (same seat layout); returns its metadata."""
    payload = read_checkpoint(path)
    learners, seat_to_learner = _distinct_learners(agents)
    saved = payload["learners"]
    if len(learners) != len(saved):
        raise ValueError(f"agents hold {len(learners)} distinct learners but the checkpoint has {len(saved)}")
    if seat_to_learner != payload["seat_to_learner"]:
        raise ValueError(
            f"seat layout differs: checkpoint {payload['seat_to_learner']}, agents {seat_to_learner} "
            "(-1 marks fixed policies; equal numbers mark one learner in several seats)"
        )
    for learner, entry in zip(learners, saved):
        if type(learner).__name__ != entry["kind"]:
            raise ValueError(f"checkpoint holds a {entry['kind']} where agents have a {type(learner).__name__}")
        learner.load_state_dict(entry["state"], strict=strict)
    return dict(payload.get("metadata", {}))


def learner_from_checkpoint(
    path: str | os.PathLike[str],
    observation_space: gym.Space,
    action_space: gym.Space,
    *,
    index: int = 0,
    name: str | None = None,
) -> Learner:
    """Rebuild learner ``index`` of a checkpoint for a seat with these spaces and load its weights.

    The checkpoint's metadata must hold the learner's configuration under ``"dqn"`` (a
    :class:`~rbtrainer.agents.DQNConfig`, as ``rbtrainer train`` writes) or ``"ppo"``.
    """
    from rbtrainer.agents.builders import DQNConfig, PPOConfig, dqn_agent, ppo_agent

    payload = read_checkpoint(path)
    learners = payload["learners"]
    if not 0 <= index < len(learners):
        raise ValueError(f"{path} holds {len(learners)} learner(s); index {index} is out of range")
    metadata = payload.get("metadata", {})
    label = name or os.path.basename(os.fspath(path))
    learner: Learner
    if "dqn" in metadata:
        learner = dqn_agent(observation_space, action_space, config=DQNConfig(**metadata["dqn"]), name=label)
    elif "ppo" in metadata:
        learner = ppo_agent(observation_space, action_space, config=PPOConfig(**metadata["ppo"]), name=label)
    else:
        raise ValueError(
            f"{path} does not record its learner's configuration (metadata 'dqn' or 'ppo'); build the learner "
            "yourself and call load_agents"
        )
    entry = learners[index]
    if type(learner).__name__ != entry["kind"]:
        raise ValueError(f"{path} holds a {entry['kind']}, but its metadata describes a {type(learner).__name__}")
    try:
        learner.load_state_dict(entry["state"])
    except RuntimeError as err:  # torch's size mismatch: the network was built for other spaces
        game = metadata.get("env", {})
        raise ValueError(
            f"{path} was trained on a game with other observations or actions (env {game}): "
            f"{str(err).splitlines()[-1].strip()}"
        ) from None
    return learner
