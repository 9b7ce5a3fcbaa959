"""The reference's robot-delivery results table on this machine, and trained agents against A*.

The reference game's documentation publishes self-play DQN results for 2 to 12 robots, with and
without battery (metric: the mean reward of all agents over the test episodes). Read off its
figures, each row's plateau and the episodes it first reached it at:

    robots  no battery                 battery
    2       ~21 at ~2,000 episodes     ~26 at ~6,000
    3       ~15 at ~1,500              ~24 at ~5,500
    4       ~14.5 at ~2,000            ~24 at ~9,000
    6       ~18 at ~2,000              ~22 at ~6,000
    8       ~17 at ~4,000              ~21.5 at ~9,500
    9       ~16.5 at ~3,300            ~20.5 at ~10,000
    12      ~15.5 at ~2,500            ~17 at 15,000 (still rising)

Every row is R players of one robot each (read from the reference's code and runs of its own
trainer: its robots train independently, its observation holds no team, and its A* agent lands
near the battery plateaus only so). Without battery a player needs 4 mails to win, with battery 6;
max_step is 500 for 2-4 robots, 800 for 6, 1,000 for 8, 1,200 for 9 and 1,500 for 12.

Each row trains ``configs/robots_<row>.toml`` (self-play dueling DQN, the same settings for every
row but one: row 4b learns at 5e-4, the others at 3e-3) until its test metric first reaches the
reference's plateau, the wall-time budget runs out or it has collected the reference's episode
count, then keeps going ``--hold-episodes`` more (default 100).
Recorded: the test metric curve, the episodes, env steps and wall time to first reach the plateau
(the goal: at most 1/4 of the reference's episodes, within 20 minutes), and for scale the metric
of the A* agent playing every seat of the same game. For 2 and 3 robots the
best test round's snapshot then plays the A* agent in every seat order (``--games`` per seating).
Rows (and seeds) run side by side in ``--jobs`` processes; each writes
``<out-dir>/robots_<row>_seed<s>.json`` (``--reuse`` reads those instead of training again, says
which row it reads and which it trains, and stops when it finds none). The
script prints both tables in Markdown, one line per row and seed, and writes the curves of the
first seed to ``<plot-dir>/robot_results.png``.

    python benchmarks/robot_results.py [--rows 2 2b 3 3b 4 4b 6 6b 8 8b 9 9b 12 12b] [--seeds 0] [--minutes 20]

With ``--reference-python PY`` the rows train with the reference's own trainer instead, side by
side on this machine: ``PY`` is the Python of an environment that has the reference's package
(rbgame, at its commit a9bf3ec) and Tianshou 1.0 installed, and ``benchmarks/reference_row.py``
runs each row in it with the reference's published settings, for ``--reference-episodes``
(default: the episodes the reference first reached its plateau at) or ``--minutes``, whichever
ends first. ``--ours FILE`` (what ``--json`` wrote) puts this trainer's figures for the same rows
beside them; ``--json`` then writes both.

    python benchmarks/robot_results.py --rows 2 6 --reference-python PY --ours robot_results.json --json FILE

``--astar-splits`` only measures the A* agent in every seat of each row's game for every way of
splitting its robots into at least two players (P players x K robots), the metric as above: how
the rows were read as R x 1 (``docs/reference-table.md``).

``--json`` files are rendered on the docs' Results page (``benchmarks/render.py``).
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from rbtrainer.files import atomic_write
from rbtrainer.provenance import provenance, write_figures
from rbtrainer.recipes import Recipe

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CONFIGS = os.path.join(ROOT, "configs")
REFERENCE: dict[str, tuple[float, int]] = {
    "2": (21.0, 2_000),
    "2b": (26.0, 6_000),
    "3": (15.0, 1_500),
    "3b": (24.0, 5_500),
    "4": (14.5, 2_000),
    "4b": (24.0, 9_000),
    "6": (18.0, 2_000),
    "6b": (22.0, 6_000),
    "8": (17.0, 4_000),
    "8b": (21.5, 9_500),
    "9": (16.5, 3_300),
    "9b": (20.5, 10_000),
    "12": (15.5, 2_500),
    "12b": (17.0, 15_000),
}
"""Per row: the reference's plateau and the episodes it first reached it at."""
CROSSPLAY = ("2", "2b", "3", "3b")
REFERENCE_ROW = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_row.py")
"""The driver that runs one row in the reference's environment."""
OURS = ("reached", "best_metric", "best_episode", "episodes", "env_steps", "wall_seconds", "astar_selfplay")
"""What a reference row keeps of this trainer's run of the same row."""
HOLD_EPISODES = 100
"""Episodes a row keeps training after it first reaches the plateau (the README's table ran with it)."""


