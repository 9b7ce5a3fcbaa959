"""A learner that plans with the game's rules (AlphaZero-style), and agents that only search.

:class:`PlanningLearner` fills a seat like any learner. To act, it reads the position from each
row's observation, runs :func:`~rbtrainer.agents.mcts.run_search` from all of them at once (one
network call per simulation for the whole batch) and plays the most visited move, or, on exploring
seats in the first ``sample_moves`` moves of a game, a move drawn in proportion to the visits (with
Dirichlet noise at the root); in the first ``random_moves`` moves (0 by default), a uniformly random
legal move. With ``trap_margin`` (:func:`set_traps`), rows that do not explore play, among the moves
worth about as much as the most visited one, the one after which the opponent goes wrong most often.
It learns from its own search: each position it acted in is stored with the search's visit
distribution as the policy target and the seat's return from there to the end of the game as the
value target (mixed with the search's value at the root by ``search_value_weight``); positions other
agents played (shared memory, env groups, leagues) train the value only. Positions are matched to
their search by the observation's bytes.

It plans in games whose env offers ``search_rules()`` (:class:`~rbtrainer.agents.mcts.SearchRules`:
two players, alternating, zero-sum, perfect information, the position readable from the mover's
observation): tic-tac-toe and connect four. :func:`search_rules_of` refuses other games with the
reason. :class:`SearchAgent` plays by search alone: with a frozen network (``frozen()``, league
snapshots) or with random play-outs instead of a network (the ``mcts:N`` agent spec).
"""

from __future__ import annotations

import copy
import dataclasses
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rbtrainer.agents.base import Agent, Learner, check_discrete, observation_box
from rbtrainer.agents.builders import config_with
from rbtrainer.agents.device import resolve_device
from rbtrainer.agents.mcts import Evaluate, SearchRules, run_search
from rbtrainer.agents.networks import PolicyValueNet, mask_logits
from rbtrainer.config import PlanningConfig, SearchSettings
from rbtrainer.rng import isolated_global_rng
from rbtrainer.validation import positive_int

__all__ = [
    "PlanningConfig",
    "PlanningLearner",
    "SearchAgent",
    "SearchSettings",
    "planning_agent",
    "rollout_evaluator",
    "rules_from_game",
    "search_rules_of",
]

_TARGETS_KEPT = 50_000
"""Search results kept for positions not stored yet (the oldest are dropped first)."""


def search_rules_of(game: Any) -> SearchRules:
    """The search rules a game's env offers (``search_rules()``), or ``ValueError`` saying why it has none.

    ``game``: a PettingZoo env (wrapped or not), e.g. ``trainer.make_game()``.
    """
    env = getattr(game, "unwrapped", game)
    offer = getattr(env, "search_rules", None)
    if not callable(offer):
        name = getattr(env, "metadata", {}).get("name", type(env).__name__)
        raise ValueError(
            f"game {name!r} offers no rules to plan with: a planning agent needs an env with search_rules() "
            "(two players who alternate, zero-sum, perfect information, the position readable from the "
            "mover's observation), as tic-tac-toe and connect four have; train a DQN or PPO learner instead"
        )
    rules: SearchRules = offer()
    return rules


def rules_from_game(make_game: Callable[[], Any]) -> SearchRules:
    """The search rules of a game made by ``make_game`` (e.g. ``trainer.make_game``), which is closed
    again; ``ValueError`` as :func:`search_rules_of` when it has none."""
    game = make_game()
    try:
        return search_rules_of(game)
    finally:
        game.close()


