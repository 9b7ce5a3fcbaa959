"""Env steps and gradient steps per second against the number of rollout workers, side by side in one run.

Two parts, each the median (and range) of ``--repeats`` alternating measurements after a warm-up
that starts the workers (and pays Ray's and torch's first-use costs):

* ``test``: ``trainer.test`` with random agents in every seat, 3 robots (3 players x 1, 600 steps),
  16 envs, 48 episodes (one measurement times :data:`TEST_ROUNDS` such rounds in a row), on every
  pool: the in-process engine; the per-tick ``subproc`` and ``ray`` pools (every tick a round trip to
  the games, the acting in this process); rollout workers (``rollout_workers`` 1 and 2) on
  ``subproc`` and ``ray``.
* ``train``: ``trainer.train`` on compute-bound configurations, in one process and on 2
  ``subproc`` rollout workers, each as it is, with ``overlap`` (the update runs while the phase
  collects) and with ``update_threads=2`` (the update between phases on both cores; the table
  compares those with one process on the same setting too): ``12robots-battery`` (4 players x 3
  robots, battery, self-play DQN [64, 64], an update every 200 env steps, 0.1 gradient steps per env
  step) and ``connect4-planning`` (the planning recipe's learner and network, 48 simulations per move,
  256 envs and an update every 2,048 env steps: each of 2 workers searches for 128 games, the batch at which
  the network's forward pass is cheapest per position here; at the recipe's 64, each worker's 32 games
  make a search tick cost more per game).
  Every pool's trainer is built once; a warm-up run (worker start, numba, torch) precedes the timed ones.
  Env steps/s exclude test rounds (``TrainStats.steps_per_second``); gradient steps/s are per
  second of training.

* ``model`` (run on its own, into its own JSON): the figures a model of rollout workers on N machines
  is built from, for the same configurations, and the ceilings they give (:func:`model_table`):

  - one worker: env steps per second one ``subproc`` rollout worker collects for the trainer, the
    learner acting and exploring, with (almost) no learning (``update_per_step`` 0: one gradient
    step per phase); the transfer of the transitions and their storing in the trainer included;
  - the learner: gradient steps per second of the learner alone (``update`` on its filled memory);
  - bytes: what travels per env step (one transition: two float32 observations, two int8 masks,
    action, reward, flags and its place) and per phase to each worker (the pickled acting state).

  With the configuration's ``update_per_step`` ``u`` and phase length ``P``: ``N`` workers collect
  ``N x worker`` env steps/s; the learner's ceiling is ``learner / u`` env steps/s (each collected
  step owes ``u`` gradient steps, taken in one process); the trainer's network at ``--gbits``
  Gbit/s carries ``bandwidth / (bytes per step + N x weights / P)`` env steps/s; ``N*`` workers
  reach the learner's ceiling.

    python benchmarks/scaling.py [--parts test train] [--repeats 3] [--ray] \\
        [--json benchmarks/data/scaling.json] [--render JSON]
    python benchmarks/scaling.py --parts model [--gbits 1] --json benchmarks/data/scaling_model.json

Ray rows run only with ``--ray`` (Ray starts a local runtime of 2 CPUs).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import statistics
import time
from collections.abc import Callable
from typing import Any

from rbtrainer import DecentralizedTrainer, DQNConfig, RandomAgent, dqn_agent
from rbtrainer.agents.base import flat_obs_dim
from rbtrainer.agents.planning import planning_agent, rules_from_game
from rbtrainer.config import PlanningConfig
from rbtrainer.provenance import median_range, provenance, write_figures

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

ROBOTS_3 = {"game": "robot_delivery", "robot_colors": ["r", "b", "gr"], "required_mail": 5, "max_step": 600}
ROBOTS_12_BATTERY = {
    "game": "robot_delivery",
    "robot_colors": ["r", "b", "gr", "p"],
    "num_robots_per_player": 3,
    "required_mail": 10,
    "max_step": 1500,
    "with_battery": True,
}
TEST_POOLS: dict[str, dict[str, Any]] = {
    "in-process": {"backend": "dummy"},
    "subproc, per tick": {"backend": "subproc"},
    "ray, per tick": {"backend": "ray"},
    "subproc, 1 rollout worker": {"backend": "subproc", "rollout_workers": 1},
    "subproc, 2 rollout workers": {"backend": "subproc", "rollout_workers": 2},
    "ray, 1 rollout worker": {"backend": "ray", "rollout_workers": 1},
    "ray, 2 rollout workers": {"backend": "ray", "rollout_workers": 2},
}
TRAIN_POOLS: dict[str, dict[str, Any]] = {
    "in-process": {},
    "in-process, overlap": {"overlap": True},
    "in-process, 2 update threads": {"update_threads": 2},
    "subproc, 2 rollout workers": {"backend": "subproc", "rollout_workers": 2},
    "subproc, 2 rollout workers, overlap": {"backend": "subproc", "rollout_workers": 2, "overlap": True},
    "subproc, 2 rollout workers, 2 update threads": {"backend": "subproc", "rollout_workers": 2, "update_threads": 2},
}


TEST_ROUNDS = 8
"""Test rounds timed together as one measurement: in one process a round takes about a seventh of a second,
too short to time alone (three single rounds per pool spread over up to 2x, and their medians with them)."""


def test_part(repeats: int, ray: bool) -> list[dict[str, Any]]:
    pools = {name: p for name, p in TEST_POOLS.items() if ray or p.get("backend") != "ray"}
    trainers = {
        name: DecentralizedTrainer(
            ROBOTS_3, num_train_envs=1, num_test_envs=16, episodes_per_test=48, seed=0, progress_bar=False, **pool
        )
        for name, pool in pools.items()
    }
    agents = [RandomAgent(seed=s) for s in range(3)]
    rates: dict[str, list[float]] = {name: [] for name in pools}
    firsts = {}
    for name, trainer in trainers.items():  # the first call starts the workers
        start = time.perf_counter()
        trainer.test(agents)
        firsts[name] = time.perf_counter() - start
    for _ in range(repeats):
        for name, trainer in trainers.items():  # alternating: every pool sees the same load
            start = time.perf_counter()
            results = [trainer.test(agents) for _ in range(TEST_ROUNDS)]
            steps = sum(result.mean_episode_length * result.num_episodes for result in results)
            rates[name].append(steps / (time.perf_counter() - start))
    for trainer in trainers.values():
        trainer.close()
    return [
        {
            "pool": name,
            "settings": pools[name],
            "env_steps_per_s": median_range(rates[name]),
            "first_call_s": firsts[name],
        }
        for name in pools
    ]


Agents = Callable[[], list[Any]]
"""Fresh agents for a trainer's seats (a new learner each time)."""