def _recipe(row: str, **trainer: Any) -> Recipe:
    """The recipe of ``row`` (``configs/robots_<row>.toml``), ``trainer`` settings replaced."""
    return Recipe.from_toml(os.path.join(CONFIGS, f"robots_{row}.toml"), trainer=trainer)


def run_row(row: str, seed: int, minutes: float, hold: int, games: int, out_dir: str) -> dict[str, Any]:
    """Train one row; returns (and writes) its figures."""
    from rbtrainer import AStarDeliveryAgent, Progress, progress_hook
    from rbtrainer.evaluation import tournament

    plateau, reference_episodes = REFERENCE[row]
    recipe = _recipe(row, seed=seed, progress_bar=False, episodes_per_train=reference_episodes, plot_name=None)
    env_args = recipe.env
    run = recipe.build()
    trainer = run.trainer
    best = run.keep_best_snapshot()
    reached: dict[str, float] = {}
    began = time.perf_counter()

    def stop(progress: Progress) -> bool:
        elapsed, metric, episodes = time.perf_counter() - began, progress.reward_metric, progress.episodes
        if metric is not None and metric >= plateau and not reached:
            reached.update(episodes=episodes, steps=progress.env_steps, seconds=elapsed, metric=metric)
        if reached:
            return episodes >= reached["episodes"] + hold
        return elapsed >= minutes * 60

    trainer.stop_fn = progress_hook(stop)
    stats = run.train(plot=False)
    result: dict[str, Any] = {
        "row": row,
        "seed": seed,
        "env": env_args,
        "plateau": plateau,
        "reference_episodes": reference_episodes,
        "reached": reached or None,
        "episodes": stats.collected_episodes,
        "env_steps": stats.collected_steps,
        "wall_seconds": round(time.perf_counter() - began, 1),
        "best_metric": stats.best_reward_metric,
        "best_episode": best.episodes,
        "astar_selfplay": astar_selfplay(row, seed),
        "curve": [list(p) for p in zip(stats.test_episodes, stats.test_steps, stats.reward_metric_history)],
    }
    if row in CROSSPLAY:
        num_robots = len(env_args["robot_colors"]) * env_args.get("num_robots_per_player", 1)
        astar = AStarDeliveryAgent(num_robots, with_battery=env_args.get("with_battery", False), seed=seed)
        table = tournament(trainer, {"dqn": best.agent, "astar": astar}, games, seed=seed)
        result["crossplay"] = {
            e.name: {
                "games": e.games,
                "wins": e.wins,
                "draws": e.draws,
                "losses": e.losses,
                "mean_winning_clock": e.mean_winning_span,
            }
            for e in table.entrants
        }
    run.close()
    with atomic_write(_result_path(out_dir, row, seed)) as handle:
        handle.write(json.dumps(result, indent=2).encode())
    return result


