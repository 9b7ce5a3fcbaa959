"""The Agent protocol: what fills a seat.

An agent maps a batch of observations of the seats it plays to actions, in one call:
``act(obs_B..., mask_BA, explore_B) -> act_B``. ``mask_BA`` is the int8 action mask of each row
(all ones for games without masks) and must be honoured; ``explore_B`` says, per row, whether
that seat explores (the trainer's exploration mask during training, all false during tests).

A :class:`Learner` additionally owns a memory, stores the transitions the trainer routes to it
and updates itself. Fixed policies (random, scripted, frozen) are plain :class:`Agent` objects.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

__all__ = [
    "Agent",
    "Learner",
    "check_discrete",
    "flat_obs_dim",
    "legal_actions",
    "random_legal_actions",
    "unique_name",
]


def _shape(value: Any) -> tuple[int, ...] | None:
    """The shape of a tensor or array (``None`` for other state entries: counters, optimiser settings)."""
    shape = getattr(value, "shape", None)
    return None if shape is None else tuple(int(n) for n in shape)


def _compare_shapes(current: Mapping[str, Any], saved: Mapping[str, Any], prefix: str, out: list[str]) -> None:
    """Append to ``out`` how the tensors of ``saved`` differ from those of ``current`` (names, shapes), recursing
    into nested mappings; entries that are not tensors are not compared."""
    for key, value in current.items():
        name = f"{prefix}{key}"
        if key not in saved:
            if isinstance(value, Mapping) or _shape(value) is not None:
                out.append(f"parameter {name} of this learner is not in the state")
            continue
        other = saved[key]
        if isinstance(value, Mapping) and isinstance(other, Mapping):
            _compare_shapes(value, other, f"{name}.", out)
            continue
        mine, theirs = _shape(value), _shape(other)
        if mine is not None and theirs != mine:
            out.append(f"parameter {name} has shape {theirs} in the state but {mine} in this learner")
    for key, other in saved.items():
        if key not in current and (isinstance(other, Mapping) or _shape(other) is not None):
            out.append(f"parameter {prefix}{key} of the state is not in this learner")


def legal_actions(mask: np.ndarray) -> np.ndarray:
    """Boolean legal actions per row; a row without any legal action allows every action."""
    legal = mask > 0
    return legal | ~legal.any(axis=1, keepdims=True)


def random_legal_actions(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """One uniformly random legal action per row of ``mask`` (int64)."""
    noise = rng.random(mask.shape)
    return np.argmax(np.where(legal_actions(mask), noise, -1.0), axis=1).astype(np.int64)


def unique_name(base: str, taken: Sequence[str]) -> str:
    """``base``, or ``base#2``, ``base#3``, ... : the first one not in ``taken`` (agent names in tables and logs)."""
    name, k = base, 2
    while name in taken:
        name, k = f"{base}#{k}", k + 1
    return name


def observation_box(space: gym.Space) -> gym.spaces.Box:
    """The Box an agent reads: the space itself, or the ``observation`` entry of a ``Dict`` space."""
    if isinstance(space, gym.spaces.Dict) and "observation" in space.spaces:
        space = space.spaces["observation"]
    if not isinstance(space, gym.spaces.Box):
        raise TypeError(f"observation space must be a Box (or a Dict with an 'observation' Box), got {space}")
    return space


def flat_obs_dim(space: gym.Space) -> int:
    """Number of values in an observation (``Dict`` spaces: the ``observation`` entry)."""
    return int(np.prod(observation_box(space).shape))


def check_discrete(space: gym.Space, argument: str = "action_space") -> int:
    if not isinstance(space, gym.spaces.Discrete):
        raise TypeError(f"{argument} must be gymnasium.spaces.Discrete, got {space}")
    return int(space.n)


