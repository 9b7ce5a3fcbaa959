"""Small torch networks for the builders: MLPs that read the ``Batch(obs, mask)`` layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["MaskedActor", "ValueCritic", "mask_logits", "mlp"]

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
