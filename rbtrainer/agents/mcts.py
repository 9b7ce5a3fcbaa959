"""Monte-Carlo tree search over many positions at once, guided by a policy and a value.

:func:`run_search` grows one tree per root position, all in NumPy arrays (``roots x nodes x
actions``), and runs the simulations of every tree in lock step: each simulation descends every
tree by PUCT (AlphaZero's rule: ``Q + c * P * sqrt(N) / (1 + N)``), expands one new node per tree
with the game's rules, asks ``evaluate`` once for the priors and values of all the new nodes
together (one network call per simulation for the whole batch), and backs the values up. The
games are two-player, alternating and zero-sum (:class:`SearchRules`): a value is always the
mover's, so it changes sign from one level to the next.

With ``solver=True`` the search also proves what it can (MCTS-Solver, Winands et al. 2008): a game
end is a solved node, a node is solved once one of its moves reaches the best value there is (1, a
proven win) or all its moves are solved (its value the best of theirs), and solved values are
backed up instead of estimates. Every root move is tried once before the search, so a win at once
is always seen. The descent stops at solved nodes and never follows a move proven lost while
another is open; where every move is proven lost, the priors guide it as before (an opponent that
is not perfect may still go wrong). At the root, the proofs place the visits: the quickest proven
win takes them all, and proven losses get none while another move is open.

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
    """The mover's mean value at each root over the simulations (its proven value where ``proven``)."""
    proven: np.ndarray
    """Whether the search proved each root's value (bool; only with ``solver``)."""
    q: np.ndarray
    """The mover's mean value of each root move over its simulations (roots x actions, float32; 0 where
    unvisited), its proven value where the solver proved the move."""


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


_WON, _LOST = 1e9, -1e9
"""Scores that make the descent take a proven win and leave a proven loss (above illegal moves' -inf)."""


