"""Learners backed by Tianshou 2.x algorithms.

* :class:`OffPolicyLearner` wraps any Tianshou off-policy algorithm whose policy is a
  ``DiscreteQLearningPolicy`` (DQN with double/dueling heads, n-step returns, prioritized
  replay; C51, QR-DQN, ... alike): greedy masked Q-values, epsilon-greedy exploration over legal
  actions with the learner's own generator.
* :class:`OnPolicyLearner` wraps PPO, A2C or any on-policy algorithm with a discrete
  ``ProbabilisticActorPolicy`` whose actor masks illegal actions (see
  :class:`rbtrainer.agents.networks.MaskedActor`): it samples from the masked distribution
  when exploring and takes its mode otherwise; its memory is emptied after each update.

Memories are Tianshou ``VectorReplayBuffer`` / ``PrioritizedVectorReplayBuffer`` (as
:mod:`rbtrainer.agents.stream_memory` speeds them up) with one sub-buffer per (env, seat)
stream, so n-step returns and GAE never cross streams. Observations are stored flat as
``Batch(obs=..., mask=...)`` so masks travel with ``obs`` and ``obs_next``.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch
from tianshou.algorithm.algorithm_base import OffPolicyAlgorithm, OnPolicyAlgorithm
from tianshou.algorithm.modelfree.dqn import DiscreteQLearningPolicy
from tianshou.algorithm.modelfree.reinforce import ProbabilisticActorPolicy
from tianshou.data import Batch, PrioritizedVectorReplayBuffer, ReplayBuffer
from tianshou.utils.torch_utils import policy_within_training_step

from rbtrainer.agents.base import Agent, Learner, check_discrete, flat_obs_dim, legal_actions, random_legal_actions
from rbtrainer.agents.device import resolve_device
from rbtrainer.agents.memory_state import load_memory_state, memory_nbytes, memory_state
from rbtrainer.agents.mirror import ColumnMirror
from rbtrainer.agents.networks import mask_logits
from rbtrainer.agents.stream_memory import QPolicy, StreamDQN, StreamPrioritizedReplayBuffer, StreamReplayBuffer
from rbtrainer.agents.tianshou_internals import set_update_counters, update_counters
from rbtrainer.rng import isolated_global_rng
from rbtrainer.validation import boolean, number_in, positive_int

__all__ = ["FrozenAgent", "OffPolicyLearner", "OnPolicyLearner", "copy_without_memory", "obs_batch"]


def obs_batch(obs: np.ndarray, mask: np.ndarray) -> Batch:
    """The observation layout stored in memories and fed to networks."""
    return Batch(obs=obs, mask=mask)


_ALGORITHM_SETTINGS = (
    "gamma",
    "n_step",
    "target_update_freq",
    "is_double",
    "huber_loss_delta",
    "gae_lambda",
    "vf_coef",
    "ent_coef",
    "eps_clip",
    "dual_clip",
    "value_clip",
    "advantage_normalization",
    "recompute_adv",
    "max_grad_norm",
)
"""Public hyper-parameters of Tianshou's DQN and PPO families that a resume compares."""


