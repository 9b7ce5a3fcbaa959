"""Train one robot row with the reference's own trainer (rbgame) and its published settings.

This file runs in the reference's environment, not in this project's: its Python has rbgame (the
reference's package, public repository ``nguyenthanhtrung2910/robotic-board-game``) and
Tianshou 1.0 installed, and nothing of rbtrainer. ``benchmarks/reference_rows.py`` starts it as
``REFERENCE_PYTHON benchmarks/reference_row.py ...`` and reads the JSON object it prints last.
It calls the reference's public API only (``DecentralizedTrainer``, ``OffPolicyAgent``); none of
the reference's code is in this project.

The settings are the reference's published ones (its results page: gamma 0.99, Adam 1e-4,
epsilon 1 -> 0.05, proportional prioritized replay alpha 0.6 and beta 0.4 -> 1, 30-step returns)
and, where that page is silent, its self-play notebook's (``docs/source/agents/rl/self-play.ipynb``):
a LayerNorm MLP [1024, 1024, 512, 512, 256, 256, 128, 128, 64, 64] with dueling heads [32], double
DQN, target update every 500 gradient steps, 0.02 gradient steps per env step, batch 64, an update
every 200 env steps, 16 train and 16 test envs, 48 test episodes, a test every 100 episodes,
epsilon = max(0.9995^episode, 0.05), beta = 1 - 0.6 exp(-0.002 episode), one agent in every seat
learning from seat 0 with every seat's transitions in its memory (one buffer per env and seat),
and a memory that holds every transition of the run (max_step x episodes).

Printed last, as one JSON line: the test curve (episodes, metric, wall seconds), the episodes and
wall time at which the metric first reached ``--plateau`` (or null), the best metric and its
episode, collected env steps and episodes, gradient steps and the wall time of ``train``.

    REFERENCE_PYTHON benchmarks/reference_row.py --players 2 --mails 4 --max-step 500 \\
        --episodes 2000 --minutes 30 --plateau 21 [--battery] [--seed 0]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.resources
import json
import math
import os
import random
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # the reference's package imports pygame

HIDDEN = [1024, 1024, 512, 512, 256, 256, 128, 128, 64, 64]
NUM_ENVS = 16


def check_python(python: str, otherwise: str = "") -> str:
    """Tianshou's and torch's versions in the environment of ``python``, which the scripts starting this
    driver (and ``reference_loops.py``) check before anything runs: ``ValueError`` naming
    ``--reference-python`` when it cannot run the reference. ``otherwise``: what else the caller may do."""
    probe = "import rbgame, tianshou, torch; print(tianshou.__version__, torch.__version__)"
    advice = f"give the python of the environment the reference is installed in{otherwise}"
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=300)
    except OSError as error:
        raise ValueError(f"--reference-python {python!r} cannot be run ({error}); {advice}") from error
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no message"
        raise ValueError(
            f"--reference-python {python!r} cannot import the reference's package rbgame with Tianshou ({last}); "
            + advice
        )
    return done.stdout.strip()


def reference(module: str) -> Any:
    """A module of the reference's environment. It has Tianshou 1.0, whose API differs from the 2.x
    this project type checks against: looked up at run time, the check does not read it as 2.x."""
    return importlib.import_module(module)


def env_args(colors: list[str], mails: int, max_step: int, battery: bool) -> dict[str, Any]:
    """The reference game's arguments: one robot per colour, the turn passing after each move."""
    assets = str(importlib.resources.files("rbgame").joinpath("assets", "csv_files"))
    return {
        "colors_map": os.path.join(assets, "colors_map.csv"),
        "targets_map": os.path.join(assets, "targets_map.csv"),
        "required_mail": mails,
        "robot_colors": colors,
        "num_robots_per_player": 1,
        "with_battery": battery,
        "random_num_steps": False,
        "max_step": max_step,
    }


