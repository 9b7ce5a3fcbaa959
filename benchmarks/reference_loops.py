"""The reference trainer's train and test loops on ``benchmarks/reference_speed.py``'s configuration.

Like ``benchmarks/reference_row.py``, this file runs in the reference's environment (its Python has
the reference's package rbgame and Tianshou 1.0, and nothing of rbtrainer);
``reference_speed.py --reference-python PY`` starts it in a fresh process per measurement, taking
turns with its own kinds, and reads the JSON object it prints last. It calls the reference's public
API only.

* ``--loop train``: env steps per second over the whole first ``train()`` call of the reference's
  own ``DecentralizedTrainer`` doing reference_speed.py's work: 3 players x 1 robot, 5 mails,
  max_step 600, 16 train envs, DQN hidden [64, 64], Adam 1e-3, gamma 0.99, 30-step returns, target
  update every 500 gradient steps, double Q, plain replay of 600 x 320 transitions (one buffer per
  env and seat), an update every 200 env steps with 0.02 gradient steps per env step, batch 64, 320
  episodes, one agent in every seat, learning seat 0 only, every seat exploring,
  epsilon = max(0.05, 0.9995^episode). Also the peak RSS of the process.
* ``--loop test``: its ``test`` with uniformly random legal agents, 16 envs, 48 episodes, env steps
  per second, after a warm-up round; the median of three.

    REFERENCE_PYTHON benchmarks/reference_loops.py --loop train|test
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import time
from typing import Any

from reference_row import dqn_policy, env_args, reference  # benchmarks/ is this script's directory

ENV_ARGS: dict[str, Any] = {"colors": ["r", "b", "gr"], "mails": 5, "max_step": 600, "battery": False}


def train_loop() -> dict[str, float]:
    import numpy as np
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    net = reference("tianshou.utils.net.common").Net(state_shape=9, action_shape=5, hidden_sizes=[64, 64], device="cpu")
    memory = reference("tianshou.data").VectorReplayBuffer(total_size=600 * 320, buffer_num=3 * 16)
    agent = reference("rbgame.agent.rl_agent").OffPolicyAgent(
        policy=dqn_policy(net, lr=1e-3), memory=memory, update_per_step=0.02
    )
    trainer = reference("rbgame.trainer").DecentralizedTrainer(
        env_args=env_args(**ENV_ARGS),
        num_train_envs=16,
        num_test_envs=16,
        batch_size=64,
        update_freq=200,
        test_freq=10**9,
        episodes_per_train=320,
        episodes_per_test=16,
        train_fn=lambda episode, _step: agent.policy.set_eps(max(0.05, 0.9995**episode)),
    )
    began = time.perf_counter()
    stats = trainer.train([agent] * 3, [True, False, False], plot=False)
    wall = time.perf_counter() - began
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"reference_train": stats["num_collected_steps"] / wall, "reference_rss_mb": rss}


class _RandomLegal:
    """A uniformly random legal action for every observation of a batch (the reference's trainer asks
    its agents for ``infer_act``)."""

    def __init__(self, seed: int) -> None:
        import numpy as np

        self.rng = np.random.default_rng(seed)

    def infer_act(self, obs_b_o: Any, mask_b: Any, exploration_noise: bool = False) -> Any:
        import numpy as np

        # The reference's game can leave a robot no legal move (a mask of zeros); its step then skips
        # that robot's turn whatever the action (rbgame/game/components.py:558-566), so 0 is sent.
        return np.array([self.rng.choice(np.flatnonzero(mask)) if mask.any() else 0 for mask in mask_b])


def test_loop() -> dict[str, float]:
    trainer = reference("rbgame.trainer").DecentralizedTrainer(
        env_args=env_args(**ENV_ARGS), num_train_envs=16, num_test_envs=16, episodes_per_test=48
    )
    agents = [_RandomLegal(seed) for seed in range(3)]
    trainer.test(agents, eval_metrics=False)  # warm-up round
    rates = []
    for _ in range(3):
        began = time.perf_counter()
        stats = trainer.test(agents, eval_metrics=False)
        rates.append(stats["num_collected_steps"] / (time.perf_counter() - began))
    return {"reference_test": statistics.median(rates)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loop", choices=["train", "test"], required=True)
    args = parser.parse_args()
    print(json.dumps(train_loop() if args.loop == "train" else test_loop()), flush=True)


if __name__ == "__main__":
    main()