class _Proofs:
    """What a solver search has proven: per node, whether its value for its mover is known (``solved``)
    and that value (``exact``); per edge, the same seen from the parent (``known``, ``value``: the
    edge's reward minus the child's value), so that a descent reads its node's proofs in one gather,
    and in how many moves the game ends after it if both play by the proof (``edge_plies``: the
    winner hurries, the loser resists). ``legal`` and ``rewards`` are the search's own arrays."""

    def __init__(self, legal: np.ndarray, rewards: np.ndarray, roots: int, capacity: int, actions: int):
        self.legal, self.rewards = legal, rewards
        self.solved = np.zeros((roots, capacity), dtype=bool)
        self.exact = np.zeros((roots, capacity), dtype=np.float32)
        self.known = np.zeros((roots, capacity, actions), dtype=bool)
        self.value = np.zeros((roots, capacity, actions), dtype=np.float32)
        self.edge_plies = np.zeros((roots, capacity, actions), dtype=np.int64)

    def end(self, rows: np.ndarray, parents: np.ndarray, moves: np.ndarray, nodes: np.ndarray) -> None:
        """``nodes`` (reached from ``parents`` by ``moves``) end the game: solved, worth 0."""
        self.solved[rows, nodes] = True
        self.known[rows, parents, moves] = True
        self.value[rows, parents, moves] = self.rewards[rows, parents, moves]
        self.edge_plies[rows, parents, moves] = 1

    def edges(self, rows: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which moves of each node lead to a solved position, and their proven value for the node's mover."""
        return self.known[rows, nodes], self.value[rows, nodes]

    def proof_moves(self, rows: np.ndarray, nodes: np.ndarray, known: np.ndarray, value: np.ndarray) -> np.ndarray:
        """Per node, the move the proof plays among its solved ones: the best value, then the quickest
        win or the slowest loss (or draw); -1 where none is solved."""
        legal = known & self.legal[rows, nodes]
        best = np.where(legal, value, -np.inf).max(axis=1, keepdims=True)
        plies = self.edge_plies[rows, nodes]
        hurry = np.where(best >= 1.0, -plies, plies)
        pick = np.where(legal & (value == best), hurry, np.iinfo(np.int64).min).argmax(axis=1)
        return np.where(legal.any(axis=1), pick, -1)

    @staticmethod
    def steer(known: np.ndarray, value: np.ndarray, legal: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Descent scores with the proofs of :meth:`edges` (``known``, ``value``): take a proven win;
        leave proven losses while another move is open (where all lose, the priors keep guiding)."""
        score = np.where(known & (value >= 1.0), _WON, score)
        lost = known & (value <= -1.0)
        return np.where(lost & (legal & ~lost).any(axis=1, keepdims=True), _LOST, score)

    def settle(
        self, rows: np.ndarray, nodes: np.ndarray, parents: np.ndarray | None, moves: np.ndarray | None
    ) -> np.ndarray:
        """Solve the nodes whose moves now prove their value (reached from ``parents`` by ``moves``;
        None for roots); which of them were solved just now."""
        known, value = self.edges(rows, nodes)
        legal = self.legal[rows, nodes]
        won = (known & legal & (value >= 1.0)).any(axis=1)
        full = (known | ~legal).all(axis=1)
        now = (won | full) & ~self.solved[rows, nodes]
        if not now.any():
            return now
        rows, nodes, known, value = rows[now], nodes[now], known[now], value[now]
        move = self.proof_moves(rows, nodes, known, value)
        exact = value[np.arange(len(rows)), move]
        plies = self.edge_plies[rows, nodes, move]
        self.solved[rows, nodes] = True
        self.exact[rows, nodes] = exact
        if parents is not None and moves is not None:  # the edge into each: its reward minus the node's value
            parents, moves = parents[now], moves[now]
            self.known[rows, parents, moves] = True
            self.value[rows, parents, moves] = self.rewards[rows, parents, moves] - exact
            self.edge_plies[rows, parents, moves] = plies + 1
        return now

    def prove_paths(
        self, path_nodes: np.ndarray, path_actions: np.ndarray, length: np.ndarray, leaf_child: np.ndarray
    ) -> None:
        """After a simulation: from each solved leaf up its path, solve the nodes that are now solved."""
        rising = (leaf_child >= 0) & self.solved[np.arange(len(leaf_child)), np.maximum(leaf_child, 0)]
        for d in range(int(length.max()) - 1, -1, -1):
            if not rising.any():
                return
            rows = np.flatnonzero(rising & (length > d))
            if len(rows):
                above = (path_nodes[rows, d - 1], path_actions[rows, d - 1]) if d else (None, None)
                now = self.settle(rows, path_nodes[rows, d], *above)
                rising[rows[~now]] = False  # the rows deeper down keep rising until their depth

    def apply_at_roots(self, visits: np.ndarray, value: np.ndarray, priors: np.ndarray) -> np.ndarray:
        """Put the root visits where the proofs say (in place) and return the roots' values, proven ones exact."""
        every = np.arange(len(visits))
        root = np.zeros(len(visits), dtype=np.int64)
        known, edge = self.edges(every, root)
        legal = self.legal[:, 0]
        lost = known & legal & (edge <= -1.0)
        won = (known & legal & (edge >= 1.0)).any(axis=1)
        decided = np.flatnonzero(won)
        if len(decided):  # all the visits on the quickest proven win
            move = self.proof_moves(decided, root[decided], known[decided], edge[decided])
            total = np.maximum(visits[decided].sum(axis=1), 1.0)
            visits[decided] = 0.0
            visits[decided, move] = total
        spare = np.flatnonzero(~won & (legal & ~lost).any(axis=1) & lost.any(axis=1))
        if len(spare):  # no visits on proven losses while another move is open
            visits[spare] = np.where(lost[spare], 0.0, visits[spare])
            empty = spare[visits[spare].sum(axis=1) == 0]
            if len(empty):  # every visit had gone to moves now proven lost: the best prior among the others
                pick = np.where(legal[empty] & ~lost[empty], priors[empty], -1.0).argmax(axis=1)
                visits[empty, pick] = 1.0
        return np.where(self.solved[:, 0], self.exact[:, 0], value)


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
    solver: bool = False,
) -> SearchResult:
    """``simulations`` simulations from each of ``roots`` (positions, none of them over).

    ``noise``: per root, whether Dirichlet noise (``dirichlet_alpha``, weight ``noise_fraction``) is
    mixed into its priors, drawn from ``rng`` (exploration while collecting). ``solver``: prove wins,
    losses and draws where the tree reaches them (module docstring); the values must lie in [-1, 1].
    """
    num_roots = len(roots)
    actions = rules.num_actions
    capacity = simulations + 1 + (actions if solver else 0)  # the solver also adds the roots' game ends
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
    tree = _Proofs(legal, rewards, num_roots, capacity, actions) if solver else None

    positions[:, 0] = roots
    legal[:, 0] = rules.legal(roots)
    root_priors, _ = evaluate(roots, legal[:, 0])
    root_priors = root_priors.astype(np.float32, copy=True)
    if noise is not None and rng is not None:
        _noisy(root_priors, legal[:, 0], np.asarray(noise, dtype=bool), dirichlet_alpha, noise_fraction, rng)
    priors[:, 0] = root_priors
    if tree is not None:  # every root move tried once: the games it ends are solved before the search starts
        row, move = np.nonzero(legal[:, 0])
        nxt, reward, ended = rules.play(roots[row], move)
        row, move, nxt, reward = row[ended], move[ended], nxt[ended], reward[ended]
        slot = count[row] + np.arange(len(row)) - np.searchsorted(row, row)
        count += np.bincount(row, minlength=num_roots)
        positions[row, slot] = nxt
        children[row, 0, move] = slot
        rewards[row, 0, move] = reward
        over[row, slot] = True
        tree.end(row, np.zeros_like(row), move, slot)
        tree.settle(every, np.zeros(num_roots, dtype=np.int64), None, None)

    path_nodes = np.zeros((num_roots, capacity), dtype=np.int64)
    path_actions = np.zeros((num_roots, capacity), dtype=np.int64)
    for _ in range(simulations):
        node = np.zeros(num_roots, dtype=np.int64)
        length = np.zeros(num_roots, dtype=np.int64)
        leaf_action = np.zeros(num_roots, dtype=np.int64)
        leaf_child = np.full(num_roots, -1, dtype=np.int64)
        expand = np.zeros(num_roots, dtype=bool)
        active = every
        depth = 0
        while len(active):  # descend every tree that has not reached a leaf yet
            n = node[active]
            visit = visits[active, n]
            total = visit.sum(axis=1, keepdims=True)
            q = np.divide(value_sum[active, n], visit, out=np.zeros_like(visit), where=visit > 0)
            if tree is not None:  # proven values instead of estimates
                known, proven = tree.edges(active, n)
                q = np.where(known, proven, q)
            score = q + c_puct * priors[active, n] * np.sqrt(total + 1.0) / (1.0 + visit)
            if tree is not None:
                score = tree.steer(known, proven, legal[active, n], score)
            action = np.where(legal[active, n], score, -np.inf).argmax(axis=1)
            path_nodes[active, depth] = n
            path_actions[active, depth] = action
            child = children[active, n, action]
            new = child < 0
            stop = new | over[active, np.maximum(child, 0)]
            if tree is not None:
                stop |= known[np.arange(len(active)), action]  # a solved position: its value is known
            done = active[stop]
            length[done] = depth + 1
            leaf_action[done] = action[stop]
            leaf_child[done] = child[stop]
            expand[active[new]] = True
            node[active[~stop]] = child[~stop]
            active = active[~stop]
            depth += 1

        # expand one new node in each tree whose descent left the tree
        leaf_value = np.zeros(num_roots, dtype=np.float32)  # the value of the leaf for its mover; 0 at game ends
        if tree is not None:  # a solved leaf already in the tree: its proven value
            known = np.flatnonzero(leaf_child >= 0)
            leaf_value[known] = tree.exact[known, leaf_child[known]]
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
            if tree is not None:
                tree.end(grow[ended], parent[ended], action[ended], slot[ended])
                leaf_child[grow] = slot
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
        if tree is not None:
            tree.prove_paths(path_nodes, path_actions, length, leaf_child)

    root_visits = visits[:, 0].copy()
    total = np.maximum(root_visits.sum(axis=1), 1.0)
    root_value = value_sum[:, 0].sum(axis=1) / total
    root_q = np.divide(value_sum[:, 0], visits[:, 0], out=np.zeros_like(root_visits), where=visits[:, 0] > 0)
    proven = np.zeros(num_roots, dtype=bool)
    if tree is not None:
        known, edge = tree.edges(every, np.zeros(num_roots, dtype=np.int64))
        root_q = np.where(known, edge, root_q)
        root_value = tree.apply_at_roots(root_visits, root_value, priors[:, 0])
        proven = tree.solved[:, 0].copy()
    return SearchResult(visits=root_visits, value=root_value, proven=proven, q=root_q)
