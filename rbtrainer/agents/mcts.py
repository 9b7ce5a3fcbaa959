"""Monte-Carlo tree search over many positions at once, guided by a policy and a value.

:func:`run_search` grows one tree per root position, all in NumPy arrays (``roots x nodes x
actions``), and runs the simulations of every tree in lock step: each simulation descends every
tree by PUCT (AlphaZero's rule: ``Q + c * P * sqrt(N) / (1 + N)``), expands one new node per tree
with the game's rules, asks ``evaluate`` once for the priors and values of all the new nodes
together (one network call per simulation for the whole batch), and backs the values up. The
games are two-player, alternating and zero-sum (:class:`SearchRules`): a value is always the
mover's, so it changes sign from one level to the next.

The search is written here rather than taken from a library: the field's batched searches are
JAX programs (``mctx``) or frameworks with their own trainers and C++ trees (LightZero), and
neither plugs into a PyTorch learner that fills a seat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["SearchResult", "SearchRules", "run_search"]


class SearchRules(Protocol):
    """The rules a search plays by: a two-player, alternating, zero-sum game with perfect information,
    on positions seen by the player to move (one row per position)."""

    num_actions: int

    def positions(self, observations: np.ndarray) -> np.ndarray:
        """The positions the movers' observations show."""
        ...

    def observations(self, positions: np.ndarray) -> np.ndarray:
        """What the mover of each position observes (what the network reads)."""
        ...

    def legal(self, positions: np.ndarray) -> np.ndarray:
        """Boolean legal moves (positions x actions)."""
        ...

    def play(self, positions: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The next positions (the next mover's view), the mover's reward and whether the game is over."""
        ...


Evaluate = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``evaluate(positions, legal) -> (priors, values)``: move probabilities over the legal moves
(positions x actions, zero elsewhere) and the mover's value in [-1, 1] of each position."""


@dataclass(frozen=True)
class SearchResult:
    """What the search found at each root."""

    visits: np.ndarray
    """Visits of each root move (roots x actions, float32)."""
    value: np.ndarray
    """The mover's mean value at each root over the simulations."""


def _noisy(
    priors: np.ndarray, legal: np.ndarray, rows: np.ndarray, alpha: float, fraction: float, rng: np.random.Generator
) -> None:
    """Mix Dirichlet noise into the priors of ``rows`` (over their legal moves), in place."""
    if not rows.any() or fraction <= 0:
        return
    idx = np.flatnonzero(rows)
    noise = rng.gamma(alpha, 1.0, size=(len(idx), priors.shape[1])) * legal[idx]
    noise /= np.maximum(noise.sum(axis=1, keepdims=True), 1e-12)
    priors[idx] = (1 - fraction) * priors[idx] + fraction * noise


def run_search(
    rules: SearchRules,
    evaluate: Evaluate,
    roots: np.ndarray,
    simulations: int,
    *,
    c_puct: float = 1.5,
    noise: np.ndarray | None = None,
    dirichlet_alpha: float = 0.5,
    noise_fraction: float = 0.25,
    rng: np.random.Generator | None = None,
) -> SearchResult:
    """``simulations`` simulations from each of ``roots`` (positions, none of them over).

    ``noise``: per root, whether Dirichlet noise (``dirichlet_alpha``, weight ``noise_fraction``) is
    mixed into its priors, drawn from ``rng`` (exploration while collecting).
    """
    num_roots = len(roots)
    actions = rules.num_actions
    capacity = simulations + 1
    positions = np.zeros((num_roots, capacity, roots.shape[1]), dtype=roots.dtype)
    children = np.full((num_roots, capacity, actions), -1, dtype=np.int64)
    priors = np.zeros((num_roots, capacity, actions), dtype=np.float32)
    visits = np.zeros((num_roots, capacity, actions), dtype=np.float32)
    value_sum = np.zeros((num_roots, capacity, actions), dtype=np.float32)
    rewards = np.zeros((num_roots, capacity, actions), dtype=np.float32)
    legal = np.zeros((num_roots, capacity, actions), dtype=bool)
    over = np.zeros((num_roots, capacity), dtype=bool)
    count = np.ones(num_roots, dtype=np.int64)
    every = np.arange(num_roots)

    positions[:, 0] = roots
    legal[:, 0] = rules.legal(roots)
    root_priors, _ = evaluate(roots, legal[:, 0])
    root_priors = root_priors.astype(np.float32, copy=True)
    if noise is not None and rng is not None:
        _noisy(root_priors, legal[:, 0], np.asarray(noise, dtype=bool), dirichlet_alpha, noise_fraction, rng)
    priors[:, 0] = root_priors

    path_nodes = np.zeros((num_roots, capacity), dtype=np.int64)
    path_actions = np.zeros((num_roots, capacity), dtype=np.int64)
    for _ in range(simulations):
        node = np.zeros(num_roots, dtype=np.int64)
        length = np.zeros(num_roots, dtype=np.int64)
        leaf_action = np.zeros(num_roots, dtype=np.int64)
        expand = np.zeros(num_roots, dtype=bool)
        active = every
        depth = 0
        while len(active):  # descend every tree that has not reached a leaf yet
            n = node[active]
            visit = visits[active, n]
            total = visit.sum(axis=1, keepdims=True)
            q = np.divide(value_sum[active, n], visit, out=np.zeros_like(visit), where=visit > 0)
            score = q + c_puct * priors[active, n] * np.sqrt(total + 1.0) / (1.0 + visit)
            action = np.where(legal[active, n], score, -np.inf).argmax(axis=1)
            path_nodes[active, depth] = n
            path_actions[active, depth] = action
            child = children[active, n, action]
            new = child < 0
            stop = new | over[active, np.maximum(child, 0)]
            done = active[stop]
            length[done] = depth + 1
            leaf_action[done] = action[stop]
            expand[active[new]] = True
            node[active[~stop]] = child[~stop]
            active = active[~stop]
            depth += 1

        # expand one new node in each tree whose descent left the tree
        leaf_value = np.zeros(num_roots, dtype=np.float32)  # the value of the leaf for its mover; 0 at game ends
        grow = np.flatnonzero(expand)
        if len(grow):
            parent = path_nodes[grow, length[grow] - 1]
            action = leaf_action[grow]
            nxt, reward, ended = rules.play(positions[grow, parent], action)
            slot = count[grow]
            count[grow] += 1
            positions[grow, slot] = nxt
            children[grow, parent, action] = slot
            rewards[grow, parent, action] = reward
            over[grow, slot] = ended
            alive = ~ended
            if alive.any():
                rows = grow[alive]
                moves = rules.legal(nxt[alive])
                legal[rows, slot[alive]] = moves
                p, v = evaluate(nxt[alive], moves)
                priors[rows, slot[alive]] = p
                leaf_value[rows] = v

        # back up: an edge's value for its mover is its reward minus the value of the position it leads to
        value = leaf_value
        for d in range(int(length.max()) - 1, -1, -1):
            rows = np.flatnonzero(length > d)
            n, a = path_nodes[rows, d], path_actions[rows, d]
            g = rewards[rows, n, a] - value[rows]
            value_sum[rows, n, a] += g
            visits[rows, n, a] += 1.0
            value[rows] = g

    root_visits = visits[:, 0].copy()
    total = np.maximum(root_visits.sum(axis=1), 1.0)
    return SearchResult(visits=root_visits, value=value_sum[:, 0].sum(axis=1) / total)
