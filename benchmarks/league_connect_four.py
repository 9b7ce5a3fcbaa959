"""League self-play against plain self-play and training against random, on connect four.

    python benchmarks/league_connect_four.py [--seeds 0 1 2] [--env-steps 150000] [--jobs 2]

For each seed, three DQN learners with the same network, settings and exploration schedule are
trained for the same number of env steps (the run stops at the first collection phase that reaches
``--env-steps``):

* ``league``: a :class:`~rbtrainer.league.League` whose fixed members are ``--league-opponents``
  (``random``; ``noisy-strong``: the rule-based bot playing a random move half of the time), a
  snapshot every ``--snapshot-every`` episodes (at most 8 kept, oldest evicted), PFSP sampling,
  the learner itself in a pool seat with chance ``--self-play``; the learner takes both seats;
* ``self-play``: one learner in both seats of every game;
* ``vs-random``: the learner against random players, half the envs in each seat.

The three final learners then play a cross-play tournament with the random player, the rule-based
bot and negamax at depth 2 (``--games`` per seat order), rated together by Bradley-Terry Elo
(random at 0). It prints each seed's table, the league's Elo margin over self-play and each
learner's score against the rule-based bot, and writes the heat-map of the first seed and the
league run's training curve under ``--plot-dir``; ``--json FILE`` writes every figure. With
``--reuse``, a run whose checkpoint and figures are in ``--out-dir`` from the same settings is not
trained again (e.g. to try other league opponents against the same self-play runs).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from rbtrainer import DecentralizedTrainer, EnvGroup, EpsilonAgent, RandomAgent, dqn_agent
from rbtrainer.agents.base import Agent
from rbtrainer.callbacks import EpsilonSchedule
from rbtrainer.checkpoint import load_agents, save_agents
from rbtrainer.evaluation import ConnectFourNegamax, ConnectFourStrong, tournament
from rbtrainer.league import League, LeagueConfig
from rbtrainer.plotting import plot_crossplay
from rbtrainer.recipes import Recipe

KINDS = ("league", "self-play", "vs-random")

# The connect-four recipe of strong_agents.py (network, optimiser, returns, update schedule), 16 envs each.
CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs", "connect_four_strong.toml")
RECIPE = Recipe.from_toml(CONFIG)
DQN = RECIPE.dqn


def _trainer(
    seed: int, test_freq: int, plot_dir: str, plot_name: str | None = None, env_steps: int | None = None
) -> DecentralizedTrainer:
    """The recipe's trainer for ``seed``; ``env_steps``: a training run's step budget (no episode budget)."""
    budget = {} if env_steps is None else {"episodes_per_train": None, "max_env_steps": env_steps}
    settings = {
        **budget,
        "episodes_per_test": 32,
        "test_freq": test_freq,
        "seed": seed,
        "progress_bar": False,
        "plot_dir": plot_dir,
        "plot_name": plot_name,
    }
    return RECIPE.replace(trainer=settings).build_trainer()


def league_opponent(name: str, seed: int) -> Agent:
    if name == "random":
        return RandomAgent(seed=seed, name="random")
    if name == "noisy-strong":
        return EpsilonAgent(ConnectFourStrong(seed=seed), 0.5, seed=seed + 1, name="noisy-strong")
    raise ValueError(f"--league-opponents: unknown {name!r}; use random or noisy-strong")


def train(kind: str, seed: int, settings: dict[str, Any], out_dir: str, plot_dir: str) -> dict:
    """Train one learner of ``kind`` for ``env_steps``; save it, return its figures (league: plot its curve)."""
    plot_name = f"league_connect_four_training_seed{seed}.png"
    trainer = _trainer(seed, 500, plot_dir, plot_name, env_steps=settings["env_steps"])
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=DQN, seed=seed)
    trainer.train_fn = EpsilonSchedule(learners=[learner], start=1.0, end=0.02, episodes=settings["eps_episodes"])
    agents: Any
    if kind == "league":
        config = LeagueConfig(
            snapshot_every=settings["snapshot_every"],
            max_snapshots=8,
            sampling="pfsp",
            self_play=settings["self_play"],
            seed=seed,
        )
        opponents = [league_opponent(name, 10_000 * (k + 1) + seed) for k, name in enumerate(settings["opponents"])]
        agents = League(learner, opponents, config)
    elif kind == "self-play":
        agents = [learner, learner]
    else:
        agents = [
            EnvGroup("as first", [learner, RandomAgent(seed=10_000 + seed)], learning_mask=[True, False]),
            EnvGroup("as second", [RandomAgent(seed=20_000 + seed), learner], learning_mask=[False, True]),
        ]
    began = time.perf_counter()
    stats = trainer.train(agents, [True, True], plot=kind == "league")  # until the env-step budget
    path = os.path.join(out_dir, f"league_seed{seed}_{kind}.pt")
    save_agents(path, [learner, learner], {"kind": kind, "seed": seed})
    trainer.close()
    figures: dict[str, Any] = {
        "settings": settings,
        "kind": kind,
        "seed": seed,
        "checkpoint": path,
        "episodes": stats.collected_episodes,
        "env_steps": stats.collected_steps,
        "gradient_steps": stats.gradient_steps,
        "seconds": round(time.perf_counter() - began, 1),
    }
    if stats.league is not None:
        figures["snapshots"] = len(stats.league.snapshots)
        figures["final_pool"] = agents.member_names
        figures["league_test_score"] = stats.league.test_score[-1]
        figures["plot"] = stats.plot_path
    with open(os.path.join(out_dir, f"league_seed{seed}_{kind}.json"), "w") as handle:
        json.dump(figures, handle)
    return figures


def reused(kind: str, seed: int, settings: dict[str, Any], out_dir: str) -> dict | None:
    """The figures of an earlier run of ``kind`` with the same settings, if its files are there."""
    path = os.path.join(out_dir, f"league_seed{seed}_{kind}.json")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        figures = json.load(handle)
    league_only = ("opponents", "self_play")
    mine = dict(settings) if kind == "league" else {k: v for k, v in settings.items() if k not in league_only}
    theirs = {k: v for k, v in figures["settings"].items() if kind == "league" or k not in league_only}
    if mine != theirs or not os.path.exists(figures["checkpoint"]):
        return None
    return figures


def evaluate(seed: int, runs: list[dict], games: int, plot_dir: str, heat_map: bool) -> dict[str, Any]:
    trainer = _trainer(seed, 1, plot_dir)
    entrants: dict[str, Any] = {}
    for run in runs:
        learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=DQN, seed=0)
        load_agents(run["checkpoint"], [learner, learner])
        entrants[run["kind"]] = learner
    entrants.update({"random": RandomAgent(), "strong": ConnectFourStrong(), "negamax:2": ConnectFourNegamax(2)})
    result = tournament(trainer, entrants, games, seed=seed, anchor="random")
    trainer.close()
    print(f"\nseed {seed}: cross-play, {games} games per seat order\n{result.table()}", flush=True)
    elo = {e.name: round(e.rating, 1) for e in result.entrants}
    strong = result.names.index("strong")
    vs_strong = {kind: round(float(result.score_matrix[result.names.index(kind), strong]), 3) for kind in KINDS}
    figures = {"seed": seed, "elo": elo, "vs_strong": vs_strong, "rank": sorted(elo, key=lambda n: -elo[n])}
    if heat_map:
        figures["heat_map"] = plot_crossplay(
            os.path.join(plot_dir, "league_connect_four_crossplay.png"),
            result.names,
            result.score_matrix,
            [e.rating for e in result.entrants],
            title=f"connect four, seed {seed}: league vs self-play vs trained on random, {games} games per seat order",
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--env-steps", type=int, default=150_000, help="env-step budget of every learner")
    parser.add_argument("--snapshot-every", type=int, default=500, help="league: episodes between snapshots")
    parser.add_argument("--eps-episodes", type=int, default=3000, help="episodes of the epsilon schedule 1 -> 0.02")
    parser.add_argument("--league-opponents", nargs="+", default=["random"], help="random and/or noisy-strong")
    parser.add_argument("--self-play", type=float, default=0.0, help="league: chance of the learner itself in a seat")
    parser.add_argument("--reuse", action="store_true", help="keep runs already in --out-dir from the same settings")
    parser.add_argument("--games", type=int, default=50, help="tournament games per seat order")
    parser.add_argument("--jobs", type=int, default=2, help="training runs side by side (one process each)")
    parser.add_argument("--plot-dir", default="plots")
    parser.add_argument("--out-dir", default="league_runs", help="checkpoints and per-run curves")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.makedirs(args.out_dir, exist_ok=True)
    os.makedirs(args.plot_dir, exist_ok=True)
    settings = {
        "env_steps": args.env_steps,
        "eps_episodes": args.eps_episodes,
        "snapshot_every": args.snapshot_every,
        "opponents": list(args.league_opponents),
        "self_play": args.self_play,
    }
    jobs = [(kind, seed) for seed in args.seeds for kind in KINDS]
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        earlier = [reused(kind, seed, settings, args.out_dir) if args.reuse else None for kind, seed in jobs]
        futures = [
            None if done else pool.submit(train, kind, seed, settings, args.out_dir, args.plot_dir)
            for done, (kind, seed) in zip(earlier, jobs)
        ]
        runs: list[dict] = []
        for done, future in zip(earlier, futures):
            runs.append(done if future is None else future.result())  # type: ignore[arg-type]
            run = runs[-1]
            print(
                f"{'reused' if future is None else 'trained'} {run['kind']:<9} seed {run['seed']}: "
                f"{run['episodes']} episodes, "
                f"{run['env_steps']} env steps, {run['seconds']:.0f} s",
                flush=True,
            )
    seeds = [
        evaluate(seed, [r for r in runs if r["seed"] == seed], args.games, args.plot_dir, heat_map=k == 0)
        for k, seed in enumerate(args.seeds)
    ]
    margins = [s["elo"]["league"] - s["elo"]["self-play"] for s in seeds]
    print(
        "\nseed  league Elo  self-play Elo  vs-random Elo  league - self-play  best learner  league's place (of "
        f"{len(seeds[0]['rank'])})  score vs strong (L/S/R)  goal"
    )
    for s, margin in zip(seeds, margins):
        e, v = s["elo"], s["vs_strong"]
        best = next(name for name in s["rank"] if name in KINDS)
        met = "met" if best == "league" and margin >= 100 else "short"
        print(
            f"{s['seed']:>4}  {e['league']:10.0f}  {e['self-play']:13.0f}  {e['vs-random']:13.0f}  {margin:18.0f}  "
            f"{best:<12}  {s['rank'].index('league') + 1:>19}  "
            f"{v['league']:.2f} / {v['self-play']:.2f} / {v['vs-random']:.2f}      {met}"
        )
    firsts = sum(next(n for n in s["rank"] if n in KINDS) == "league" for s in seeds)
    print(
        f"league the best learner in {firsts} of {len(seeds)} seeds; Elo over self-play: "
        f"median {statistics.median(margins):.0f} (range {min(margins):.0f} .. {max(margins):.0f}); "
        "goal: best learner and >= +100 in every seed"
    )
    league_plot = next((r["plot"] for r in runs if r["kind"] == "league"), None)
    print(f"heat-map: {seeds[0].get('heat_map')}  league curve: {league_plot}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"args": vars(args), "runs": runs, "seeds": seeds, "margins": margins}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
