"""What an evaluation panel costs per test round, on the test pool.

    python benchmarks/panel_speed.py [--repeats 5] [--json benchmarks/results/panel_speed.json]

For each game and panel below, a learner (a small DQN, greedy) plays the panel as a training run's
test round does (:meth:`rbtrainer.evaluation.EvaluationPanel.play`): every opponent from every seat,
``games_per_seat`` games each, on a 16-env test pool. The panel's own round robin (played once per
run) is timed apart. Every figure is the median (and range) of ``--repeats`` rounds in one process,
after one warm-up round; the JSON holds the command, commit, date and machine.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from rbtrainer import DecentralizedTrainer, dqn_agent
from rbtrainer.evaluation import EvaluationPanel, PanelConfig
from rbtrainer.provenance import benchmark_parser, provenance, table_of, write_figures

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CASES: list[tuple[str, tuple[str, ...], int]] = [
    ("tictactoe", ("random", "minimax"), 50),
    ("connect_four", ("random", "strong"), 50),
    ("connect_four", ("random", "negamax:4"), 50),
]
"""(game, panel opponents, games per seat)."""


def measure(game: str, opponents: tuple[str, ...], games: int, repeats: int) -> dict[str, Any]:
    with DecentralizedTrainer({"game": game}, num_test_envs=16, seed=0, progress_bar=False) as trainer:
        learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), hidden_sizes=(64, 64), seed=0)
        panel = EvaluationPanel(PanelConfig(opponents=opponents, games_per_seat=games), trainer)
        began = time.perf_counter()
        panel.play({"dqn": learner}, 0, 0)  # warm-up; plays the members' round robin once
        first = time.perf_counter() - began
        times, played = [], 0
        for _ in range(repeats):
            began = time.perf_counter()
            round_ = panel.play({"dqn": learner}, 0, 0)
            times.append(time.perf_counter() - began)
            played = round_.games
    return {
        "game": game,
        "opponents": list(opponents),
        "games_per_seat": games,
        "games_per_round": played,
        "round_s_median": statistics.median(times),
        "round_s_min": min(times),
        "round_s_max": max(times),
        "first_round_s": first,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| game | panel | games per round | seconds per round, median (range) | first round (with round robin) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['game']} | {', '.join(r['opponents'])} x 2 seats x {r['games_per_seat']} | {r['games_per_round']} | "
            f"{r['round_s_median']:.2f} ({r['round_s_min']:.2f}-{r['round_s_max']:.2f}) | {r['first_round_s']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.render:
        print(table_of(args.render, table))
        return
    rows = [measure(game, opponents, games, args.repeats) for game, opponents, games in CASES]
    print(table(rows))
    if args.json:
        write_figures(args.json, provenance(ROOT), {"rows": rows})


if __name__ == "__main__":
    main()
