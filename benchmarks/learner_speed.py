"""Gradient steps per second of the learners' update against the plain-PyTorch floor, side by side.

For each learner and batch size, two loops take ``--steps`` gradient steps on the same network
shapes, one thread, after a warm-up, alternately, ``--repeats`` times (median and range):

* ``ours``: ``learner.update(batch_size, steps)`` on a memory of ``--memory`` stored transitions
  (random observations; the DQN learners' n-step returns, target network and prioritized or
  uniform sampling as configured; the planning learner's positions searched with 2 simulations,
  so that its policy targets are there);
* ``floor``: the least a PyTorch program does for the same step: draw a minibatch of
  preloaded tensors, the network's forward (and the target network's for DQN, a one-step target),
  the loss, backward and an Adam step.

Learners: ``dqn-robots`` (DQN [64, 64] on the 12-robot observation, the robot recipes' sizes),
``dqn-connect4`` (the strong connect-four recipe's DQN: [256, 256], 3-step returns, gamma 0.95)
and ``planning-connect4`` (the planning recipe's network: 32 channels, 2 residual blocks). Batch
sizes: the recipe's and larger ones.

    python benchmarks/learner_speed.py [--steps 200] [--repeats 3] [--json benchmarks/data/learner_speed.json]
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rbtrainer import DecentralizedTrainer, DQNConfig, dqn_agent
from rbtrainer.agents.base import Learner, check_discrete, flat_obs_dim, observation_box
from rbtrainer.agents.networks import PolicyValueNet
from rbtrainer.agents.planning import planning_agent, rules_from_game
from rbtrainer.config import PlanningConfig
from rbtrainer.provenance import benchmark_parser, median_range, provenance, table_of, write_figures

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ROBOTS_12 = {"robot_colors": ["r", "b", "gr", "p"], "num_robots_per_player": 3, "max_step": 1500, "with_battery": True}
Step = Callable[[int, int], Any]
"""Takes ``count`` gradient steps on minibatches of ``batch``: ``step(batch, count)``."""
BATCHES = {"dqn-robots": [64, 256, 1024], "dqn-connect4": [128, 512, 2048], "planning-connect4": [256, 1024]}


def _fill(learner: Learner, obs_dim: tuple[int, ...], actions: int, size: int, rng: np.random.Generator) -> None:
    """Store ``size`` random transitions in one stream (games of 20 steps)."""
    learner.attach_memory(1, 512, 64)
    obs = (rng.random((size, *obs_dim)) < 0.3).astype(np.float32)
    mask = np.ones((size, actions), dtype=np.int8)
    done = (np.arange(size) % 20) == 19
    learner.store(
        streams=np.zeros(size, dtype=np.int64),
        obs=obs,
        mask=mask,
        act=rng.integers(0, actions, size),
        rew=rng.normal(size=size),
        obs_next=np.roll(obs, -1, axis=0),
        mask_next=mask,
        terminated=done,
        truncated=np.zeros(size, dtype=bool),
    )


def dqn_floor(hidden: tuple[int, ...], obs_dim: int, actions: int, size: int, gamma: float) -> Step:
    """The plain PyTorch DQN step on an MLP of these sizes: minibatch, forward, one-step target, loss, Adam."""
    layers: list[torch.nn.Module] = []
    width = obs_dim
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    online = torch.nn.Sequential(*layers, torch.nn.Linear(width, actions))
    target = copy.deepcopy(online)
    optim = torch.optim.Adam(online.parameters(), lr=1e-3)
    obs, obs_next = torch.rand(size, obs_dim), torch.rand(size, obs_dim)
    act, rew, done = torch.randint(0, actions, (size,)), torch.randn(size), torch.zeros(size)

    def steps(batch: int, count: int) -> None:
        for _ in range(count):
            idx = torch.randint(0, size, (batch,))
            with torch.no_grad():
                y = rew[idx] + gamma * (1 - done[idx]) * target(obs_next[idx]).max(dim=1).values
            q = online(obs[idx]).gather(1, act[idx, None]).squeeze(1)
            loss = torch.mean((q - y) ** 2)
            optim.zero_grad()
            loss.backward()
            optim.step()

    return steps


def planning_floor(shape: tuple[int, ...], actions: int, size: int) -> Step:
    """The plain PyTorch step of a policy/value network: minibatch, forward, cross-entropy + squared error, Adam."""
    net = PolicyValueNet(shape, actions, 32, 2, 64)
    optim = torch.optim.Adam(net.parameters(), lr=1e-3)
    obs = (torch.rand(size, *shape) < 0.3).float()
    policy, value = torch.softmax(torch.randn(size, actions), dim=1), torch.rand(size) * 2 - 1

    def steps(batch: int, count: int) -> None:
        for _ in range(count):
            idx = torch.randint(0, size, (batch,))
            logits, v = net(obs[idx])
            loss = -(policy[idx] * torch.log_softmax(logits, dim=1)).sum(1).mean() + torch.mean((v - value[idx]) ** 2)
            optim.zero_grad()
            loss.backward()
            optim.step()

    return steps


def build_planning(size: int, rng: np.random.Generator) -> tuple[Step, Step, str]:
    """The planning learner's update on ``size`` searched positions, and its floor."""
    trainer = DecentralizedTrainer({"game": "connect_four"}, progress_bar=False)
    config = PlanningConfig(simulations=2, play_simulations=2, channels=32, blocks=2, buffer_size=size)
    rules = rules_from_game(trainer.make_game)
    space, actions = trainer.observation_space(0), check_discrete(trainer.action_space(0))
    learner = planning_agent(rules, space, trainer.action_space(0), config=config, seed=1)
    trainer.close()
    learner.attach_memory(1, 512, 64)
    shape = tuple(observation_box(space).shape)
    for _ in range(0, size, 20):  # games of 20 random positions, each searched (its policy target)
        obs = (rng.random((20, *shape)) < 0.2).astype(np.float32)
        obs[..., 1] *= 1 - obs[..., 0]  # no cell held by both
        mask = rules.legal(rules.positions(obs)).astype(np.int8)
        act = learner.act(obs, mask, np.zeros(20, dtype=bool))
        done = np.arange(20) == 19
        learner.store(np.zeros(20, dtype=np.int64), obs, mask, act, rng.normal(size=20), obs, mask, done,
                      np.zeros(20, dtype=bool))  # fmt: skip
    return learner.update, planning_floor(shape, actions, size), "planning, 32 channels, 2 blocks"


