"""Reproduce the reference's 3-robot self-play result on this machine.

The reference (rbgame's DQN self-play, 3 players x 1 robot, no battery, required_mail 5,
max_step 600) reached a test reward metric of about +20 after ~2000 episodes (~0.6M env steps)
and plateaued near +20..+21. This script trains the configuration of
``configs/robot_delivery_3p.toml`` until the test metric reaches ``--target`` (default 20) or the
env-step budget runs out, prints when the target was first reached (episodes, env steps, wall
time), keeps training to the budget to show the plateau, and saves the curve under ``plots/``.

    python benchmarks/reproduce_3robots.py [--target 20] [--max-steps 500000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from rbtrainer import Progress, progress_hook
from rbtrainer.files import atomic_write
from rbtrainer.recipes import Recipe

CONFIG = os.path.join(os.path.dirname(__file__), "..", "configs", "robot_delivery_3p.toml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", type=float, default=20.0)
    parser.add_argument("--max-steps", type=int, default=500_000, help="env-step budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stop-at-target", action="store_true", help="stop once the target is reached")
    parser.add_argument("--plot-dir", default="plots")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()

    trainer_args = {
        "seed": args.seed,
        "plot_dir": args.plot_dir,
        "progress_bar": False,
        "plot_name": "reproduce_3robots.png",
        "episodes_per_train": None,
        "max_env_steps": args.max_steps,  # the step budget ends the run
    }
    recipe = Recipe.from_toml(CONFIG, trainer=trainer_args)
    reached: dict[str, float] = {}
    start = time.perf_counter()

    run = recipe.build()
    trainer = run.trainer

    def stop(progress: Progress) -> bool:  # after each test round
        metric = progress.reward_metric
        if metric is not None and metric >= args.target and not reached:
            reached.update(
                episodes=progress.episodes,
                steps=progress.env_steps,
                seconds=time.perf_counter() - start,
                metric=metric,
            )
        return args.stop_at_target and bool(reached)

    trainer.stop_fn = progress_hook(stop)
    stats = run.train()
    run.close()
    result = {
        "reached": reached or None,
        "collected_steps": stats.collected_steps,
        "collected_episodes": stats.collected_episodes,
        "training_time": stats.training_time,
        "best_reward_metric": stats.best_reward_metric,
        "history": list(zip(stats.test_episodes, stats.test_steps, stats.reward_metric_history)),
        "plot": stats.plot_path,
        "config": {name: recipe.tables()[name] for name in ("env", "trainer", "dqn", "schedule")},
    }
    if reached:
        print(
            f"test reward metric {reached['metric']:.2f} >= {args.target} after {reached['episodes']:.0f} episodes, "
            f"{reached['steps']:.0f} env steps, {reached['seconds']:.0f} s"
        )
    else:
        print(f"target {args.target} not reached within {stats.collected_steps} env steps")
    print(f"best {stats.best_reward_metric:.2f}; curve: {stats.plot_path}")
    if args.json:
        with atomic_write(args.json) as handle:
            handle.write(json.dumps(result, indent=2).encode())


if __name__ == "__main__":
    main()
