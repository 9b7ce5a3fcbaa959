"""Speed on the reference's own work, beside the reference's figures, with each goal met or not.

The reference trainer (rbgame on Tianshou 1.0) was measured on this kind of 2-core machine doing
exactly this work: 3 players x 1 robot, 5 mails, max_step 600, 16 train envs, DQN hidden [64, 64],
Adam lr 1e-3, gamma 0.99, n-step 30, target update every 500 gradient steps, double Q, plain
replay of 600 x 320 transitions, an update every 200 env steps with 0.02 gradient steps per env
step, batch 64, 320 episodes, the same agent in every seat, learning seat 0 only, every seat
exploring, epsilon = max(0.05, 0.9995^episode). This script runs that configuration and reports:

* ``train loop``: env steps per second over the whole first ``train()`` call of a fresh process
  (whatever that call compiles or allocates counts), also with ``overlap=True`` (collection while
  the learners update) and on the ``subproc`` pool with and without it;
* ``gradient steps``: the DQN learner's gradient steps per second on the memory that run filled
  (n-step 30 over its 16 streams), against the **floor**: a plain PyTorch loop (sample a batch
  from a NumPy array, forward, loss, backward, Adam step) with the same network and batch, the
  two taking turns three times in the train-loop process on one torch thread;
* ``test loop``: ``trainer.test`` with random agents, 16 envs, 48 episodes;
* ``overhead``: how much slower that test loop is than the bare game loop (the raw PettingZoo
  env driven by ``agent_iter``/``last``/``step`` with random legal actions, one env), the two
  taking turns three times in one process;
* ``peak RSS`` of the train-loop process;
* ``start-up``: wall time of ``rbtrainer train --episodes-per-train 1`` (default game) in an
  empty directory.

Every figure is measured in its own fresh process, the kinds alternating, ``--repeats`` times;
the table gives medians and ranges.

The reference's own figures come from the same run when ``--reference-python PY`` names the
Python of an environment where the reference (rbgame, with Tianshou 1.0) is installed:
``benchmarks/reference_loops.py`` then measures its train loop (and peak RSS) and its test loop on
the same configuration, each in a fresh process taking turns with this project's kinds, and the
ratios are between medians of the same run. Without it the table falls back to figures of the
reference measured on another day (``REFERENCE``), and says so: the reference's train loop swings
several times with the load of the machine, so those ratios say little.

    python benchmarks/reference_speed.py [--repeats 3] [--json out.json] [--reference-python PY]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

ENV_ARGS: dict[str, Any] = {
    "game": "robot_delivery",
    "robot_colors": ["r", "b", "gr"],
    "required_mail": 5,
    "max_step": 600,
}
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
REFERENCE = {"train": 3_500.0, "test": 10_200.0, "rss_mb": 510.0, "startup_s": 17.6}
"""The reference's figures measured on another day (train/test: env steps per second) and the
start-up before this work: the fallback without ``--reference-python``."""
REFERENCE_LOOPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_loops.py")
REFERENCE_KINDS = {"reference_train": "train", "reference_test": "test"}
"""Kinds run by the reference's Python (``reference_loops.py --loop ...``)."""
GOALS = {"train": 3.0, "test": 10.0, "grad_vs_floor": 2.0, "overhead": 0.30, "rss_mb": 510.0, "startup_s": 8.0}
FLOOR_STEPS = 1_000
OUR_GRAD_STEPS = 600


def _trainer(**overrides: Any) -> Any:
    from rbtrainer import DecentralizedTrainer

    args: dict[str, Any] = {
        "num_train_envs": 16,
        "num_test_envs": 16,
        "batch_size": 64,
        "update_freq": 200,
        "update_per_step": 0.02,
        "test_freq": 10**9,
        "episodes_per_train": 320,
        "episodes_per_test": 16,
        "seed": 0,
        "progress_bar": False,
    }
    return DecentralizedTrainer(ENV_ARGS, **{**args, **overrides})


