"""Game-loop speed of the robot-delivery env: random legal actions, one env, one process.

Measures robot steps per second (env steps taken by live robots) for
  * ``raw``: the bare AEC env (``env.unwrapped``) driven by ``agent_iter()`` / ``last()`` / ``step()``,
    the way the trainer drives it;
  * ``wrapped``: the same loop through ``games.robot_delivery.env()`` (PettingZoo's order enforcer);
  * ``rules``: the pure rules class alone (mask, observation, step), no PettingZoo layer;
  * ``batch N``: :class:`~games.robot_delivery.batch.BatchRobotDeliveryRules` stepping N games
    at once (masks, observations, random legal actions drawn in NumPy, step, reset of ended games),
    robot steps summed over the games.
Configurations: 3 robots (3 players x 1, max_step 600) and 12 robots (4 players x 3, max_step 1500).
Each figure is the median (and range) of ``--repeats`` measurements after a warm-up.

    python benchmarks/game_speed.py [--steps 200000] [--repeats 3] \\
        [--json benchmarks/data/game_speed.json] [--render JSON]
"""

from __future__ import annotations

import functools
import os
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from pettingzoo import AECEnv

from games.robot_delivery import RobotDeliveryEnv
from games.robot_delivery import env as wrapped_env
from games.robot_delivery.batch import BatchRobotDeliveryRules
from rbtrainer.provenance import benchmark_parser, median_range, provenance, table_of, write_figures

CONFIGS = {
    "3 robots": {"robot_colors": ["r", "b", "gr"], "num_robots_per_player": 1, "max_step": 600, "required_mail": 5},
    "12 robots": {
        "robot_colors": ["r", "b", "gr", "p"],
        "num_robots_per_player": 3,
        "max_step": 1500,
        "required_mail": 10,
    },
}
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


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


def measure(fn: Callable[[], float], repeats: int) -> dict[str, float]:
    fn()  # warm-up (imports, caches)
    return median_range([fn() for _ in range(repeats)])


LOOPS = ("raw", "wrapped", "rules", *(f"batch {n}" for n in BATCH_SIZES))


def _cell(spread: dict[str, float]) -> str:
    return f"{spread['median'] / 1000:,.0f}k ({spread['min'] / 1000:,.0f}-{spread['max'] / 1000:,.0f}k)"


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of the rows this script writes: robot steps/s, median (range)."""
    head = " | ".join(
        [
            "bare env",
            "through PettingZoo's wrapper",
            "rules class alone",
            *(f"batch rules, {n} games" for n in BATCH_SIZES),
        ]
    )
    lines = [f"| config | {head} |", "|---|" + "---|" * len(LOOPS)]
    for r in rows:
        lines.append(f"| {r['config']} | " + " | ".join(_cell(r[loop]) for loop in LOOPS) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--steps", type=int, default=200_000, help="robot steps per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.render:
        print(table_of(args.render, table))
        return
    origin = provenance(ROOT)
    rows: list[dict[str, Any]] = []
    for name, kwargs in CONFIGS.items():
        raw = RobotDeliveryEnv(**kwargs)  # type: ignore[arg-type]
        wrapped = wrapped_env(**kwargs)
        rows.append(
            {
                "config": name,
                "env_args": kwargs,
                "steps": args.steps,
                "repeats": args.repeats,
                "raw": measure(functools.partial(aec_loop, raw, args.steps, 0), args.repeats),
                "wrapped": measure(functools.partial(aec_loop, wrapped, args.steps, 0), args.repeats),
                "rules": measure(functools.partial(rules_loop, raw, args.steps, 0), args.repeats),
                **{
                    f"batch {n}": measure(functools.partial(batch_loop, kwargs, n, args.steps, 0), args.repeats)
                    for n in BATCH_SIZES
                },
            }
        )
    print("robot steps per second, random legal actions, median (range) of", args.repeats)
    print(table(rows))
    if args.json:
        write_figures(args.json, origin, {"rows": rows})


if __name__ == "__main__":
    main()