def run_reference_row(row: str, seed: int, python: str, episodes: int | None, minutes: float) -> dict[str, Any]:
    """Train ``row`` with the reference's own trainer (``reference_row.py`` under ``python``)."""
    plateau, reference_episodes = REFERENCE[row]
    env = _recipe(row).env
    budget = episodes or reference_episodes
    command = [
        python,
        REFERENCE_ROW,
        "--players",
        str(len(env["robot_colors"])),
        "--mails",
        str(env["required_mail"]),
        "--max-step",
        str(env["max_step"]),
        "--episodes",
        str(budget),
        "--minutes",
        str(minutes),
        "--plateau",
        str(plateau),
        "--seed",
        str(seed),
    ] + (["--battery"] if env.get("with_battery") else [])
    tail: collections.deque[str] = collections.deque(maxlen=5)
    with (
        tempfile.TemporaryFile("w+") as out,
        subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, text=True) as child,
    ):
        for line in child.stderr or ():  # the driver's test rounds as they come, over runs of an hour or more
            tail.append(line.rstrip())
            if line.startswith("episode "):
                print(f"row {row} seed {seed}, reference: {line.rstrip()}", file=sys.stderr, flush=True)
        code = child.wait()
        out.seek(0)
        printed = out.read()
    if code != 0:
        tail_text = "\n".join(tail)
        raise RuntimeError(f"the reference's trainer failed on row {row} (exit {code}):\n{tail_text}")
    return {
        "row": row,
        "seed": seed,
        "env": env,
        "plateau": plateau,
        "reference_episodes": reference_episodes,
        "budget_episodes": budget,
        "budget_minutes": minutes,
        "reference_run": json.loads(printed.strip().splitlines()[-1]),
    }


def _in_reference_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows sorted as the reference's table lists them, then by seed."""
    order = {row: k for k, row in enumerate(REFERENCE)}
    return sorted(rows, key=lambda r: (order[r["row"]], r["seed"]))