def robots_run(pool: dict[str, Any]) -> tuple[DecentralizedTrainer, Agents]:
    settings = {"num_train_envs": 16, "num_test_envs": 4, "batch_size": 64, "update_freq": 200, "update_per_step": 0.1,
                "test_freq": 10**9, "episodes_per_train": None, "max_env_steps": 40_000, "episodes_per_test": 4,
                "seed": 0, "progress_bar": False, "panel": False}  # fmt: skip
    trainer = DecentralizedTrainer(ROBOTS_12_BATTERY, **{**settings, **pool})

    def agents() -> list[Any]:
        learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=1,
                            config=DQNConfig(hidden_sizes=(64, 64), buffer_size=100_000))  # fmt: skip
        return [learner] * trainer.num_seats

    return trainer, agents


def planning_run(pool: dict[str, Any]) -> tuple[DecentralizedTrainer, Agents]:
    settings = {"num_train_envs": 256, "num_test_envs": 4, "batch_size": 256, "update_freq": 2048,
                "update_per_step": 0.02, "test_freq": 10**9, "episodes_per_train": None, "max_env_steps": 8192,
                "episodes_per_test": 4, "seed": 0, "progress_bar": False, "panel": False}  # fmt: skip
    trainer = DecentralizedTrainer({"game": "connect_four"}, **{**settings, **pool})
    config = PlanningConfig(simulations=48, play_simulations=48, channels=32, blocks=2, sample_moves=8)
    rules = rules_from_game(trainer.make_game)

    def agents() -> list[Any]:
        learner = planning_agent(rules, trainer.observation_space(0), trainer.action_space(0), config=config, seed=1)
        return [learner, learner]

    return trainer, agents


