"""Train recipes (``configs/*.toml``) for several seeds and write every run's statistics as JSON.

    python benchmarks/run_recipes.py --configs configs/robots_2.toml configs/robots_3.toml \\
        --seeds 0 1 2 --out benchmarks/results/robots.json [--set trainer.episodes_per_train=400]

Each (config, seed) trains :class:`rbtrainer.recipes.Recipe` as ``rbtrainer train --config`` would
(the seed replaces the file's ``[trainer] seed``; ``--set TABLE.KEY=VALUE`` replaces any other key,
VALUE a Python literal or a word), without checkpoints or figures. The JSON file is rewritten
atomically after every run, so an interrupted sweep keeps what it finished; it holds the command,
the git commit, the date, the machine (Python, torch, Tianshou and NumPy versions, CPU count) and,
per run, the recipe's tables and the statistics (test curve, best test metric, collected episodes
and env steps, gradient steps, wall time).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from collections import defaultdict
from typing import Any

from rbtrainer.files import atomic_write
from rbtrainer.provenance import provenance
from rbtrainer.recipes import Recipe, parse_env_pair

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def overrides(settings: list[str], parser: argparse.ArgumentParser) -> dict[str, dict[str, Any]]:
    """``TABLE.KEY=VALUE`` settings as table -> {key: value}."""
    tables: dict[str, dict[str, Any]] = defaultdict(dict)
    for text in settings:
        try:
            name, value = parse_env_pair(text)
        except ValueError:
            parser.error(f"--set expects TABLE.KEY=VALUE, got {text!r}")
        table, dot, key = name.partition(".")
        if not dot or not key:
            parser.error(f"--set expects TABLE.KEY=VALUE, got {text!r}")
        tables[table][key] = value
    return dict(tables)


def run_one(config: str, seed: int, changes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Train ``config`` with ``seed``; its recipe and statistics."""
    trainer = {**changes.get("trainer", {}), "seed": seed, "progress_bar": False}
    recipe = Recipe.from_toml(config, **{**changes, "trainer": trainer})
    began = time.perf_counter()
    stats = recipe.run(plot=False)
    return {
        "config": config,
        "seed": seed,
        "recipe": recipe.tables(),
        "wall_seconds": round(time.perf_counter() - began, 2),
        "stats": {
            "best_reward_metric": stats.best_reward_metric,
            "best_episode": stats.best_episode,
            "collected_episodes": stats.collected_episodes,
            "collected_steps": stats.collected_steps,
            "gradient_steps": stats.gradient_steps,
            "training_time": stats.training_time,
            "test_time": stats.test_time,
            "reward_metric_history": stats.reward_metric_history,
            "test_episodes": stats.test_episodes,
            "test_steps": stats.test_steps,
            "mean_episode_lengths": stats.mean_episode_lengths,
            "stopped_early": stats.stopped_early,
            "groups": {name: dataclasses.asdict(curve) for name, curve in stats.groups.items()},
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", required=True, help="recipe files (TOML)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument(
        "--set", dest="settings", action="append", default=[], metavar="TABLE.KEY=VALUE", help="repeatable"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    changes = overrides(args.settings, parser)
    for config in args.configs:  # every file and setting checked before anything trains
        try:
            Recipe.from_toml(config, **changes)
        except (TypeError, ValueError) as err:
            parser.error(str(err))
    report: dict[str, Any] = {**provenance(ROOT), "runs": []}
    if argv is not None:
        report["command"] = " ".join(argv)
    for config in args.configs:
        for seed in args.seeds:
            run = run_one(config, seed, changes)
            report["runs"].append(run)
            with atomic_write(args.out) as handle:
                handle.write(json.dumps(report, indent=1, default=float).encode())
            stats = run["stats"]
            print(
                f"{config} seed {seed}: best test metric {stats['best_reward_metric']:.3f} at episode "
                f"{stats['best_episode']}, {stats['collected_episodes']} episodes / {stats['collected_steps']} env "
                f"steps in {run['wall_seconds']:.0f} s",
                flush=True,
            )
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