def reference_table(rows: list[dict[str, Any]]) -> str:
    """Reference rows (``--reference-python``) as a Markdown table, the reference's trainer beside ours."""
    lines = [
        "| robots | battery | published plateau, first reached | reference's trainer here: episodes / wall "
        "| its best test metric (episode) | it first reached the plateau | rbtrainer: episodes / wall "
        "| rbtrainer: best test metric (episode) | rbtrainer first reached the plateau | A* in every seat |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def reached(got: dict[str, Any] | None) -> str:
        return "no" if not got else f"episode {got['episodes']:,} ({got['seconds'] / 60:.1f} min)"

    for r in _in_reference_order(rows):
        run, ours = r["reference_run"], r.get("ours")
        robots = len(r["env"]["robot_colors"])
        best = "-" if run["best_metric"] is None else f"{run['best_metric']:.2f} ({run['best_episode']:,})"
        mine = "-" if not ours else f"{ours['best_metric']:.2f} ({ours['best_episode']:,})"
        mine_reached = "-" if not ours else reached(ours["reached"])
        mine_run = "-" if not ours else f"{ours['episodes']:,} / {ours['wall_seconds'] / 60:.1f} min"
        astar = "-" if not ours else f"{ours['astar_selfplay']:.1f}"
        lines.append(
            f"| {robots} | {'yes' if r['env'].get('with_battery') else 'no'} | {r['plateau']:g} at "
            f"{r['reference_episodes']:,} | {run['episodes']:,} / {run['wall_seconds'] / 60:.1f} min | {best} | "
            f"{reached(run['reached'])} | {mine_run} | {mine} | {mine_reached} | {astar} |"
        )
    return "\n".join(lines)


def astar_selfplay(row: str, seed: int, players: int | None = None) -> float:
    """The test metric of the A* agent in every seat of the row's game (the recipe's test games):
    strong play's level. ``players`` splits the row's robots into that many teams instead of one each."""
    from rbtrainer import AStarDeliveryAgent, DecentralizedTrainer

    recipe = _recipe(row)
    env = dict(recipe.env)
    if players is not None:
        robots = len(env["robot_colors"]) * env.get("num_robots_per_player", 1)
        env.update(robot_colors=env["robot_colors"][:players], num_robots_per_player=robots // players)
    test_envs, test_episodes = recipe.trainer.num_test_envs, recipe.trainer.episodes_per_test
    with DecentralizedTrainer(
        env, num_test_envs=test_envs, episodes_per_test=test_episodes, seed=seed, progress_bar=False
    ) as trainer:
        astar = AStarDeliveryAgent(trainer.num_seats, with_battery=env.get("with_battery", False), seed=seed)
        return float(trainer.test([astar] * trainer.num_seats).reward_metric)


def astar_splits(row: str, seed: int) -> dict[str, Any]:
    """A*'s level in every seat for every split of the row's robots into at least two players."""
    env = _recipe(row).env
    robots = len(env["robot_colors"]) * env.get("num_robots_per_player", 1)
    splits = [players for players in range(robots, 1, -1) if robots % players == 0]
    return {
        "row": row,
        "seed": seed,
        "env": env,
        "plateau": REFERENCE[row][0],
        "splits": [[players, robots // players, astar_selfplay(row, seed, players)] for players in splits],
    }


def splits_table(rows: list[dict[str, Any]]) -> str:
    """``--astar-splits`` as a Markdown table: A*'s level for each way of splitting a row's robots."""
    lines = [
        "| robots | battery | published plateau | A* in every seat, by players x robots each |",
        "|---|---|---|---|",
    ]
    for r in rows:
        robots = len(r["env"]["robot_colors"]) * r["env"].get("num_robots_per_player", 1)
        levels = ", ".join(f"{p} x {k}: {metric:.1f}" for p, k, metric in r["splits"])
        battery = "yes" if r["env"].get("with_battery") else "no"
        lines.append(f"| {robots} | {battery} | {r['plateau']:g} | {levels} |")
    return "\n".join(lines)


def _label(row: str, env: dict[str, Any]) -> str:
    robots = len(env["robot_colors"]) * env.get("num_robots_per_player", 1)
    return f"{robots} robots, {'battery' if row.endswith('b') else 'no battery'}"


def _results_table(results: list[dict[str, Any]], minutes: float) -> str:
    lines = [
        "| robots | battery | seed | reference: plateau, first reached "
        "| ours: first reached (episodes / env steps / wall) | share of the reference's episodes "
        "| goal (<= 1/4, <= 20 min) | best test metric | A* in every seat |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        env, got = r["env"], r["reached"]
        robots = len(env["robot_colors"]) * env.get("num_robots_per_player", 1)
        battery = "yes" if env.get("with_battery") else "no"
        reference = f"{r['plateau']:g} at {r['reference_episodes']:,}"
        if got:
            ours = f"{got['episodes']:,} / {got['steps']:,} / {got['seconds'] / 60:.1f} min"
            share = got["episodes"] / r["reference_episodes"]
            ok = share <= 0.25 and got["seconds"] <= 20 * 60
            verdict = "met" if ok else f"short ({share:.2f} of the episodes, {got['seconds'] / 60:.1f} min)"
            share_text = f"{share:.2f}"
        else:
            ours = (
                f"not reached in {r['episodes']:,} episodes / {r['env_steps']:,} steps / "
                f"{r['wall_seconds'] / 60:.1f} min"
            )
            ended = "the reference's episode count" if r["episodes"] >= r["reference_episodes"] else f"{minutes:g} min"
            share_text, verdict = "-", f"short (not reached; stopped at {ended})"
        lines.append(
            f"| {robots} | {battery} | {r['seed']} | {reference} | {ours} | {share_text} | {verdict} | "
            f"{r['best_metric']:.2f} (episode {r['best_episode']:,}) | {r['astar_selfplay']:.1f} |"
        )
    return "\n".join(lines)


def table(data: dict[str, Any]) -> str:
    """The figures ``--json`` wrote, as the two Markdown tables, rows in the reference's order."""
    rows = _in_reference_order(data["rows"])
    results = _results_table(rows, data["minutes"])
    if not any(r.get("crossplay") for r in rows):  # rows of 4 robots and more play no games against A*
        return results
    return f"{results}\n\n{_crossplay_table(rows, data['games'])}"


def _crossplay_table(results: list[dict[str, Any]], games: int) -> str:
    lines = [
        "| robots | battery | seed | DQN wins | A* wins | draws | mean game clock of wins (DQN / A*) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        play = r.get("crossplay")
        if not play:
            continue
        env = r["env"]
        robots = len(env["robot_colors"]) * env.get("num_robots_per_player", 1)
        dqn, astar = play["dqn"], play["astar"]
        games_played = dqn["games"]
        lines.append(
            f"| {robots} | {'yes' if env.get('with_battery') else 'no'} | {r['seed']} | "
            f"{dqn['wins']} of {games_played} | "
            f"{astar['wins']} | {dqn['draws']} | {dqn['mean_winning_clock']:.0f} / {astar['mean_winning_clock']:.0f} |"
        )
    return "\n".join(lines)


def _plot(results: list[dict[str, Any]], path: str) -> str:
    import math

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = 4
    rows = math.ceil(len(results) / cols)
    fig = Figure(figsize=(4 * cols, 3.2 * rows), dpi=100)
    FigureCanvasAgg(fig)
    for k, r in enumerate(results):
        axes = fig.add_subplot(rows, cols, k + 1)
        episodes = [p[0] for p in r["curve"]]
        metric = [p[2] for p in r["curve"]]
        axes.plot(episodes, metric, label="rbtrainer")
        axes.axhline(r["plateau"], color="grey", linestyle="--", label="reference plateau")
        axes.axhline(r["astar_selfplay"], color="tab:green", linestyle="-.", label="A* in every seat")
        axes.axvline(r["reference_episodes"] / 4, color="tab:red", linestyle=":", label="1/4 of its episodes")
        axes.set_title(_label(r["row"], r["env"]), fontsize=10)
        axes.set_xlabel("training episodes")
        axes.set_ylabel("test reward metric")
        if k == 0:
            axes.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    with atomic_write(path) as handle:
        fig.savefig(handle, format="png")
    return path


def _result_path(out_dir: str, row: str, seed: int) -> str:
    return os.path.join(out_dir, f"robots_{row}_seed{seed}.json")


def _reused(runs: list[tuple[str, int]], out_dir: str) -> dict[tuple[str, int], dict[str, Any]]:
    """The results of ``runs`` already written to ``out_dir``, by (row, seed)."""
    done: dict[tuple[str, int], dict[str, Any]] = {}
    for row, seed in runs:
        path = _result_path(out_dir, row, seed)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                done[row, seed] = json.load(handle)
    return done


def reference_main(args: argparse.Namespace, origin: dict[str, Any], versions: str) -> None:
    """``--reference-python``: every row and seed with the reference's trainer, ``--ours`` beside."""
    ours: dict[tuple[str, int], dict[str, Any]] = {}
    if args.ours:
        try:
            with open(args.ours, encoding="utf-8") as handle:
                ours = {(r["row"], r["seed"]): r for r in json.load(handle)["rows"]}
        except (OSError, ValueError, KeyError) as error:
            raise SystemExit(f"--ours {args.ours}: not a --json file of this script ({error})") from error
    print(f"reference environment: tianshou, torch = {versions}", flush=True)
    runs = [(row, seed) for row in args.rows for seed in args.seeds]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # each run is its own process
        results = list(
            pool.map(
                lambda run: run_reference_row(
                    run[0], run[1], args.reference_python, args.reference_episodes, args.minutes
                ),
                runs,
            )
        )
    for result in results:
        mine = ours.get((result["row"], result["seed"]))
        result["ours"] = {key: mine[key] for key in OURS} if mine else None
        run = result["reference_run"]
        print(
            f"{result['row']} seed {result['seed']}: reference best {run['best_metric']}, "
            f"{run['episodes']} episodes in {run['wall_seconds'] / 60:.1f} min",
            flush=True,
        )
    if args.json:
        write_figures(args.json, origin, {"rows": results})
    print(reference_table(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", default=list(REFERENCE), choices=list(REFERENCE))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="wall-time budget per row")
    parser.add_argument(
        "--hold-episodes",
        type=int,
        default=HOLD_EPISODES,
        help="episodes to keep training after the plateau (default: %(default)s)",
    )
    parser.add_argument("--games", type=int, default=100, help="games per seating against A*")
    parser.add_argument("--jobs", type=int, default=2, help="rows trained side by side (one process each)")
    parser.add_argument(
        "--reuse", action="store_true", help="read rows already written to --out-dir (train only the missing ones)"
    )
    parser.add_argument("--out-dir", default="runs/robot_results")
    parser.add_argument("--json", help="also write every row's figures (with the command, commit, date, machine) here")
    parser.add_argument("--plot-dir", default="plots")
    parser.add_argument("--reference-python", help="train the rows with the reference's trainer in this Python instead")
    parser.add_argument(
        "--reference-episodes", type=int, help="episodes per reference row (default: the row's published episodes)"
    )
    parser.add_argument(
        "--astar-splits", action="store_true", help="only measure A* in every seat for every split of each row's robots"
    )
    parser.add_argument("--ours", help="with --reference-python: a --json file of this trainer's rows to set beside")
    args = parser.parse_args()

    origin = provenance(ROOT)  # the code the runs start from
    if args.astar_splits:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            levels = list(pool.map(astar_splits, args.rows, [args.seeds[0]] * len(args.rows)))
        if args.json:
            write_figures(args.json, origin, {"rows": levels})
        print(splits_table(levels))
        return
    if args.reference_python:
        from reference_row import check_python  # benchmarks/ is this script's directory

        try:  # before any run starts
            versions = check_python(args.reference_python)
        except ValueError as error:
            parser.error(str(error))
        reference_main(args, origin, versions)
        return
    runs = [(row, seed) for row in args.rows for seed in args.seeds]
    done = _reused(runs, args.out_dir) if args.reuse else {}
    if args.reuse and not done:
        parser.error(
            f"--reuse: none of the rows' results is in --out-dir {args.out_dir} (robots_<row>_seed<s>.json); give the "
            "folder they were written to, or leave out --reuse to train every row"
        )
    if args.reuse:  # what is read, and what is trained after all
        for row, seed in runs:
            path = _result_path(args.out_dir, row, seed)
            print(f"{row} seed {seed}: " + (f"reusing {path}" if (row, seed) in done else f"training (no {path})"))
    todo = [run for run in runs if run not in done]
    rows, seeds = [row for row, _ in todo], [seed for _, seed in todo]
    work = (args.minutes, args.hold_episodes, args.games, args.out_dir)
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for run, result in zip(todo, pool.map(run_row, rows, seeds, *([w] * len(todo) for w in work))):
            done[run] = result
            got = result["reached"]
            print(
                f"{run[0]} seed {run[1]}: "
                + (f"reached {result['plateau']:g} at {got['episodes']} episodes" if got else "plateau not reached")
                + f", {result['episodes']} episodes in {result['wall_seconds'] / 60:.1f} min",
                flush=True,
            )
    results = [done[run] for run in runs]
    if args.json:
        write_figures(args.json, origin, {"minutes": args.minutes, "games": args.games, "rows": results})
    print(_results_table(results, args.minutes))
    print()
    print(_crossplay_table(results, args.games))
    first = [done[row, args.seeds[0]] for row in args.rows]
    print(f"curves (seed {args.seeds[0]}): {_plot(first, os.path.join(args.plot_dir, 'robot_results.png'))}")


if __name__ == "__main__":
    main()