class Agent(ABC):
    """A policy filling one or more seats. Subclasses implement :meth:`act`."""

    name: str = "agent"

    @abstractmethod
    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        """Actions (int64, shape ``(B,)``) for a batch of observations of the seats it plays."""

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        """Raise ``TypeError``/``ValueError`` if this agent cannot play a seat with these spaces."""
        check_discrete(action_space)

    def seed(self, seed: int | None) -> None:  # noqa: B027 (optional hook: agents without randomness keep it)
        """Restart the agent's own random generator."""

    # Rollout workers (``TrainerConfig.rollout_workers``) play with copies of the agents: made once by
    # :meth:`acting_copy`, brought up to date before every run by :meth:`acting_state` (the random
    # generators are synchronised apart from it, see rbtrainer.rollout_workers).
    def acting_copy(self) -> Agent:
        """A copy that acts as this agent does, to be sent to a rollout worker (default: a deep copy)."""
        return copy.deepcopy(self)

    def acting_state(self) -> dict[str, Any] | None:
        """What a copy from :meth:`acting_copy` needs, before each run, to act as this agent does now (weights,
        epsilon); ``None`` (the default, for agents that do not change) when the copy made once keeps acting alike."""
        return None

    def load_acting_state(self, state: dict[str, Any]) -> None:
        """Take an :meth:`acting_state` of the original agent (called on copies only)."""
        raise NotImplementedError(f"{type(self).__name__} returns no acting_state, so none is loaded")

    def acting_record(self) -> Any:
        """What this copy recorded while acting that the original needs (``None``: nothing; the default); the
        record is taken, so the next call starts afresh. A planning learner's search targets travel this way."""
        return None

    def absorb_acting_record(self, record: Any) -> None:
        """Take an :meth:`acting_record` of a copy (called on the original, in the order the copies played)."""
        raise NotImplementedError(f"{type(self).__name__} keeps no acting_record")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Learner(Agent):
    """An agent that learns from the transitions the trainer stores in its memory."""

    on_policy: bool = False

    @abstractmethod
    def attach_memory(self, num_streams: int, update_freq: int, batch_size: int) -> None:
        """Create (or keep, if it fits) a memory with one stream per (env, seat) it stores.

        Raises ``ValueError`` naming ``buffer_size`` when the memory cannot serve this set-up.
        """

    @abstractmethod
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
        """Append transitions, row ``i`` to stream ``streams[i]``.

        A stream may appear several times; its rows are then in the order they happened.
        """

    @abstractmethod
    def update(self, batch_size: int, gradient_steps: int) -> int:
        """Learn from the memory; returns the number of gradient steps taken."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Network and optimiser state (tensors only), for checkpoints."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None: ...

    def run_settings(self) -> dict[str, Any]:
        """The settings that change what this learner learns (learning rate, discount...), ``name ->
        plain value``: a training state records them and a resume compares them. Default: none."""
        return {}

    def apply_run_settings(self, settings: dict[str, Any]) -> None:
        """Take back the ``run_settings()`` that restoring a training state replaced (a resume
        that accepts changed settings, e.g. an optimiser state that brought the saved learning
        rate). Default: nothing is replaced."""

    @abstractmethod
    def frozen(self) -> Agent:
        """A frozen snapshot that acts like this learner now and never changes."""

    def acting_state(self) -> dict[str, Any] | None:
        """The learner's weights (:meth:`state_dict`): learners that act with more than their weights say so."""
        return {"weights": self.state_dict()}

    def load_acting_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(dict(state["weights"]))

    def training_state(self, memory: bool = True) -> dict[str, Any]:
        """Everything a resumed run needs besides the random generators: by default the
        :meth:`state_dict`; learners with counters or a memory add them (``memory``: include it)."""
        return {"weights": self.state_dict()}

    def load_training_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`training_state` (the memory must be attached first when it holds one).

        Raises ``ValueError`` (see :meth:`check_saved_weights`) when the saved weights are of other shapes.
        """
        self.check_saved_weights(state["weights"])
        self.load_state_dict(dict(state["weights"]))

    def check_saved_weights(self, saved: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` unless ``saved`` (a :meth:`state_dict` from a training state) holds tensors of
        the names and shapes of this learner's own, naming the learner, the first parameter that differs
        and both shapes (the saved one and this learner's): the learner was built with other network sizes."""
        differences: list[str] = []
        _compare_shapes(self.shaped_state(self.state_dict()), self.shaped_state(saved), "", differences)
        if not differences:
            return
        more = f" (and {len(differences) - 1} more)" if len(differences) > 1 else ""
        raise ValueError(
            f"training state of learner {self.name!r}: {differences[0]}{more}; this learner was built with other "
            "network sizes (hidden_sizes, layers) than the one that wrote the state: build it as that run did"
        )

    def shaped_state(self, state: Mapping[str, Any]) -> Mapping[str, Any]:
        """The part of a :meth:`state_dict` whose tensor shapes :meth:`check_saved_weights` compares
        (default: all of it; a learner whose optimiser state is empty until its first step leaves it out)."""
        return state

    def memory_bytes(self) -> int:
        """Bytes the memory holds (decides whether training states include it by default)."""
        return 0

    @property
    def log_values(self) -> dict[str, float]:
        """What the training logs show for this learner after an update phase (losses, epsilon)."""
        values = dict(getattr(self, "last_losses", {}))
        epsilon = getattr(self, "epsilon", None)
        if isinstance(epsilon, (int, float)):
            values["epsilon"] = float(epsilon)
        return values