class _TianshouLearner(Learner):
    """Shared parts: spaces, memory, storage, checkpoints."""

    #: stores every transition a second time, mirrored left to right (off-policy learners' ``mirror``)
    mirror: ColumnMirror | None = None

    def __init__(
        self,
        algorithm: Any,
        observation_space: gym.Space,
        action_space: gym.Space,
        buffer_size: int,
        seed: int | None,
        name: str,
        device: str = "cpu",
    ) -> None:
        positive_int("buffer_size", buffer_size)
        #: where the networks, target networks and optimiser state live (acting returns NumPy actions)
        self.device = resolve_device(device)
        self.algorithm = algorithm.to(self.device)
        self.policy = algorithm.policy
        self.obs_dim = flat_obs_dim(observation_space)
        self.n_actions = check_discrete(action_space)
        self.buffer_size = int(buffer_size)
        self.name = name
        self.memory: ReplayBuffer | None = None
        self._num_streams = 0
        #: the losses of the last update (Tianshou's training stats, summary statistics by their mean)
        self.last_losses: dict[str, float] = {}
        self.seed(seed)
        # acting runs in eval mode; Tianshou's update switches to train mode and back itself
        self.algorithm.eval()

    @property
    def learning_rate(self) -> float | None:
        """The optimiser's learning rate (``None`` when its parameter groups differ or it has none)."""
        rates = {group.get("lr") for group in self._optimizer_state()["param_groups"]}
        return float(rates.pop()) if len(rates) == 1 and None not in rates else None

    @learning_rate.setter
    def learning_rate(self, lr: float) -> None:
        state = self._optimizer_state()
        if all(group.get("lr") == lr for group in state["param_groups"]):
            return
        for group in state["param_groups"]:
            group["lr"] = lr
        self.algorithm.optim.load_state_dict(state)

    def _optimizer_state(self) -> dict[str, Any]:
        optim = getattr(self.algorithm, "optim", None)
        if optim is None or not callable(getattr(optim, "state_dict", None)):
            return {"param_groups": []}
        return dict(optim.state_dict())

    def run_settings(self) -> dict[str, Any]:
        """The algorithm's hyper-parameters (discount, n-step horizon, target syncs, PPO's clips and
        coefficients...), the optimiser's learning rate and the memory's size."""
        settings: dict[str, Any] = {"lr": self.learning_rate, "buffer_size": self.buffer_size}
        for name in _ALGORITHM_SETTINGS:
            value = getattr(self.algorithm, name, self)  # self: the algorithm has no such setting
            if value is None or isinstance(value, (bool, int, float, str)):
                settings[name] = value
        return settings

    def apply_run_settings(self, settings: dict[str, Any]) -> None:
        """The learning rate is the one setting a training state's optimiser brings back."""
        if settings.get("lr") is not None:
            self.learning_rate = float(settings["lr"])

    def seed(self, seed: int | None) -> None:
        self._rng = np.random.default_rng(seed)
        self._torch_gen = torch.Generator().manual_seed(int(self._rng.integers(0, 2**62)))
        self._buffer_seed = int(self._rng.integers(0, 2**31 - 1))

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        n = check_discrete(action_space)
        dim = flat_obs_dim(observation_space)
        if (dim, n) != (self.obs_dim, self.n_actions):
            raise ValueError(
                f"{self.name} was built for observations of {self.obs_dim} values and {self.n_actions} actions, "
                f"but the seat has {dim} values and {n} actions; build it from that seat's spaces"
            )

    def acting_copy(self) -> Agent:
        """A copy without the memory (acting needs the policy only)."""
        return copy_without_memory(self)

    def acting_state(self) -> dict[str, Any] | None:
        """The policy's weights (not the optimiser's state, which acting does not read)."""
        return {"policy": self.policy.state_dict()}

    def load_acting_state(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])

    def _flat(self, obs: np.ndarray) -> np.ndarray:
        return obs.reshape(len(obs), -1)

    def _new_memory(self, num_streams: int) -> ReplayBuffer:
        return StreamReplayBuffer(self.buffer_size, num_streams, random_seed=self._buffer_seed)

    def _min_stream_size(self, num_streams: int, update_freq: int) -> int:
        return 2

    def attach_memory(self, num_streams: int, update_freq: int, batch_size: int) -> None:
        if self.memory is not None and self._num_streams == num_streams:
            return
        need = self._min_stream_size(num_streams, update_freq)
        # with mirror, sub-buffers num_streams .. 2 * num_streams - 1 hold the mirror images
        subs = num_streams if self.mirror is None else 2 * num_streams
        if self.buffer_size // subs < need:
            mirrors = "" if self.mirror is None else " and their mirror images"
            raise ValueError(
                f"{self.name}: buffer_size={self.buffer_size} leaves {self.buffer_size // subs} transitions for "
                f"each of its {num_streams} (env, seat) streams{mirrors}"
                f", fewer than the {need} it needs; use buffer_size >= {need * subs} or fewer envs"
            )
        if not self.on_policy and self.buffer_size < batch_size:
            raise ValueError(f"{self.name}: buffer_size={self.buffer_size} is smaller than batch_size={batch_size}")
        self.memory = self._new_memory(subs)
        self._num_streams = num_streams

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
        if self.memory is None:
            raise RuntimeError(f"{self.name}: no memory attached; the trainer attaches it in train()")
        if self.mirror is not None:  # each row, then its mirror image in the stream's mirror sub-buffer
            m = self.mirror
            streams = np.concatenate([streams, np.asarray(streams) + self._num_streams])
            obs, obs_next = (np.concatenate([o, m.observations(o)]) for o in (obs, obs_next))
            mask, mask_next = (np.concatenate([k, m.masks(k)]) for k in (mask, mask_next))
            act = np.concatenate([act, m.actions(act)])
            rew, terminated, truncated = (np.concatenate([x, x]) for x in (rew, terminated, truncated))
        batch = Batch(
            obs=obs_batch(self._flat(obs), mask),
            act=act,
            rew=rew,
            terminated=terminated,
            truncated=truncated,
            obs_next=obs_batch(self._flat(obs_next), mask_next),
        )
        self.memory.add(batch, buffer_ids=streams)

    def state_dict(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm.state_dict()}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        # Tianshou pops the optimiser states out of the dict it is given: give it a copy
        self.algorithm.load_state_dict(dict(state["algorithm"]), strict=strict)

    def frozen(self) -> Agent:
        return FrozenAgent(self)

    def training_state(self, memory: bool = True) -> dict[str, Any]:
        # Tianshou's DQN counts its updates (when to sync the target network) outside its
        # state_dict: training states carry the count so a resumed run syncs on the same updates
        state: dict[str, Any] = {"weights": self.state_dict(), "counters": update_counters(self.algorithm)}
        if memory and self.memory is not None:
            state["memory"] = memory_state(self.memory)
        return state

    def load_training_state(self, state: dict[str, Any]) -> None:
        self.check_saved_weights(state["weights"])
        self.load_state_dict(dict(state["weights"]))
        set_update_counters(self.algorithm, state["counters"])
        if "memory" in state:
            if self.memory is None:
                raise RuntimeError(f"{self.name}: attach_memory() before loading a training state with a memory")
            load_memory_state(self.memory, state["memory"])

    def memory_bytes(self) -> int:
        return 0 if self.memory is None else memory_nbytes(self.memory)

    def _remember_losses(self, stats: Any) -> None:
        losses: dict[str, float] = {}
        for name, value in vars(stats).items():
            if "loss" not in name:
                continue
            mean = getattr(value, "mean", value)  # SequenceSummaryStats (PPO, A2C) or a float (DQN)
            if isinstance(mean, (int, float, np.floating)):
                losses[name] = float(mean)
        self.last_losses = losses

    def _eval_mode(self) -> None:
        if self.policy.training:  # e.g. after a user called .train() on the networks
            self.algorithm.eval()