def child_train(backend: str = "dummy", overlap: bool = False) -> dict[str, float]:
    """The reference configuration's first train() call, then the learner's gradient steps and
    the floor's, taking turns."""
    import torch

    from rbtrainer import dqn_agent
    from rbtrainer.agents.base import flat_obs_dim

    trainer = _trainer(backend=backend, overlap=overlap)
    learner = dqn_agent(
        trainer.observation_space(0),
        trainer.action_space(0),
        seed=1,
        hidden_sizes=(64, 64),
        lr=1e-3,
        gamma=0.99,
        n_step=30,
        target_update_freq=500,
        double=True,
        buffer_size=600 * 320,
        epsilon=1.0,
    )

    def epsilon(episode: int, _step: int) -> None:
        learner.epsilon = max(0.05, 0.9995**episode)

    trainer.train_fn = epsilon
    start = time.perf_counter()
    stats = trainer.train([learner] * trainer.num_seats, [True, False, False], plot=False)
    wall = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if backend != "dummy" or overlap:
        trainer.close()
        return {f"train_{backend}{'_overlap' if overlap else ''}": stats.collected_steps / wall}
    # the learner's gradient steps and the floor's, taking turns three times on one thread
    torch.set_num_threads(1)
    floor = _floor(flat_obs_dim(trainer.observation_space(0)), int(trainer.action_space(0).n))
    trainer.close()
    ours, floors = [], []
    for _ in range(3):
        began = time.perf_counter()
        learner.update(64, OUR_GRAD_STEPS)
        ours.append(OUR_GRAD_STEPS / (time.perf_counter() - began))
        floors.append(floor(FLOOR_STEPS))
    grad, floor_rate = statistics.median(ours), statistics.median(floors)
    return {"train": stats.collected_steps / wall, "train_s": wall, "rss_mb": rss, "grad": grad, "floor": floor_rate}


def _floor(obs_dim: int, n_actions: int) -> Callable[[int], float]:
    """The floor: plain PyTorch DQN updates with the same network, batch and observation size;
    returns a function that runs ``n`` steps and answers their rate (steps per second)."""
    import numpy as np
    import torch

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    rows = 600 * 320
    obs = rng.random((rows, obs_dim), dtype=np.float32)
    act = rng.integers(0, n_actions, rows)
    target = rng.random(rows, dtype=np.float32)
    layers = [torch.nn.Linear(obs_dim, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(64, n_actions))
    optim = torch.optim.Adam(net.parameters(), lr=1e-3)
    arange = torch.arange(64)

    def steps(n: int) -> float:
        began = time.perf_counter()
        for _ in range(n):
            rows_B = rng.integers(0, rows, 64)
            q = net(torch.from_numpy(obs[rows_B]))[arange, torch.from_numpy(act[rows_B])]
            loss = (q - torch.from_numpy(target[rows_B])).pow(2).mean()
            optim.zero_grad()
            loss.backward()
            optim.step()
        return n / (time.perf_counter() - began)

    steps(100)  # warm-up
    return steps


def child_test() -> dict[str, float]:
    """The test loop with random agents (after a warm-up round) and the bare game loop, taking
    turns three times in one process (medians of each), so both see the same machine."""
    from game_speed import aec_loop  # benchmarks/ is this script's directory

    from games.robot_delivery import RobotDeliveryEnv
    from rbtrainer import RandomAgent

    trainer = _trainer(episodes_per_test=48)
    agents = [RandomAgent(seed=s) for s in range(trainer.num_seats)]
    trainer.test(agents)
    env = RobotDeliveryEnv(**{k: v for k, v in ENV_ARGS.items() if k != "game"})
    tests, bares = [], []
    for _ in range(3):
        began = time.perf_counter()
        result = trainer.test(agents)
        tests.append(result.mean_episode_length * result.num_episodes / (time.perf_counter() - began))
        bares.append(aec_loop(env, 100_000, seed=0))  # the game loop of benchmarks/game_speed.py
    trainer.close()
    return {"test": statistics.median(tests), "bare": statistics.median(bares)}


def child_startup() -> dict[str, float]:
    """Wall time of a 1-episode ``rbtrainer train`` (default game) in an empty directory."""
    with tempfile.TemporaryDirectory() as directory:
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "rbtrainer", "train", "--episodes-per-train", "1"],
            cwd=directory,
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        return {"startup_s": time.perf_counter() - began}


CHILDREN: dict[str, Callable[[], dict[str, float]]] = {
    "train": child_train,
    "train_overlap": functools.partial(child_train, overlap=True),
    "train_subproc": functools.partial(child_train, backend="subproc"),
    "train_subproc_overlap": functools.partial(child_train, backend="subproc", overlap=True),
    "test": child_test,
    "startup": child_startup,
}


