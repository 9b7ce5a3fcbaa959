"""Small torch networks for the builders: MLPs that read the ``Batch(obs, mask)`` layout, and a
convolutional Q-network for board observations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["BoardQNet", "MaskedActor", "PolicyValueNet", "ValueCritic", "board_qnet_parameters", "mask_logits", "mlp"]

_MASKED_LOGIT = -1e9


def mlp(in_dim: int, hidden_sizes: Sequence[int], out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    last = in_dim
    for size in hidden_sizes:
        layers += [nn.Linear(last, size), nn.ReLU()]
        last = size
    layers.append(nn.Linear(last, out_dim))
    return nn.Sequential(*layers)


def mask_logits(logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """Push illegal actions' logits to -1e9 (probability zero); a row with no legal action is left alone."""
    legal = legal | ~legal.any(dim=1, keepdim=True)
    return logits.masked_fill(~legal, _MASKED_LOGIT)


def _obs_and_mask(obs: Any, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The observation (flattened) and legal-action mask of a ``Batch(obs, mask)``, on ``device``."""
    if hasattr(obs, "obs"):
        x, mask = obs.obs, getattr(obs, "mask", None)
    else:
        x, mask = obs, None
    x_t = torch.as_tensor(x, dtype=torch.float32, device=device)
    mask_t = None if mask is None else torch.as_tensor(mask, device=device) > 0
    return x_t.reshape(x_t.shape[0], -1), mask_t


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


class MaskedActor(nn.Module):
    """Logits over actions with illegal actions pushed to -1e9 (probability zero).

    Tianshou's discrete actors ignore action masks; PPO/A2C on games with masks need this one
    so that sampling, log-probabilities and entropy only ever see legal actions.
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden_sizes, n_actions)
        self.n_actions = n_actions

    def get_output_dim(self) -> int:
        return self.n_actions

    def forward(self, obs: Any, state: Any = None, info: Any = None) -> tuple[torch.Tensor, Any]:
        x, legal = _obs_and_mask(obs, _device(self))
        logits = self.net(x)
        if legal is not None:
            logits = mask_logits(logits, legal)
        return logits, state


class ValueCritic(nn.Module):
    """State value V(s) of the ``obs`` part of a ``Batch(obs, mask)``."""

    def __init__(self, obs_dim: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden_sizes, 1)

    def forward(self, obs: Any, state: Any = None, info: Any = None) -> torch.Tensor:
        x, _ = _obs_and_mask(obs, _device(self))
        return self.net(x)


