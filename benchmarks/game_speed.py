"""Game-loop speed of the robot-delivery env: random legal actions, one env, one process.

Measures robot steps per second (env steps taken by live robots) for
  * ``raw``: the bare AEC env (``env.unwrapped``) driven by ``agent_iter()`` / ``last()`` / ``step()``,
    the way the trainer drives it;
  * ``wrapped``: the same loop through ``games.robot_delivery.env()`` (PettingZoo's order enforcer);
  * ``rules``: the pure rules class alone (mask, observation, step), no PettingZoo layer;
  * ``batch N``: :class:`~games.robot_delivery.batch.BatchRobotDeliveryRules` stepping N games
    at once (masks, observations, random legal actions drawn in NumPy, step, reset of ended games),
    robot steps summed over the games.
Configurations: 3 robots (3 players x 1, max_step 600) and 12 robots (4 players x 3, max_step 1500),
the reference game's measured rates being about 11-12k and 8k robot steps/s on a 2-core machine.

    python benchmarks/game_speed.py [--steps 200000] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import statistics
import time
from collections.abc import Callable

import numpy as np
from pettingzoo import AECEnv

from games.robot_delivery import RobotDeliveryEnv
from games.robot_delivery import env as wrapped_env
from games.robot_delivery.batch import BatchRobotDeliveryRules

CONFIGS = {
    "3 robots": {"robot_colors": ["r", "b", "gr"], "num_robots_per_player": 1, "max_step": 600, "required_mail": 5},
    "12 robots": {
        "robot_colors": ["r", "b", "gr", "p"],
        "num_robots_per_player": 3,
        "max_step": 1500,
        "required_mail": 10,
    },
}
REFERENCE = {"3 robots": 11_500.0, "12 robots": 8_000.0}


def _pick(mask: np.ndarray, rng: random.Random) -> int:
    legal = np.flatnonzero(mask)
    return int(legal[rng.randrange(len(legal))]) if len(legal) else 0


def aec_loop(env: AECEnv, steps: int, seed: int) -> float:
    """Robot steps per second of an AEC loop over ``env`` (raw or wrapped)."""
    rng = random.Random(seed)
    done_steps = 0
    env.reset(seed=seed)
    start = time.perf_counter()
    while done_steps < steps:
        for _agent in env.agent_iter():
            obs, _, term, trunc, _ = env.last()
            if term or trunc:
                env.step(None)
                continue
            env.step(_pick(obs["action_mask"], rng))
            done_steps += 1
        env.reset()
    return done_steps / (time.perf_counter() - start)


def rules_loop(env: RobotDeliveryEnv, steps: int, seed: int) -> float:
    rng = random.Random(seed)
    game = env.game
    game.reset(seed)
    done_steps = 0
    start = time.perf_counter()
    while done_steps < steps:
        k = game.current
        game.observation(k)
        mask = game.legal_mask(k)
        legal = [a for a in range(5) if mask[a]]
        game.step(legal[rng.randrange(len(legal))] if legal else 0)
        done_steps += 1
        if game.game_over:
            game.reset()
    return done_steps / (time.perf_counter() - start)


def batch_loop(kwargs: dict, num_games: int, steps: int, seed: int) -> float:
    """Robot steps per second of ``num_games`` games in one :class:`BatchRobotDeliveryRules`."""
    batch = BatchRobotDeliveryRules(RobotDeliveryEnv(**kwargs).config, num_games)
    rng = np.random.default_rng(seed)
    games = np.arange(num_games)
    batch.reset(games, [seed + g for g in range(num_games)])
    done_steps = 0
    start = time.perf_counter()
    while done_steps < steps:
        mask = batch.masks()
        batch.observations()
        batch.step(games, (rng.random(mask.shape) * mask).argmax(axis=1))  # a random legal action (stand if none)
        done_steps += num_games
        over = np.flatnonzero(batch.game_over)
        if len(over):
            batch.reset(over, [None] * len(over))
    return done_steps / (time.perf_counter() - start)


BATCH_SIZES = (16, 256)


def measure(fn: Callable[[], float], repeats: int) -> float:
    fn()  # warm-up (imports, caches)
    return statistics.median(fn() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200_000, help="robot steps per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()

    results: dict[str, dict[str, float]] = {}
    for name, kwargs in CONFIGS.items():
        raw = RobotDeliveryEnv(**kwargs)  # type: ignore[arg-type]
        wrapped = wrapped_env(**kwargs)
        results[name] = {
            "raw": measure(functools.partial(aec_loop, raw, args.steps, 0), args.repeats),
            "wrapped": measure(functools.partial(aec_loop, wrapped, args.steps, 0), args.repeats),
            "rules": measure(functools.partial(rules_loop, raw, args.steps, 0), args.repeats),
            **{
                f"batch {n}": measure(functools.partial(batch_loop, kwargs, n, args.steps, 0), args.repeats)
                for n in BATCH_SIZES
            },
            "reference": REFERENCE[name],
        }
    batch_columns = "".join(f"{f'batch {n}':>11}" for n in BATCH_SIZES)
    header = (
        f"{'config':<10} {'raw env':>10} {'wrapped':>10} {'rules':>10}{batch_columns} {'reference':>10} {'raw/ref':>8}"
    )
    print("robot steps per second, random legal actions, median of", args.repeats)
    print(header)
    for name, r in results.items():
        print(
            f"{name:<10} {r['raw']:>10.0f} {r['wrapped']:>10.0f} {r['rules']:>10.0f}"
            + "".join(f"{r[f'batch {n}']:>11.0f}" for n in BATCH_SIZES)
            + " "
            + f"{r['reference']:>10.0f} {r['raw'] / r['reference']:>7.1f}x"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