class OffPolicyLearner(_TianshouLearner):
    """A Q-learning learner (DQN family) over a Tianshou off-policy algorithm."""

    on_policy = False

    def __init__(
        self,
        algorithm: OffPolicyAlgorithm,
        observation_space: gym.Space,
        action_space: gym.Space,
        *,
        buffer_size: int = 100_000,
        prioritized: tuple[float, float] | None = None,
        epsilon: float = 0.1,
        mirror: bool = False,
        seed: int | None = None,
        name: str = "dqn",
        device: str = "cpu",
    ) -> None:
        if not isinstance(algorithm, OffPolicyAlgorithm):
            raise TypeError(
                f"algorithm must be a Tianshou off-policy algorithm (e.g. DQN), got {type(algorithm).__name__}"
            )
        if not isinstance(algorithm.policy, DiscreteQLearningPolicy):
            raise TypeError("OffPolicyLearner needs a DiscreteQLearningPolicy (DQN family) in algorithm.policy")
        if prioritized is not None:
            alpha, beta = prioritized
            if alpha <= 0 or beta < 0:
                raise ValueError(f"prioritized=(alpha, beta) needs alpha > 0 and beta >= 0, got {prioritized}")
        self.prioritized = prioritized
        self._mirrored = boolean("mirror", mirror)
        if self._mirrored:
            self.mirror = ColumnMirror(observation_space, check_discrete(action_space))
        super().__init__(algorithm, observation_space, action_space, buffer_size, seed, name, device)
        self.epsilon = epsilon

    @property
    def epsilon(self) -> float:
        """Probability of a random legal action on exploring seats while collecting."""
        return self._epsilon

    @epsilon.setter
    def epsilon(self, value: float) -> None:
        self._epsilon = number_in("epsilon", value, 0.0, 1.0)

    def run_settings(self) -> dict[str, Any]:
        """The shared settings, prioritized replay's (alpha, beta) and mirroring (not epsilon: a
        schedule moves it, and the training state carries it)."""
        return {**super().run_settings(), "prioritized": self.prioritized, "mirror": self._mirrored}

    def training_state(self, memory: bool = True) -> dict[str, Any]:
        return {**super().training_state(memory), "epsilon": self._epsilon}

    def load_training_state(self, state: dict[str, Any]) -> None:
        super().load_training_state(state)
        self.epsilon = float(state["epsilon"])

    def acting_state(self) -> dict[str, Any] | None:
        """The policy's weights and epsilon."""
        return {**cast(dict[str, Any], super().acting_state()), "epsilon": self._epsilon}

    def load_acting_state(self, state: dict[str, Any]) -> None:
        super().load_acting_state(state)
        self.epsilon = float(state["epsilon"])

    def set_beta(self, beta: float) -> None:
        """Importance-sampling exponent of prioritized replay (no effect without it)."""
        if isinstance(self.memory, PrioritizedVectorReplayBuffer):
            self.memory.set_beta(beta)

    def _new_memory(self, num_streams: int) -> ReplayBuffer:
        if self.prioritized is None:
            return super()._new_memory(num_streams)
        alpha, beta = self.prioritized
        return StreamPrioritizedReplayBuffer(
            self.buffer_size, num_streams, alpha=alpha, beta=beta, random_seed=self._buffer_seed
        )

    def _min_stream_size(self, num_streams: int, update_freq: int) -> int:
        return int(getattr(self.algorithm, "n_step", 1)) + 1

    def greedy(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Masked argmax of the Q-values (rows without a legal action: plain argmax)."""
        self._eval_mode()
        if type(self.policy) not in (DiscreteQLearningPolicy, QPolicy):  # C51, QR-DQN, ...: their own q-values
            with torch.no_grad():
                out = self.policy(Batch(obs=obs_batch(self._flat(obs), mask), info={}))
            return np.asarray(out.act, dtype=np.int64)
        # plain DQN: the policy's forward (model, then masked argmax) without building Batches
        with torch.no_grad():
            q, _ = self.policy.model(torch.as_tensor(self._flat(obs), dtype=torch.float32, device=self.device))
        q_BA = q.cpu().numpy()
        return np.where(legal_actions(mask), q_BA, -np.inf).argmax(axis=1).astype(np.int64)

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        act = self.greedy(obs, mask)
        if self._epsilon > 0 and explore.any():
            rows = explore & (self._rng.random(len(act)) < self._epsilon)
            if rows.any():
                act[rows] = random_legal_actions(self._rng, mask[rows])
        return act

    def update(self, batch_size: int, gradient_steps: int) -> int:
        if self.memory is None or len(self.memory) < batch_size or gradient_steps < 1:
            return 0
        with isolated_global_rng(self._rng), policy_within_training_step(self.policy):
            if isinstance(self.algorithm, StreamDQN):
                stats = self.algorithm.updates(self.memory, batch_size, gradient_steps)
            else:
                for _ in range(gradient_steps):
                    stats = self.algorithm.update(self.memory, batch_size)
        self._remember_losses(stats)
        return gradient_steps


class OnPolicyLearner(_TianshouLearner):
    """A policy-gradient learner (PPO, A2C, ...) over a Tianshou on-policy algorithm."""

    on_policy = True

    def __init__(
        self,
        algorithm: OnPolicyAlgorithm,
        observation_space: gym.Space,
        action_space: gym.Space,
        *,
        buffer_size: int = 20_000,
        repeat: int = 4,
        seed: int | None = None,
        name: str = "ppo",
        device: str = "cpu",
    ) -> None:
        if not isinstance(algorithm, OnPolicyAlgorithm):
            raise TypeError(
                f"algorithm must be a Tianshou on-policy algorithm (e.g. PPO), got {type(algorithm).__name__}"
            )
        if not isinstance(algorithm.policy, ProbabilisticActorPolicy):
            raise TypeError("OnPolicyLearner needs a ProbabilisticActorPolicy in algorithm.policy")
        self.repeat = positive_int("repeat", repeat)
        super().__init__(algorithm, observation_space, action_space, buffer_size, seed, name, device)

    def run_settings(self) -> dict[str, Any]:
        """The shared settings and the passes over each collection (``repeat``)."""
        return {**super().run_settings(), "repeat": self.repeat}

    def _min_stream_size(self, num_streams: int, update_freq: int) -> int:
        # a stream may receive all of a collection phase's steps
        return max(2, -(-2 * update_freq // num_streams))

    def logits(self, obs: np.ndarray, mask: np.ndarray) -> torch.Tensor:
        self._eval_mode()
        with torch.no_grad():
            logits, _ = self.policy.actor(obs_batch(self._flat(obs), mask))
        # the actor masks already; masking again keeps acting legal whatever actor was given
        return mask_logits(logits, torch.as_tensor(mask > 0, device=logits.device))

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        logits = self.logits(obs, mask).cpu()  # sampled on the CPU, by the learner's own CPU generator
        act = logits.argmax(dim=1)
        if explore.any():
            probs = torch.softmax(logits[torch.as_tensor(explore)], dim=1)
            act[torch.as_tensor(explore)] = torch.multinomial(probs, 1, generator=self._torch_gen).squeeze(1)
        return act.numpy().astype(np.int64)

    def update(self, batch_size: int, gradient_steps: int) -> int:
        """One on-policy update over everything collected since the last one; empties the memory."""
        if self.memory is None or len(self.memory) == 0:
            return 0
        with isolated_global_rng(self._rng), policy_within_training_step(self.policy):
            stats = self.algorithm.update(self.memory, batch_size=batch_size, repeat=self.repeat)
        self._remember_losses(stats)
        self.memory.reset()
        return int(getattr(stats, "gradient_steps", 0) or 0)


def copy_without_memory(learner: _TianshouLearner) -> _TianshouLearner:
    """A deep copy of ``learner`` (networks, optimiser, generators) with no memory attached."""
    memory, learner.memory = learner.memory, None
    try:
        return copy.deepcopy(learner)
    finally:
        learner.memory = memory


class FrozenAgent(Agent):
    """A snapshot of a learner that acts like it did when frozen and never learns."""

    def __init__(self, learner: _TianshouLearner) -> None:
        self._copy = copy_without_memory(learner)
        self.name = f"{learner.name}-frozen"

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        self._copy.check_spaces(observation_space, action_space)

    def seed(self, seed: int | None) -> None:
        self._copy.seed(seed)

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        return self._copy.act(obs, mask, explore)

    def state_dict(self) -> dict[str, Any]:
        """The snapshot's networks (what :class:`~rbtrainer.callbacks.KeepBest` saves in training states)."""
        return self._copy.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._copy.load_state_dict(state)