# ------------------------------------------------------------------------------ evaluators
def network_evaluator(net: PolicyValueNet, rules: SearchRules, device: torch.device) -> Evaluate:
    """Priors (the network's masked softmax) and values of positions, one forward pass per call."""

    def evaluate(positions: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        obs = torch.as_tensor(rules.observations(positions), device=device)
        with torch.no_grad():
            logits, value = net(obs)
            logits = mask_logits(logits, torch.as_tensor(legal, device=device))
            priors = torch.softmax(logits, dim=1)
        return priors.cpu().numpy(), value.cpu().numpy()

    return evaluate


def rollout_evaluator(rules: SearchRules, rng: np.random.Generator) -> Evaluate:
    """Uniform priors over the legal moves and the result of one random play-out per position
    (the classic Monte-Carlo tree search, without a network)."""

    def evaluate(positions: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        priors = legal / np.maximum(legal.sum(axis=1, keepdims=True), 1)
        value = np.zeros(len(positions), dtype=np.float32)
        current, alive, sign = positions.copy(), np.arange(len(positions)), 1.0
        while len(alive):
            moves = rules.legal(current)
            pick = np.argmax(np.where(moves, rng.random(moves.shape), -1.0), axis=1)
            current, reward, over = rules.play(current, pick)
            value[alive] += sign * reward
            current, alive, sign = current[~over], alive[~over], -sign
        return priors.astype(np.float32), value

    return evaluate


# ------------------------------------------------------------------------------ acting
def _moves_played(rules: SearchRules, positions: np.ndarray) -> np.ndarray:
    count = getattr(rules, "moves_played", None)
    return count(positions) if callable(count) else np.zeros(len(positions), dtype=np.int64)


def plan(
    rules: SearchRules,
    evaluate: Evaluate,
    obs: np.ndarray,
    mask: np.ndarray,
    explore: np.ndarray,
    settings: SearchSettings,
    rng: np.random.Generator,
    who: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The moves (int64), the search's visit distributions and its values at the roots (the mover's)
    for a batch of observations.

    Raises ``ValueError`` naming ``who`` when a row's action mask is not the legal moves of the
    position its observation shows (the agent is seated in a game of other rules).
    """
    positions = rules.positions(obs)
    legal = rules.legal(positions)
    if not np.array_equal(legal, mask > 0):
        row = int(np.flatnonzero((legal != (mask > 0)).any(axis=1))[0])
        raise ValueError(
            f"agent {who!r}: the action mask of row {row} ({np.flatnonzero(mask[row]).tolist()}) is not the legal "
            f"moves of the position it observes ({np.flatnonzero(legal[row]).tolist()}); it plans with the rules "
            "of another game, or acts for a seat that is not to move"
        )
    explore = np.asarray(explore, dtype=bool)
    simulations = settings.simulations
    if settings.play_simulations is not None and not explore.any():
        simulations = settings.play_simulations
    result = run_search(
        rules,
        evaluate,
        positions,
        simulations,
        c_puct=settings.c_puct,
        noise=explore,
        dirichlet_alpha=settings.dirichlet_alpha,
        noise_fraction=settings.noise_fraction,
        rng=rng,
        solver=settings.solver,
    )
    policy = result.visits / np.maximum(result.visits.sum(axis=1, keepdims=True), 1.0)
    actions = result.visits.argmax(axis=1).astype(np.int64)
    if settings.trap_margin > 0 and not explore.all():
        rows = np.flatnonzero(~explore)
        actions[rows] = set_traps(
            rules, evaluate, positions[rows], legal[rows], result.visits[rows], result.q[rows], settings, simulations
        )
    played = _moves_played(rules, positions)
    sample = explore & (played < settings.sample_moves)
    if sample.any():
        rows = np.flatnonzero(sample)
        cumulative = policy[rows].cumsum(axis=1)
        draws = rng.random(len(rows))[:, None] * cumulative[:, -1:]
        actions[rows] = np.minimum((cumulative <= draws).sum(axis=1), rules.num_actions - 1)
    opening = explore & (played < settings.random_moves)
    if opening.any():
        rows = np.flatnonzero(opening)
        actions[rows] = np.argmax(np.where(legal[rows], rng.random((len(rows), rules.num_actions)), -1.0), axis=1)
    return actions, policy.astype(np.float32), result.value.astype(np.float32)


def _replies(rules: SearchRules, evaluate: Evaluate, positions: np.ndarray, depth: int) -> np.ndarray:
    """Per position (the opponent to move): the mean, over every reply, of the value after it for the
    player who is not to move; ``depth`` replies deep, that player taking its best move in between."""
    which, reply = np.nonzero(rules.legal(positions))
    after, reward, over = rules.play(positions[which], reply)
    value = -reward.astype(np.float64)
    live = np.flatnonzero(~over)
    if len(live):
        if depth == 1:
            value[live] += evaluate(after[live], rules.legal(after[live]))[1]
        else:
            value[live] += _best_move(rules, evaluate, after[live], depth - 1)
    return np.bincount(which, weights=value, minlength=len(positions)) / np.bincount(which, minlength=len(positions))


def _best_move(rules: SearchRules, evaluate: Evaluate, positions: np.ndarray, depth: int) -> np.ndarray:
    """Per position: the mover's best, over its moves, of :func:`_replies` after them."""
    which, move = np.nonzero(rules.legal(positions))
    after, reward, over = rules.play(positions[which], move)
    value = reward.astype(np.float64)
    live = np.flatnonzero(~over)
    if len(live):
        value[live] += _replies(rules, evaluate, after[live], depth)
    best = np.full(len(positions), -np.inf)
    np.maximum.at(best, which, value)
    return best


def set_traps(
    rules: SearchRules,
    evaluate: Evaluate,
    positions: np.ndarray,
    legal: np.ndarray,
    visits: np.ndarray,
    q: np.ndarray,
    settings: SearchSettings,
    simulations: int,
) -> np.ndarray:
    """The move of each position by ``trap_margin`` (:class:`SearchSettings`), given the search's root
    ``visits`` and mean values ``q`` (:class:`~rbtrainer.agents.mcts.SearchResult`).

    Candidates: the most visited move, and every move whose mean value is within the margin of its
    and stays so when searched on its own, with the solver (``trap_check_simulations``, or
    ``simulations``, from the position it leads to; a move the search hardly visited may hide a
    loss). Among them, the one with the best mean value over the opponent's replies, ``trap_depth``
    replies deep (:func:`_replies`); ties go to the most visited. Only the moves that score above the
    most visited one are searched again (no other can be played). A most visited move worth 1 (a win)
    is kept."""
    margin = settings.trap_margin
    every = np.arange(len(positions))
    chosen = visits.argmax(axis=1)
    best = q[every, chosen]
    near = legal & (visits > 0) & (q >= best[:, None] - margin) & (best < 1.0)[:, None]
    near[every, chosen] = True
    row, move = np.nonzero(near)
    after, reward, over = rules.play(positions[row], move)
    score = np.full(legal.shape, -np.inf)
    score[row, move] = reward
    live = np.flatnonzero(~over)
    if len(live):
        score[row[live], move[live]] += _replies(rules, evaluate, after[live], settings.trap_depth)
    own = score[every, chosen]
    near &= score > own[:, None]  # only these can take the most visited move's place
    rival = near[row, move]
    if rival.any():  # each searched on its own: its value for the mover
        row, move, after, reward, over = row[rival], move[rival], after[rival], reward[rival], over[rival]
        checked = reward.astype(np.float64)
        live = np.flatnonzero(~over)
        if len(live):
            budget = settings.trap_check_simulations or simulations
            check = run_search(rules, evaluate, after[live], budget, c_puct=settings.c_puct, solver=True)
            checked[live] -= check.value
        near[row, move] = checked >= best[row] - margin
    score = np.where(near, score, -np.inf)
    score[every, chosen] = own
    top = score == score.max(axis=1, keepdims=True)
    return np.where(top, visits, -1.0).argmax(axis=1).astype(np.int64)


def _check_board(rules: SearchRules, observation_space: gym.Space, action_space: gym.Space, who: str) -> None:
    n = check_discrete(action_space)
    shape = tuple(observation_box(observation_space).shape)
    expected = tuple(getattr(rules, "observation_shape", shape))
    if n != rules.num_actions or shape != expected:
        raise ValueError(
            f"{who} plans with rules of {rules.num_actions} actions and observations of shape {expected}, but the "
            f"seat has {n} actions and observations of shape {shape}; build it from that game's search_rules()"
        )


class SearchAgent(Agent):
    """An agent that plays by search alone: with a fixed network's priors and values, or with
    random play-outs (``network=None``: plain Monte-Carlo tree search). It never learns."""

    def __init__(
        self,
        rules: SearchRules,
        settings: SearchSettings,
        network: PolicyValueNet | None = None,
        seed: int | None = None,
        name: str = "mcts",
        device: str = "cpu",
        rng: np.random.Generator | None = None,
    ) -> None:
        self.rules = rules
        self.settings = settings
        self.network = network
        self.name = name
        self.device = resolve_device(device)
        self.seed(seed)
        if rng is not None:  # a generator to draw from instead of one seeded by ``seed``
            self._rng = rng

    def seed(self, seed: int | None) -> None:
        self._rng = np.random.default_rng(seed)

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        _check_board(self.rules, observation_space, action_space, self.name)

    def _evaluate(self) -> Evaluate:
        if self.network is None:
            return rollout_evaluator(self.rules, self._rng)
        return network_evaluator(self.network, self.rules, self.device)

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        actions, _, _ = plan(self.rules, self._evaluate(), obs, mask, explore, self.settings, self._rng, self.name)
        return actions

    def state_dict(self) -> dict[str, Any]:
        """The network's weights (empty for a search without a network)."""
        return {} if self.network is None else {"network": self.network.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.network is not None:
            self.network.load_state_dict(state["network"])


class PlanningLearner(Learner):
    """AlphaZero-style learner: search guided by a policy/value network, trained on the search's targets.

    Build it with :func:`planning_agent`. ``update(batch_size, gradient_steps)`` takes that many
    Adam steps on minibatches of stored positions: cross-entropy to the search's visit
    distribution (positions it searched) plus the squared error to the return.
    """

    def __init__(
        self,
        rules: SearchRules,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: PlanningConfig,
        *,
        seed: int | None = None,
        name: str = "planner",
    ) -> None:
        _check_board(rules, observation_space, action_space, name)
        if config.mirror and getattr(rules, "action_mirror", None) is None:
            raise ValueError(
                f"{name}: mirror=True, but these rules offer no mirror image (action_mirror); use mirror=False"
            )
        self.rules = rules
        self.config = config
        self.settings = config.search()
        self.name = name
        self.obs_shape = tuple(int(n) for n in observation_box(observation_space).shape)
        self.n_actions = check_discrete(action_space)
        self.device = resolve_device(config.device)
        self.seed(seed)
        with isolated_global_rng(np.random.default_rng(int(self._rng.integers(0, 2**62)))):
            self.network = PolicyValueNet(self.obs_shape, self.n_actions, config.channels, config.blocks, config.hidden)
        self.network.to(self.device).eval()
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self._targets: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._pending: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray | None, float]]] = {}
        self._memory: dict[str, np.ndarray] | None = None
        self._size = self._next = 0
        self.last_losses: dict[str, float] = {}

    def seed(self, seed: int | None) -> None:
        self._rng = np.random.default_rng(seed)

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        _check_board(self.rules, observation_space, action_space, self.name)

    def run_settings(self) -> dict[str, Any]:
        """The search settings, the network's sizes, the learning rate, weight decay, memory and mirroring."""
        cfg = self.config
        return {
            **{
                k: getattr(self.settings, k)
                for k in ("simulations", "play_simulations", "c_puct", "dirichlet_alpha", "noise_fraction")
            },
            "sample_moves": self.settings.sample_moves,
            "random_moves": self.settings.random_moves,
            "solver": self.settings.solver,
            "trap_margin": self.settings.trap_margin,
            "trap_depth": self.settings.trap_depth,
            "trap_check_simulations": self.settings.trap_check_simulations,
            "lr": self.learning_rate,
            "weight_decay": cfg.weight_decay,
            "search_value_weight": cfg.search_value_weight,
            "buffer_size": cfg.buffer_size,
            "mirror": cfg.mirror,
        }

    @property
    def learning_rate(self) -> float:
        """The optimiser's learning rate."""
        return float(self.optimizer.param_groups[0]["lr"])

    def play_with(self, simulations: int) -> None:
        """Search ``simulations`` per move when it plays without exploring (``play_simulations``);
        training searches keep ``simulations``."""
        self.settings = dataclasses.replace(self.settings, play_simulations=positive_int("simulations", simulations))

    def apply_run_settings(self, settings: dict[str, Any]) -> None:
        if settings.get("lr") is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = float(settings["lr"])

    # ------------------------------------------------------------------ acting
    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        evaluate = network_evaluator(self.network, self.rules, self.device)
        actions, policy, value = plan(self.rules, evaluate, obs, mask, explore, self.settings, self._rng, self.name)
        targets = np.concatenate([policy, value[:, None]], axis=1)  # the visit distribution, then the root's value
        self._remember([(np.ascontiguousarray(row, dtype=np.float32).tobytes(), t) for row, t in zip(obs, targets)])
        return actions

    def _remember(self, targets: list[tuple[bytes, np.ndarray]]) -> None:
        """Keep these search targets by position (the last :data:`_TARGETS_KEPT` positions searched)."""
        for key, target in targets:
            self._targets[key] = target
            self._targets.move_to_end(key)
        while len(self._targets) > _TARGETS_KEPT:
            self._targets.popitem(last=False)

    # rollout workers: a copy searches there, and its search targets come back to the learner
    def acting_copy(self) -> Agent:
        """A copy without the memory, the open games and the search targets."""
        kept = self._memory, self._pending, self._targets
        self._memory, self._pending, self._targets = None, {}, OrderedDict()
        try:
            return copy.deepcopy(self)
        finally:
            self._memory, self._pending, self._targets = kept

    def acting_state(self) -> dict[str, Any] | None:
        """The network's weights."""
        return {"network": self.network.state_dict()}

    def load_acting_state(self, state: dict[str, Any]) -> None:
        self.network.load_state_dict(state["network"])

    def acting_record(self) -> Any:
        """The search targets of the positions this copy searched since the last call."""
        record, self._targets = list(self._targets.items()), OrderedDict()
        return record or None

    def absorb_acting_record(self, record: Any) -> None:
        self._remember(record)

    # ------------------------------------------------------------------ memory
    def attach_memory(self, num_streams: int, update_freq: int, batch_size: int) -> None:
        size = self.config.buffer_size
        if size < batch_size:
            raise ValueError(f"{self.name}: buffer_size={size} is smaller than batch_size={batch_size}")
        if self._memory is not None:
            return
        self._memory = {
            "obs": np.zeros((size, *self.obs_shape), dtype=np.float32),
            "legal": np.zeros((size, self.n_actions), dtype=bool),
            "policy": np.zeros((size, self.n_actions), dtype=np.float32),
            "searched": np.zeros(size, dtype=bool),
            "value": np.zeros(size, dtype=np.float32),
        }

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
        if self._memory is None:
            raise RuntimeError(f"{self.name}: no memory attached; the trainer attaches it in train()")
        for i, stream in enumerate(np.asarray(streams).tolist()):
            row = np.ascontiguousarray(obs[i], dtype=np.float32)
            target = self._targets.get(row.tobytes())
            self._pending.setdefault(stream, []).append((row, mask[i] > 0, target, float(rew[i])))
            if terminated[i] or truncated[i]:
                self._finish(stream)

    def _finish(self, stream: int) -> None:
        """Move a stream's ended game into the memory, each position with its return to the end."""
        rows, memory = self._pending.pop(stream), self._memory
        if memory is None:
            raise RuntimeError(f"{self.name}: no memory attached; the trainer attaches it in train()")
        returns = np.cumsum([r for *_, r in rows][::-1])[::-1]
        memory_obs = memory["obs"]
        size = len(memory_obs)
        weight = self.config.search_value_weight
        for (row, legal, target, _), value in zip(rows, returns):
            i = self._next
            memory_obs[i] = row
            memory["legal"][i] = legal
            memory["searched"][i] = target is not None
            memory["policy"][i] = 0.0 if target is None else target[:-1]
            outcome = float(np.clip(value, -1.0, 1.0))
            memory["value"][i] = outcome if target is None else (1 - weight) * outcome + weight * float(target[-1])
            self._next = (i + 1) % size
            self._size = min(self._size + 1, size)

    def memory_bytes(self) -> int:
        return 0 if self._memory is None else sum(a.nbytes for a in self._memory.values())

    # ------------------------------------------------------------------ learning
    def update(self, batch_size: int, gradient_steps: int) -> int:
        if self._memory is None or self._size < batch_size or gradient_steps < 1:
            return 0
        memory, mirror = self._memory, getattr(self.rules, "action_mirror", None) if self.config.mirror else None
        self.network.train()
        totals = {"policy_loss": 0.0, "value_loss": 0.0}
        for _ in range(gradient_steps):
            idx = self._rng.integers(0, self._size, batch_size)
            obs, legal, policy = memory["obs"][idx], memory["legal"][idx], memory["policy"][idx]
            if mirror is not None:
                flip = self._rng.random(batch_size) < 0.5
                obs[flip] = self.rules.mirror_observations(obs[flip])  # type: ignore[attr-defined]
                legal[flip] = legal[flip][:, mirror]
                policy[flip] = policy[flip][:, mirror]
            device = self.device
            logits, value = self.network(torch.as_tensor(obs, device=device))
            log_p = torch.log_softmax(mask_logits(logits, torch.as_tensor(legal, device=device)), dim=1)
            searched = torch.as_tensor(memory["searched"][idx], device=device, dtype=torch.float32)
            cross = -(torch.as_tensor(policy, device=device) * log_p).sum(dim=1)
            policy_loss = (cross * searched).sum() / searched.sum().clamp(min=1.0)
            value_loss = torch.mean((value - torch.as_tensor(memory["value"][idx], device=device)) ** 2)
            self.optimizer.zero_grad()
            (policy_loss + value_loss).backward()
            self.optimizer.step()
            totals["policy_loss"] += policy_loss.item()
            totals["value_loss"] += value_loss.item()
        self.network.eval()
        self.last_losses = {k: v / gradient_steps for k, v in totals.items()}
        return gradient_steps

    # ------------------------------------------------------------------ saving
    def state_dict(self) -> dict[str, Any]:
        return {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        self.network.load_state_dict(state["network"], strict=strict)
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])

    def shaped_state(self, state: Mapping[str, Any]) -> Mapping[str, Any]:
        """The network (Adam's state is empty until the first step)."""
        return {"network": state.get("network", {})}

    def training_state(self, memory: bool = True) -> dict[str, Any]:
        state: dict[str, Any] = {"weights": self.state_dict()}
        if memory and self._memory is not None:
            state["memory"] = {
                **{k: torch.from_numpy(v[: self._size].copy()) for k, v in self._memory.items()},
                "next": self._next,
                "pending": {
                    str(s): [
                        [torch.from_numpy(o), torch.from_numpy(m), None if t is None else torch.from_numpy(t), r]
                        for o, m, t, r in rows
                    ]
                    for s, rows in self._pending.items()
                },
                "targets": [
                    [torch.frombuffer(bytearray(k), dtype=torch.uint8), torch.from_numpy(v)]
                    for k, v in self._targets.items()
                ],
            }
        return state

    def load_training_state(self, state: dict[str, Any]) -> None:
        self.check_saved_weights(state["weights"])
        self.load_state_dict(dict(state["weights"]))
        if "memory" not in state:
            return
        if self._memory is None:
            raise RuntimeError(f"{self.name}: attach_memory() before loading a training state with a memory")
        saved = state["memory"]
        size = len(saved["value"])
        for key, array in self._memory.items():
            array[:size] = saved[key].numpy()
        self._size, self._next = size, int(saved["next"])
        self._pending = {
            int(s): [(o.numpy(), m.numpy(), None if t is None else t.numpy(), float(r)) for o, m, t, r in rows]
            for s, rows in saved["pending"].items()
        }
        self._targets = OrderedDict((k.numpy().tobytes(), v.numpy()) for k, v in saved["targets"])

    def frozen(self) -> Agent:
        # a copy of the generator: it acts as the learner would now, without advancing the learner's
        return SearchAgent(
            self.rules,
            self.settings,
            copy.deepcopy(self.network),
            rng=copy.deepcopy(self._rng),
            name=f"{self.name}-frozen",
            device=str(self.device),
        )


def planning_agent(
    rules: SearchRules,
    observation_space: gym.Space,
    action_space: gym.Space,
    *,
    config: PlanningConfig | None = None,
    seed: int | None = None,
    name: str = "planner",
    **overrides: Any,
) -> PlanningLearner:
    """A planning learner for a seat with these spaces, planning with ``rules`` (``search_rules_of(game)``);
    ``overrides`` are :class:`PlanningConfig` fields."""
    cfg: PlanningConfig = config_with(PlanningConfig, config, overrides)
    return PlanningLearner(rules, observation_space, action_space, cfg, seed=seed, name=name)