def _run_child(kind: str, reference_python: str | None = None) -> dict[str, float]:
    if kind in REFERENCE_KINDS:
        command = [str(reference_python), REFERENCE_LOOPS, "--loop", REFERENCE_KINDS[kind]]
    else:
        command = [sys.executable, __file__, "--child", kind]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{' '.join(command)} failed (exit {done.returncode}):\n{tail}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _figure(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _verdict(value: float, goal: float, higher_is_better: bool) -> str:
    if (value >= goal) if higher_is_better else (value <= goal):
        return "met"
    short = goal / value if higher_is_better else value / goal
    return f"short ({short:.2f}x off)"


def table(data: dict[str, Any]) -> str:
    """The figures of a run (``--json``) as a Markdown table, each goal met or not."""
    fig, side_by_side = data["figures"], data["reference_side_by_side"]
    med = {key: f["median"] for key, f in fig.items()}

    def span(key: str, fmt: str) -> str:
        return f"{format(fig[key]['median'], fmt)} ({format(fig[key]['min'], fmt)}-{format(fig[key]['max'], fmt)})"

    reference = dict(REFERENCE)
    shown = {key: f"{value:,.0f} (dated)" for key, value in REFERENCE.items()}
    if side_by_side:  # the same run's medians, not the dated figures
        for key in ("train", "test", "rss_mb"):
            reference[key] = med[f"reference_{key}"]
            shown[key] = span(f"reference_{key}", ",.0f")
    rows = [
        (
            "train loop, env steps/s (whole first train())",
            span("train", ",.0f"),
            shown["train"],
            f"{med['train'] / reference['train']:.2f}x",
            f">= {GOALS['train']:g}x",
            _verdict(med["train"] / reference["train"], GOALS["train"], True),
        ),
        (
            "DQN gradient steps/s (n-step 30, 16 streams) vs floor",
            f"{span('grad', ',.0f')} vs {span('floor', ',.0f')}",
            "",
            f"floor/ours {med['grad_vs_floor']:.2f}",
            f"<= {GOALS['grad_vs_floor']:g}",
            _verdict(med["grad_vs_floor"], GOALS["grad_vs_floor"], False),
        ),
        (
            "train loop with overlap=True (dummy pool), env steps/s",
            span("train_dummy_overlap", ",.0f"),
            "",
            f"{med['train_dummy_overlap'] / med['train']:.2f}x plain",
            "report",
            "",
        ),
        (
            "train loop, subproc pool (2 workers): plain / overlap=True",
            f"{span('train_subproc', ',.0f')} / {span('train_subproc_overlap', ',.0f')}",
            "",
            f"{med['train_subproc_overlap'] / med['train_subproc']:.2f}x plain",
            "report",
            "",
        ),
        (
            "test loop, random agents, 16 envs, 48 episodes, env steps/s",
            span("test", ",.0f"),
            shown["test"],
            f"{med['test'] / reference['test']:.2f}x",
            f">= {GOALS['test']:g}x",
            _verdict(med["test"] / reference["test"], GOALS["test"], True),
        ),
        (
            "trainer overhead over the bare game loop (random agents)",
            f"{med['overhead']:.0%} (bare {span('bare', ',.0f')} steps/s)",
            "",
            "",
            f"<= {GOALS['overhead']:.0%}",
            _verdict(med["overhead"], GOALS["overhead"], False),
        ),
        (
            "peak RSS of the train-loop process, MB",
            span("rss_mb", ".0f"),
            shown["rss_mb"],
            f"{med['rss_mb'] / reference['rss_mb']:.2f}x",
            f"<= {GOALS['rss_mb']:.0f}",
            _verdict(med["rss_mb"], GOALS["rss_mb"], False),
        ),
        (
            "start-up: rbtrainer train, 1 episode, wall s",
            span("startup_s", ".1f"),
            f"{REFERENCE['startup_s']:.1f} (before)",
            "",
            f"<= {GOALS['startup_s']:g}",
            _verdict(med["startup_s"], GOALS["startup_s"], False),
        ),
    ]
    head = (
        "The reference measured in this run, taking turns with rbtrainer."
        if side_by_side
        else "The reference's figures were measured on another day (no --reference-python): ratios against them "
        "say little, its speed swings with the load of the machine."
    )
    lines = [
        f"Medians (ranges) of {data['repeats']} fresh processes each. {head}",
        "",
        "| what | rbtrainer | reference | ratio | goal | verdict |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--reference-python", help="measure the reference's loops in this Python, in the same run")
    parser.add_argument("--child", choices=list(CHILDREN), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child]()))
        return
    from rbtrainer.provenance import provenance, write_figures

    origin = provenance(ROOT)  # the code the runs start from
    kinds = list(CHILDREN)
    if args.reference_python:
        from reference_row import check_python  # benchmarks/ is this script's directory

        try:  # before anything runs
            check_python(args.reference_python, ", or leave it out to compare with the dated figures")
        except ValueError as error:
            parser.error(str(error))
        kinds += list(REFERENCE_KINDS)

    runs: dict[str, list[float]] = {}
    for _ in range(args.repeats):  # alternating kinds, each in a fresh process
        for kind in kinds:
            for key, value in _run_child(kind, args.reference_python).items():
                runs.setdefault(key, []).append(value)
    for train, bare in zip(runs["test"], runs["bare"]):
        runs.setdefault("overhead", []).append(bare / train - 1.0)
    for grad, floor in zip(runs["grad"], runs["floor"]):
        runs.setdefault("grad_vs_floor", []).append(floor / grad)
    fig = {key: _figure(values) for key, values in runs.items()}
    data = {"repeats": args.repeats, "runs": runs, "figures": fig, "reference_side_by_side": "reference_train" in fig}
    print(table(data))
    if args.json:
        write_figures(args.json, origin, data)


if __name__ == "__main__":
    main()