def dqn_policy(net: Any, lr: float) -> Any:
    """The reference's DQN: gamma 0.99, 30-step returns, double Q, target update every 500 gradient steps."""
    import gymnasium as gym
    import torch

    return reference("tianshou.policy").DQNPolicy(
        model=net,
        optim=torch.optim.Adam(net.parameters(), lr=lr),
        action_space=gym.spaces.Discrete(5),
        discount_factor=0.99,
        estimation_step=30,
        target_update_freq=500,
        is_double=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--players", type=int, required=True, help="players of one robot each")
    parser.add_argument("--mails", type=int, required=True)
    parser.add_argument("--max-step", type=int, required=True)
    parser.add_argument("--battery", action="store_true")
    parser.add_argument("--episodes", type=int, required=True, help="training episodes")
    parser.add_argument("--minutes", type=float, required=True, help="wall-time budget of train()")
    parser.add_argument("--plateau", type=float, required=True, help="the published plateau of the row")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import numpy as np
    import torch
    from torch import nn

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    robots = args.players
    net = reference("tianshou.utils.net.common").Net(
        state_shape=(4 if args.battery else 3) * robots,
        action_shape=5,
        hidden_sizes=HIDDEN,
        norm_layer=nn.LayerNorm,
        device="cpu",
        dueling_param=[
            {"hidden_sizes": [32], "norm_layer": nn.LayerNorm},
            {"hidden_sizes": [32], "norm_layer": nn.LayerNorm},
        ],
    )
    memory = reference("tianshou.data").PrioritizedVectorReplayBuffer(
        total_size=args.max_step * args.episodes, buffer_num=robots * NUM_ENVS, alpha=0.6, beta=0.4
    )
    agent = reference("rbgame.agent.rl_agent").OffPolicyAgent(
        policy=dqn_policy(net, lr=1e-4), memory=memory, update_per_step=0.02
    )

    def train_fn(episode: int, step: int) -> None:
        agent.policy.set_eps(max(0.9995**episode, 0.05))
        agent.memory.set_beta(1.0 - 0.6 * math.exp(-0.002 * episode))

    curve: list[list[float]] = []
    began = time.perf_counter()

    def stop_fn(metric: float, episode: int) -> bool:
        elapsed = time.perf_counter() - began
        curve.append([episode, float(metric), round(elapsed, 1)])
        print(f"episode {episode}: metric {metric:+.2f} at {elapsed:.0f} s", file=sys.stderr, flush=True)
        return elapsed >= args.minutes * 60

    colors = [f"c{k}" for k in range(robots)]  # only labels: nothing is rendered
    trainer = reference("rbgame.trainer").DecentralizedTrainer(
        env_args=env_args(colors, args.mails, args.max_step, args.battery),
        num_train_envs=NUM_ENVS,
        num_test_envs=NUM_ENVS,
        batch_size=64,
        update_freq=200,
        test_freq=100,
        episodes_per_train=args.episodes,
        episodes_per_test=48,
        train_fn=train_fn,
        stop_fn=stop_fn,
    )
    began = time.perf_counter()
    stats = trainer.train([agent] * robots, [k == 0 for k in range(robots)], plot=False)
    reached = next(([e, s] for e, m, s in curve if m >= args.plateau), None)
    best = max(curve, key=lambda point: point[1]) if curve else None
    result: dict[str, Any] = {
        "curve": curve,
        "reached": None if reached is None else {"episodes": reached[0], "seconds": reached[1]},
        "best_metric": None if best is None else best[1],
        "best_episode": None if best is None else best[0],
        "episodes": int(stats["num_collected_episodes"]),
        "env_steps": int(stats["num_collected_steps"]),
        "gradient_steps": int(stats["num_gradient_steps"]),
        "wall_seconds": round(float(stats["training_time"]), 1),
        "versions": {"tianshou": reference("tianshou").__version__, "torch": torch.__version__},
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