def _conv_trunk(in_channels: int, channels: Sequence[int], kernel: int, padding: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    last = in_channels
    for width in channels:
        layers += [nn.Conv2d(last, width, kernel_size=kernel, padding=padding), nn.ReLU()]
        last = width
    return nn.Sequential(*layers)


def _conv_output_shape(board_shape: tuple[int, int, int], layers: int, kernel: int, padding: int) -> tuple[int, int]:
    """``(height, width)`` of the feature maps after ``layers`` convolutions of side ``kernel`` with
    ``padding`` zero cells on each side; a ``ValueError`` when the board is too small for them."""
    height, width = board_shape[:2]
    shrink = layers * (kernel - 1 - 2 * padding)
    if height - shrink < 1 or width - shrink < 1:
        raise ValueError(
            f"conv_kernel={kernel} with conv_padding={padding} leaves no cell of a {height}x{width} board after "
            f"{layers} convolution(s); use a smaller conv_kernel, more conv_padding or fewer conv_channels"
        )
    return height - shrink, width - shrink


class BoardQNet(nn.Module):
    """Q-values of a board observation: convolutions (ReLU; 3x3 with padding 1 unless ``kernel`` /
    ``padding`` say otherwise) over the board, then fully connected hidden layers, then one Q-value
    per action (or dueling value/advantage heads).

    ``board_shape`` is the observation's ``(height, width, planes)``; the network takes rows of
    the flattened observation (as the learners store them) and restores the board itself. Called
    as Tianshou calls a Q-model: ``forward(obs, state, info) -> (q_values, state)``.
    """

    def __init__(
        self,
        board_shape: tuple[int, int, int],
        channels: Sequence[int],
        hidden_sizes: Sequence[int],
        n_actions: int,
        dueling: bool = False,
        kernel: int = 3,
        padding: int = 1,
    ) -> None:
        super().__init__()
        height, width, planes = board_shape
        self.board_shape = (height, width, planes)
        self.conv = _conv_trunk(planes, channels, kernel, padding)
        out_height, out_width = _conv_output_shape(self.board_shape, len(channels), kernel, padding)
        features = out_height * out_width * (channels[-1] if channels else planes)
        if dueling:  # as Tianshou's dueling Net: both heads have one hidden layer of the last width
            trunk = mlp(features, hidden_sizes[:-1], hidden_sizes[-1]) if hidden_sizes else nn.Sequential()
            self.trunk = nn.Sequential(nn.Flatten(), *trunk, *([nn.ReLU()] if hidden_sizes else []))
            head_in = hidden_sizes[-1] if hidden_sizes else features
            self.advantage: nn.Module | None = mlp(head_in, hidden_sizes[-1:], n_actions)
            self.value: nn.Module | None = mlp(head_in, hidden_sizes[-1:], 1)
        else:
            self.trunk = nn.Sequential(nn.Flatten(), *mlp(features, hidden_sizes, n_actions))
            self.advantage = self.value = None
        self.n_actions = n_actions

    def get_output_dim(self) -> int:
        return self.n_actions

    def forward(self, obs: Any, state: Any = None, info: Any = None) -> tuple[torch.Tensor, Any]:
        x, _ = _obs_and_mask(obs, _device(self))
        board = x.reshape(x.shape[0], *self.board_shape).permute(0, 3, 1, 2)
        out = self.trunk(self.conv(board))
        if self.advantage is None or self.value is None:
            return out, state
        advantage = self.advantage(out)
        return self.value(out) + advantage - advantage.mean(dim=1, keepdim=True), state


def board_qnet_parameters(
    board_shape: tuple[int, int, int],
    channels: Sequence[int],
    hidden_sizes: Sequence[int],
    n_actions: int,
    dueling: bool,
    kernel: int = 3,
    padding: int = 1,
) -> int:
    """Number of parameters of a :class:`BoardQNet`, counted on the meta device (nothing is
    allocated and no random number is drawn), so that a size check can run before building it."""
    with torch.device("meta"):
        net = BoardQNet(board_shape, channels, hidden_sizes, n_actions, dueling=dueling, kernel=kernel, padding=padding)
    return sum(p.numel() for p in net.parameters())


class PolicyValueNet(nn.Module):
    """A policy and a value from one trunk, for planning learners.

    Board observations ``(height, width, planes)`` go through a 3x3 convolution to ``channels``
    and ``blocks`` residual blocks (two 3x3 convolutions each); other observations through an MLP
    of ``(hidden, hidden)``. The policy head gives one logit per action; the value head a value in
    [-1, 1] (tanh) for the player who observes.
    """

    def __init__(
        self, obs_shape: tuple[int, ...], n_actions: int, channels: int = 64, blocks: int = 2, hidden: int = 128
    ) -> None:
        super().__init__()
        self.obs_shape = tuple(obs_shape)
        self.board = len(self.obs_shape) == 3 and channels > 0
        if self.board:
            height, width, planes = self.obs_shape
            self.stem = nn.Sequential(nn.Conv2d(planes, channels, 3, padding=1), nn.ReLU())
            self.blocks = nn.ModuleList(
                nn.Sequential(
                    nn.Conv2d(channels, channels, 3, padding=1),
                    nn.ReLU(),
                    nn.Conv2d(channels, channels, 3, padding=1),
                )
                for _ in range(blocks)
            )
            features = channels * height * width
        else:
            in_dim = 1
            for n in self.obs_shape:
                in_dim *= int(n)
            self.stem = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
            self.blocks = nn.ModuleList()
            features = hidden
        self.policy_head = nn.Linear(features, n_actions)
        self.value_head = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, 1), nn.Tanh())

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, value)`` of a batch of observations (``value``: shape ``(batch,)``)."""
        if self.board:
            x = self.stem(obs.permute(0, 3, 1, 2))
            for block in self.blocks:
                x = torch.relu(x + block(x))
            x = x.flatten(1)
        else:
            x = self.stem(obs.flatten(1))
        return self.policy_head(x), self.value_head(x).squeeze(1)
