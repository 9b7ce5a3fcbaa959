"""The train loop on a device, with the reference's large network.

    python benchmarks/device_speed.py [--device cpu|cuda|cuda:N|mps|auto] [--episodes 32] [--repeats 3]

Self-play DQN on the 3-player robot game (3 players x 1 robot, 5 mails, max_step 600; one learner
in every seat, every seat learning), 16 train envs, with the reference's network: hidden layers
1024, 1024, 512, 512, 256, 256, 128, 128, 64, 64 and dueling heads of 32 (a user-built Tianshou
``Net`` in an ``OffPolicyLearner``, the way to bring any network), Adam lr 1e-4, 30-step returns,
double Q, batch 64, an update every 100 env steps with 0.1 gradient steps per env step. The
reference reports 1.55M env steps in 990 s on a GPU (about 1,570 env steps/s) with this network.

Prints, per repeat and as medians: env steps per second over the whole ``train()`` call (updates
included), gradient steps per second inside the updates, and the share of time in updates.
First-use costs (lazy imports, allocations, kernel selection) are paid in a warm-up run first.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from typing import Any

import torch
from tianshou.algorithm import DQN
from tianshou.algorithm.modelfree.dqn import DiscreteQLearningPolicy
from tianshou.algorithm.optim import AdamOptimizerFactory
from tianshou.utils.net.common import Net

from rbtrainer import DecentralizedTrainer, OffPolicyLearner
from rbtrainer.agents.base import check_discrete, flat_obs_dim
from rbtrainer.agents.device import resolve_device

REFERENCE_HIDDEN = (1024, 1024, 512, 512, 256, 256, 128, 128, 64, 64)
REFERENCE_HEADS = 32
ENV = {"game": "robot_delivery", "robot_colors": ["r", "b", "gr"], "required_mail": 5, "max_step": 600}


def reference_learner(trainer: DecentralizedTrainer, device: str, seed: int) -> OffPolicyLearner:
    torch.manual_seed(seed)
    space, actions = trainer.observation_space(0), trainer.action_space(0)
    heads = ({"hidden_sizes": [REFERENCE_HEADS]}, {"hidden_sizes": [REFERENCE_HEADS]})
    net = Net(
        state_shape=flat_obs_dim(space),
        action_shape=check_discrete(actions),
        hidden_sizes=REFERENCE_HIDDEN,
        dueling_param=heads,
    )
    algorithm = DQN(
        policy=DiscreteQLearningPolicy(model=net, action_space=actions),
        optim=AdamOptimizerFactory(lr=1e-4),
        gamma=0.99,
        n_step_return_horizon=30,
        target_update_freq=500,
        is_double=True,
    )
    return OffPolicyLearner(algorithm, space, actions, buffer_size=200_000, epsilon=0.5, seed=seed, device=device)


class _UpdateClock:
    """Wraps a learner's ``update`` to time it (gradient steps per second inside the updates)."""

    def __init__(self, learner: OffPolicyLearner) -> None:
        self.seconds, self.steps = 0.0, 0
        self._update = learner.update
        learner.update = self  # type: ignore[method-assign]

    def __call__(self, batch_size: int, gradient_steps: int) -> int:
        start = time.perf_counter()
        taken = self._update(batch_size, gradient_steps)
        if taken:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.seconds += time.perf_counter() - start
            self.steps += taken
        return taken


def run(device: str, episodes: int, seed: int) -> dict[str, Any]:
    with DecentralizedTrainer(
        ENV,
        num_train_envs=16,
        num_test_envs=2,
        episodes_per_train=episodes,
        episodes_per_test=2,
        test_freq=10**9,
        batch_size=64,
        update_freq=100,
        update_per_step=0.1,
        seed=seed,
        progress_bar=False,
    ) as trainer:
        learner = reference_learner(trainer, device, seed)
        params = sum(p.numel() for p in learner.policy.model.parameters())
        clock = _UpdateClock(learner)
        start = time.perf_counter()
        stats = trainer.train([learner] * trainer.num_seats, [True] * trainer.num_seats, plot=False)
        wall = time.perf_counter() - start
    return {
        "parameters": params,
        "env_steps": stats.collected_steps,
        "env_steps_per_s": stats.collected_steps / wall,
        "gradient_steps": clock.steps,
        "gradient_steps_per_s": clock.steps / clock.seconds if clock.seconds else 0.0,
        "update_share": clock.seconds / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--episodes", type=int, default=32, help="training episodes per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    resolved = resolve_device(args.device)  # a clear error before anything runs
    warm = run(args.device, 16, seed=99)  # warm-up: first-use costs
    print(f"device {args.device} ({resolved}), Q-network of {warm['parameters']:,} parameters")
    results = []
    for k in range(args.repeats):
        r = run(args.device, args.episodes, seed=k)
        results.append(r)
        print(
            f"repeat {k}: {r['env_steps']} env steps, {r['env_steps_per_s']:.0f} env steps/s, "
            f"{r['gradient_steps']} gradient steps, {r['gradient_steps_per_s']:.1f} gradient steps/s, "
            f"updates {r['update_share']:.0%} of the time"
        )
    for key in ("env_steps_per_s", "gradient_steps_per_s"):
        values = [r[key] for r in results]
        print(f"{key}: median {statistics.median(values):.1f} (range {min(values):.1f}-{max(values):.1f})")
    print("reference (GPU, same network): 1.55M env steps in 990 s = 1,566 env steps/s")


if __name__ == "__main__":
    main()