TRAIN_CONFIGS: dict[str, Callable[[dict[str, Any]], tuple[DecentralizedTrainer, Agents]]] = {
    "12robots-battery": robots_run,
    "connect4-planning": planning_run,
}
"""Each configuration's builder: a trainer on a pool, and a maker of fresh agents for it."""


def train_part(repeats: int) -> list[dict[str, Any]]:
    """Every pool's trainer is built once and trains ``repeats + 1`` fresh learners (the first warms the pool
    up: worker start, numba, torch), the pools taking turns."""
    rows = []
    for config, build in TRAIN_CONFIGS.items():
        built = {name: build(pool) for name, pool in TRAIN_POOLS.items()}
        env_rates: dict[str, list[float]] = {name: [] for name in built}
        grad_rates: dict[str, list[float]] = {name: [] for name in built}
        for round_ in range(repeats + 1):
            for name, (trainer, agents) in built.items():
                seats = agents()
                stats = trainer.train(seats, [True] * len(seats), plot=False)
                if round_:
                    env_rates[name].append(stats.steps_per_second)
                    grad_rates[name].append(stats.gradient_steps / max(stats.training_time - stats.test_time, 1e-9))
        for name, (trainer, _) in built.items():
            trainer.close()
            rows.append(
                {
                    "config": config,
                    "pool": name,
                    "settings": TRAIN_POOLS[name],
                    "env_steps_per_s": median_range(env_rates[name]),
                    "gradient_steps_per_s": median_range(grad_rates[name]),
                }
            )
    return rows


def _bytes_per_step(trainer: Any) -> int:
    """Bytes of one transition as rollout workers send it (observations float32, masks int8)."""
    obs = flat_obs_dim(trainer.observation_space(0))
    actions = int(trainer.action_space(0).n)
    return (
        2 * 4 * obs + 2 * actions + 8 * 3 + 8 + 8 + 2
    )  # obs, obs_next; masks; act, env, seat; reward; tick, group; flags


def model_part(config: str, repeats: int) -> dict[str, Any]:
    build = TRAIN_CONFIGS[config]
    plain, _ = build({})
    with plain:
        update_per_step = plain.config.update_per_step
    worker: list[float] = []
    learner_rates: list[float] = []
    trainer, agents = build({"backend": "subproc", "rollout_workers": 1, "update_per_step": 0.0})
    with trainer:
        for round_ in range(repeats + 1):  # round 0 warms up
            seats = agents()
            stats = trainer.train(seats, [True] * len(seats), plot=False)
            learner = seats[0]
            start = time.perf_counter()
            steps = learner.update(trainer.config.batch_size, 200)
            learner_seconds = time.perf_counter() - start
            if round_:
                worker.append(stats.steps_per_second)
                learner_rates.append(steps / learner_seconds)
        phase = trainer.config.update_freq
        weights = len(pickle.dumps(learner.acting_state(), protocol=pickle.HIGHEST_PROTOCOL))
        per_step = _bytes_per_step(trainer)
    return {
        "config": config,
        "worker_env_steps_per_s": statistics.median(worker),
        "worker_range": [min(worker), max(worker)],
        "learner_gradient_steps_per_s": statistics.median(learner_rates),
        "learner_range": [min(learner_rates), max(learner_rates)],
        "update_per_step": update_per_step,
        "phase_env_steps": phase,
        "bytes_per_env_step": per_step,
        "weights_bytes": weights,
    }


