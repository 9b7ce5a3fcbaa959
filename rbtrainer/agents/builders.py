"""Five-line agents: DQN-family and PPO/A2C learners built from a seat's spaces.

learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=1)
learner = ppo_agent(trainer.observation_space(0), trainer.action_space(0), seed=1)
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tianshou.algorithm import A2C, PPO
from tianshou.algorithm.optim import AdamOptimizerFactory
from tianshou.utils.net.common import Net

from rbtrainer.agents.base import check_discrete, flat_obs_dim, observation_box
from rbtrainer.agents.device import check_device
from rbtrainer.agents.learners import OffPolicyLearner, OnPolicyLearner
from rbtrainer.agents.networks import BoardQNet, MaskedActor, ValueCritic, board_qnet_parameters
from rbtrainer.agents.stream_memory import ActorPolicy, QPolicy, StreamDQN
from rbtrainer.config import DQNConfig
from rbtrainer.rng import isolated_global_rng
from rbtrainer.validation import check_allocation, hidden_sizes, number_in, positive_int

__all__ = ["DQNConfig", "PPOConfig", "dqn_agent", "ppo_agent"]


@dataclass(kw_only=True)
class PPOConfig:
    """Hyperparameters of a PPO (or A2C) learner with a masked actor."""

    algorithm: str = "ppo"
    """``"ppo"`` or ``"a2c"``."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Widths of the actor's and the critic's hidden layers."""
    lr: float = 3e-4
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda (advantages computed per (env, seat) stream)."""
    eps_clip: float = 0.2
    """PPO ratio clip."""
    ent_coef: float = 0.01
    """Entropy bonus weight."""
    vf_coef: float = 0.5
    """Value-loss weight."""
    max_grad_norm: float = 0.5
    """Gradient clipping norm."""
    repeat: int = 4
    """Passes over the collected data per update."""
    buffer_size: int = 20_000
    """Memory for one collection phase, split over the (env, seat) streams."""
    device: str = "cpu"
    """Where the networks live: cpu, cuda, cuda:N, mps or auto (the best available)."""

    def __post_init__(self) -> None:
        if self.algorithm not in ("ppo", "a2c"):
            raise ValueError(f"algorithm must be 'ppo' or 'a2c', got {self.algorithm!r}")
        self.hidden_sizes = hidden_sizes("hidden_sizes", self.hidden_sizes)
        number_in("lr", self.lr, 0.0, 1.0, low_open=True)
        number_in("gamma", self.gamma, 0.0, 1.0)
        number_in("gae_lambda", self.gae_lambda, 0.0, 1.0)
        number_in("eps_clip", self.eps_clip, 0.0, 1.0, low_open=True)
        number_in("ent_coef", self.ent_coef, 0.0, 1.0)
        number_in("vf_coef", self.vf_coef, 0.0, 10.0)
        number_in("max_grad_norm", self.max_grad_norm, 0.0, 1e6, low_open=True)
        positive_int("repeat", self.repeat)
        positive_int("buffer_size", self.buffer_size)
        check_device("device", self.device)


def config_with(cls: type, config: Any, overrides: dict[str, Any]) -> Any:
    """A ``cls`` config: the fields of ``config`` (default: the defaults) replaced by ``overrides``,
    which must name fields of ``cls``."""
    if config is not None and not isinstance(config, cls):
        raise TypeError(f"config must be a {cls.__name__}, got {type(config).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unknown {cls.__name__} field(s) {unknown}; known fields: {sorted(known)}")
    base = {f.name: getattr(config, f.name) for f in dataclasses.fields(cls)} if config is not None else {}
    return cls(**{**base, **overrides})


def _mlp_parameters(obs_dim: int, hidden: tuple[int, ...], n_actions: int) -> int:
    return sum((a + 1) * b for a, b in itertools.pairwise((obs_dim, *hidden, n_actions)))


def _board_shape(observation_space: gym.Space) -> tuple[int, int, int]:
    """The ``(height, width, planes)`` of a board observation, for ``conv_channels``."""
    space = observation_box(observation_space)
    if len(space.shape) != 3:
        raise ValueError(
            f"conv_channels needs a board observation of shape (height, width, planes), got {space}; "
            "set conv_channels=() for an MLP over the flattened observation"
        )
    height, width, planes = space.shape
    return int(height), int(width), int(planes)


def _check_sizes(
    obs_dim: int, n_actions: int, params: int, buffer_size: int, nets: int, network: str = "hidden_sizes"
) -> None:
    """Refuse networks and memories larger than the machine before anything is allocated.

    A network's ``params`` are counted ``4 * nets`` times (weights, gradients and Adam's two
    moments of each of ``nets`` networks); a memory row holds ``obs`` and ``obs_next`` as float32,
    two action masks and a few scalars.
    """
    check_allocation(network, 4.0 * params * 4 * nets, f"a network of {params:,} parameters")
    check_allocation("buffer_size", buffer_size * (8.0 * obs_dim + 2 * n_actions + 32), f"{buffer_size:,} transitions")


def dqn_agent(
    observation_space: gym.Space,
    action_space: gym.Space,
    *,
    config: DQNConfig | None = None,
    seed: int | None = None,
    name: str = "dqn",
    **overrides: Any,
) -> OffPolicyLearner:
    """A DQN learner for a seat with these spaces (``overrides`` are :class:`DQNConfig` fields)."""
    cfg: DQNConfig = config_with(DQNConfig, config, overrides)
    obs_dim, n_actions = flat_obs_dim(observation_space), check_discrete(action_space)
    board = _board_shape(observation_space) if cfg.conv_channels else None
    if board is None:
        params = _mlp_parameters(obs_dim, cfg.hidden_sizes, n_actions)
    else:
        params = board_qnet_parameters(
            board, cfg.conv_channels, cfg.hidden_sizes, n_actions, cfg.dueling, cfg.conv_kernel, cfg.conv_padding
        )
    network = "hidden_sizes" if board is None else "conv_channels / hidden_sizes"
    _check_sizes(obs_dim, n_actions, params, cfg.buffer_size, nets=2, network=network)
    rng = np.random.default_rng(seed)
    with isolated_global_rng(rng):
        net: torch.nn.Module
        if board is not None:
            net = BoardQNet(
                board,
                cfg.conv_channels,
                cfg.hidden_sizes,
                n_actions,
                dueling=cfg.dueling,
                kernel=cfg.conv_kernel,
                padding=cfg.conv_padding,
            )
        else:
            dueling = ({"hidden_sizes": cfg.hidden_sizes[-1:]}, {"hidden_sizes": cfg.hidden_sizes[-1:]})
            net = Net(
                state_shape=obs_dim,
                action_shape=n_actions,
                hidden_sizes=cfg.hidden_sizes,
                dueling_param=dueling if cfg.dueling else None,
            )
        policy = QPolicy(model=net, action_space=action_space)
        algorithm = StreamDQN(
            policy=policy,
            optim=AdamOptimizerFactory(lr=cfg.lr),
            gamma=cfg.gamma,
            n_step_return_horizon=cfg.n_step,
            target_update_freq=cfg.target_update_freq,
            is_double=cfg.double,
        )
    return OffPolicyLearner(
        algorithm,
        observation_space,
        action_space,
        buffer_size=cfg.buffer_size,
        prioritized=(cfg.alpha, cfg.beta) if cfg.prioritized else None,
        epsilon=cfg.epsilon,
        mirror=cfg.mirror,
        seed=int(rng.integers(0, 2**62)),
        name=name,
        device=cfg.device,
    )


def ppo_agent(
    observation_space: gym.Space,
    action_space: gym.Space,
    *,
    config: PPOConfig | None = None,
    seed: int | None = None,
    name: str = "ppo",
    **overrides: Any,
) -> OnPolicyLearner:
    """A PPO (or A2C) learner with a masked actor (``overrides`` are :class:`PPOConfig` fields)."""
    cfg: PPOConfig = config_with(PPOConfig, config, overrides)
    obs_dim, n_actions = flat_obs_dim(observation_space), check_discrete(action_space)
    _check_sizes(obs_dim, n_actions, _mlp_parameters(obs_dim, cfg.hidden_sizes, n_actions), cfg.buffer_size, nets=2)
    rng = np.random.default_rng(seed)
    with isolated_global_rng(rng):
        actor = MaskedActor(obs_dim, n_actions, cfg.hidden_sizes)
        critic = ValueCritic(obs_dim, cfg.hidden_sizes)
        policy = ActorPolicy(actor=actor, action_space=action_space)  # type: ignore[arg-type]
        common: dict[str, Any] = {
            "policy": policy,
            "critic": critic,
            "optim": AdamOptimizerFactory(lr=cfg.lr),
            "gamma": cfg.gamma,
            "gae_lambda": cfg.gae_lambda,
            "ent_coef": cfg.ent_coef,
            "vf_coef": cfg.vf_coef,
            "max_grad_norm": cfg.max_grad_norm,
        }
        algorithm = PPO(eps_clip=cfg.eps_clip, **common) if cfg.algorithm == "ppo" else A2C(**common)
    return OnPolicyLearner(
        algorithm,
        observation_space,
        action_space,
        buffer_size=cfg.buffer_size,
        repeat=cfg.repeat,
        seed=int(rng.integers(0, 2**62)),
        name=name,
        device=cfg.device,
    )
