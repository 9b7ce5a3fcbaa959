"""What the planning search's solver costs, and what it proves, on the shipped agents' networks.

    python benchmarks/search_speed.py [--repeats 5] [--json benchmarks/data/search_speed.json]

For each case below, :func:`rbtrainer.agents.mcts.run_search` searches a batch of positions (reached
by uniformly random play from the empty board, none of them over) with the shipped planning agent's
network (``pretrained/``, one torch thread), once without and once with ``solver=True``, the two
alternating for ``--repeats`` rounds after one warm-up round of each. Figures: simulations per
second (roots x simulations / seconds per call), median and range; the plain search's median
seconds per call (with one root: the time one move of one game takes at that budget); the solver's
speed as a share of the plain search's (median of the per-round ratios); and the share of the roots
the solver proved.
The JSON holds the command, commit, date and machine.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import numpy as np
import torch

from games.board_search import BoardSearchRules
from rbtrainer import DecentralizedTrainer
from rbtrainer.agents.mcts import run_search
from rbtrainer.agents.planning import PlanningLearner, network_evaluator
from rbtrainer.evaluation import agent_from_spec
from rbtrainer.provenance import benchmark_parser, median_range, provenance, table_of, write_figures

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CASES: list[tuple[str, str, int, int, tuple[int, int]]] = [
    ("tictactoe", "pretrained/tictactoe_planning.pt", 64, 64, (0, 6)),
    ("connect_four", "pretrained/connect_four_planning.pt", 256, 48, (0, 30)),
    ("connect_four", "pretrained/connect_four_planning.pt", 128, 200, (0, 30)),
    ("connect_four", "pretrained/connect_four_planning.pt", 1, 800, (0, 30)),
]
"""(game, agent, roots, simulations per root, pieces on the board (low, high))."""


def measure(
    game: str, path: str, roots: int, simulations: int, pieces: tuple[int, int], repeats: int
) -> dict[str, Any]:
    with DecentralizedTrainer({"game": game}, num_test_envs=2, episodes_per_test=2, seed=0) as trainer:
        learner = agent_from_spec(os.path.join(ROOT, path), trainer, seed=0)
    if not isinstance(learner, PlanningLearner) or not isinstance(learner.rules, BoardSearchRules):
        raise TypeError(f"{path} holds no planning learner of a board game")
    evaluate = network_evaluator(learner.network, learner.rules, learner.device)
    batch = learner.rules.random_positions(roots, pieces, np.random.default_rng(0))
    speed: dict[bool, list[float]] = {False: [], True: []}
    proven = 0.0
    for round_ in range(repeats + 1):
        for solver in (False, True):
            began = time.perf_counter()
            result = run_search(learner.rules, evaluate, batch, simulations, solver=solver)
            if round_:  # the first round warms up
                speed[solver].append(roots * simulations / (time.perf_counter() - began))
            proven = float(result.proven.mean()) if solver else proven
    ratios = [s / p for s, p in zip(speed[True], speed[False], strict=True)]
    return {
        "game": game,
        "agent": path,
        "roots": roots,
        "simulations": simulations,
        "pieces": list(pieces),
        "plain": median_range(speed[False]),
        "solver": median_range(speed[True]),
        "solver_share": statistics.median(ratios),
        "proven_share": proven,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| game | roots x simulations | pieces | simulations/s, plain | s per search, plain | simulations/s, solver "
        "| solver / plain | roots proven |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        plain, solver = r["plain"], r["solver"]
        lines.append(
            f"| {r['game']} | {r['roots']} x {r['simulations']} | {r['pieces'][0]}-{r['pieces'][1]} | "
            f"{plain['median']:,.0f} ({plain['min']:,.0f}-{plain['max']:,.0f}) | "
            f"{r['roots'] * r['simulations'] / plain['median']:.3f} | "
            f"{solver['median']:,.0f} ({solver['min']:,.0f}-{solver['max']:,.0f}) | "
            f"{r['solver_share']:.2f} | {r['proven_share']:.0%} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.render:
        print(table_of(args.render, table))
        return
    torch.set_num_threads(1)
    rows = [measure(*case, args.repeats) for case in CASES]
    print(table(rows))
    if args.json:
        write_figures(args.json, provenance(ROOT), {"rows": rows})


if __name__ == "__main__":
    main()