def model_table(data: dict[str, Any]) -> str:
    """The measured figures and the ceilings they give (see the module)."""
    bandwidth = data["gbits"] * 1e9 / 8
    lines = [
        "| config | one worker, env steps/s | learner, gradient steps/s | u | learner's ceiling, env steps/s "
        "| bytes per env step | weights per phase, bytes | N* (workers at the learner's ceiling) "
        f"| network ceiling at {data['gbits']:g} Gbit/s and N*, env steps/s | saturates first |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        u = r["update_per_step"]
        learner_cap = r["learner_gradient_steps_per_s"] / u if u else float("inf")
        n_star = learner_cap / r["worker_env_steps_per_s"]
        n = max(1, round(n_star))
        network_cap = bandwidth / (r["bytes_per_env_step"] + n * r["weights_bytes"] / r["phase_env_steps"])
        first = "the learner" if learner_cap <= network_cap else "the network"
        lines.append(
            f"| {r['config']} | {r['worker_env_steps_per_s']:,.0f} | {r['learner_gradient_steps_per_s']:,.0f} | {u:g} "
            f"| {learner_cap:,.0f} | {r['bytes_per_env_step']:,} | {r['weights_bytes']:,} | {n_star:.1f} "
            f"| {network_cap:,.0f} | {first} |"
        )
    return "\n".join(lines)


def _cell(spread: dict[str, float]) -> str:
    return f"{spread['median']:,.0f} ({spread['min']:,.0f}-{spread['max']:,.0f})"


def test_table(rows: list[dict[str, Any]]) -> str:
    base = next(r for r in rows if r["pool"] == "in-process")["env_steps_per_s"]["median"]
    lines = ["| pool | env steps/s | x in-process | first call, s |", "|---|---|---|---|"]
    for r in rows:
        rate = r["env_steps_per_s"]
        lines.append(f"| {r['pool']} | {_cell(rate)} | {rate['median'] / base:.2f} | {r['first_call_s']:.1f} |")
    return "\n".join(lines)


def train_table(rows: list[dict[str, Any]]) -> str:
    """Each pool's rate, against one process as the trainer runs by default and against one process on the
    pool's own settings (``overlap``, ``update_threads``): the same work on the same settings but the workers."""
    lines = [
        "| config | pool | env steps/s | x one process | x one process, same settings | gradient steps/s |",
        "|---|---|---|---|---|---|",
    ]

    def rate(config: str, settings: dict[str, Any]) -> float | None:
        return next(
            (b["env_steps_per_s"]["median"] for b in rows if b["config"] == config and b["settings"] == settings),
            None,
        )

    for r in rows:
        median = r["env_steps_per_s"]["median"]
        base = rate(r["config"], {})
        own = {k: v for k, v in r["settings"].items() if k not in ("backend", "rollout_workers")}
        same = rate(r["config"], own)
        lines.append(
            f"| {r['config']} | {r['pool']} | {_cell(r['env_steps_per_s'])} | {median / base:.2f} | "
            f"{'-' if same is None else f'{median / same:.2f}'} | {_cell(r['gradient_steps_per_s'])} |"
            if base
            else f"| {r['config']} | {r['pool']} | {_cell(r['env_steps_per_s'])} | - | - | "
            f"{_cell(r['gradient_steps_per_s'])} |"
        )
    return "\n".join(lines)


def tables(data: dict[str, Any]) -> str:
    out = []
    if data.get("test"):
        out += ["Test loop, 3 robots, random agents, 16 envs, 48 episodes:", "", test_table(data["test"]), ""]
    if data.get("train"):
        out += ["Train loop (test rounds excluded):", "", train_table(data["train"])]
    return "\n".join(out).rstrip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["test", "train"], choices=["test", "train", "model"])
    parser.add_argument("--gbits", type=float, default=1.0, help="model: the trainer machine's network, Gbit/s")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ray", action="store_true", help="also measure the Ray pools (starts a local Ray runtime)")
    parser.add_argument("--json", help="also write the figures (with command, commit, date, machine) to this file")
    parser.add_argument("--render", metavar="JSON", help="print the tables of a JSON file this script wrote")
    args = parser.parse_args()
    if args.render:
        with open(args.render, encoding="utf-8") as handle:
            written = json.load(handle)
        print(model_table(written) if "gbits" in written else tables(written))
        return
    logging.basicConfig(level=logging.WARNING)
    origin = provenance(ROOT)
    if args.ray:
        import ray

        ray.init(num_cpus=os.cpu_count() or 2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    if "model" in args.parts:
        if len(args.parts) > 1:
            parser.error("--parts model runs alone (its figures go to their own JSON)")
        model = {
            "gbits": args.gbits,
            "repeats": args.repeats,
            "rows": [model_part(c, args.repeats) for c in TRAIN_CONFIGS],
        }
        print(model_table(model))
        if args.json:
            write_figures(args.json, origin, model)
        return
    data: dict[str, Any] = {"repeats": args.repeats, "cores": os.cpu_count()}
    if "test" in args.parts:
        data["test"] = test_part(args.repeats, args.ray)
    if "train" in args.parts:
        data["train"] = train_part(args.repeats)
    print(tables(data))
    if args.json:
        write_figures(args.json, origin, data)


if __name__ == "__main__":
    main()