def build_dqn(name: str, size: int, rng: np.random.Generator) -> tuple[Step, Step, str]:
    """A DQN learner's update on ``size`` random transitions, and its floor."""
    trainer = DecentralizedTrainer(ROBOTS_12 if name == "dqn-robots" else {"game": "connect_four"}, progress_bar=False)
    space, actions = trainer.observation_space(0), check_discrete(trainer.action_space(0))
    trainer.close()
    if name == "dqn-robots":
        config = DQNConfig(hidden_sizes=(64, 64), buffer_size=size)
    else:
        config = DQNConfig(hidden_sizes=(256, 256), n_step=3, gamma=0.95, target_update_freq=1000, buffer_size=size)
    learner = dqn_agent(space, trainer.action_space(0), config=config, seed=1)
    _fill(learner, (flat_obs_dim(space),), actions, size, rng)
    floor = dqn_floor(tuple(config.hidden_sizes), flat_obs_dim(space), actions, size, config.gamma)
    return learner.update, floor, f"DQN {list(config.hidden_sizes)}, {config.n_step}-step"


def _rate(run: Step, batch: int, steps: int) -> float:
    start = time.perf_counter()
    run(batch, steps)
    return steps / (time.perf_counter() - start)


def measure(name: str, steps: int, repeats: int, size: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    ours, floor, describe = build_planning(size, rng) if name == "planning-connect4" else build_dqn(name, size, rng)
    rows = []
    for batch in BATCHES[name]:
        _rate(ours, batch, 10), _rate(floor, batch, 10)  # warm-up
        mine: list[float] = []
        base: list[float] = []
        for _ in range(repeats):
            mine.append(_rate(ours, batch, steps))
            base.append(_rate(floor, batch, steps))
        rows.append(
            {
                "learner": name,
                "network": describe,
                "batch": batch,
                "ours": median_range(mine),
                "floor": median_range(base),
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| learner | network | batch | ours, gradient steps/s | plain PyTorch floor | floor / ours |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ours, floor = r["ours"], r["floor"]
        lines.append(
            f"| {r['learner']} | {r['network']} | {r['batch']} | {ours['median']:,.0f} "
            f"({ours['min']:,.0f}-{ours['max']:,.0f}) | {floor['median']:,.0f} "
            f"({floor['min']:,.0f}-{floor['max']:,.0f}) | {floor['median'] / ours['median']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--learners", nargs="+", default=list(BATCHES), choices=list(BATCHES))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory", type=int, default=20_000, help="transitions in the memory")
    args = parser.parse_args()
    if args.render:
        print(table_of(args.render, table))
        return
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    origin = provenance(ROOT)
    rows = [row for name in args.learners for row in measure(name, args.steps, args.repeats, args.memory)]
    print(table(rows))
    if args.json:
        write_figures(args.json, origin, {"rows": rows})


if __name__ == "__main__":
    main()
