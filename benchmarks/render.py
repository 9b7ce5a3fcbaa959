"""Render the docs' Results and Performance pages and the README's results table from benchmark JSON.

    python benchmarks/render.py            # rewrite docs/results.md, docs/performance.md, README.md's table
    python benchmarks/render.py --check    # exit 1, naming the files, if any differs from its JSON

Every figure on those pages comes from a JSON file in ``benchmarks/data/`` written by a benchmark
script (with the command, commit, date and machine that made it), rendered by that script's own
table function. ``tests/test_docs.py`` fails when a committed page differs from this rendering.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
README_BEGIN = "<!-- results table: rendered by benchmarks/render.py from benchmarks/data/default_train.json -->"
README_END = "<!-- end of the rendered results table -->"

logger = logging.getLogger(__name__)


def _benchmark(name: str) -> Any:
    """The benchmark script ``benchmarks/<name>.py`` as a module (loaded once, for its table function)."""
    key = f"_rendered_benchmark_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, ROOT / "benchmarks" / f"{name}.py")
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load benchmarks/{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[key]


@dataclass(frozen=True)
class Section:
    """One table of a page: a benchmark's JSON rendered by the benchmark's own table function."""

    title: str
    data: str
    """File name in benchmarks/data/."""
    renderer: str
    """``module:function`` in benchmarks/, taking the JSON's ``rows``."""
    text: str
    """What the table measures and how to read it (no figures: they are all in the table)."""
    whole: bool = False
    """The renderer takes the whole JSON (benchmarks whose figures come in parts), not its ``rows``."""

    def load(self) -> dict[str, Any]:
        with open(DATA / self.data, encoding="utf-8") as handle:
            data: dict[str, Any] = json.load(handle)
        return data

    def table(self) -> str:
        module, function = self.renderer.split(":")
        render: Callable[[Any], str] = getattr(_benchmark(module), function)
        data = self.load()
        return render(data if self.whole else data["rows"])

    def provenance(self) -> str:
        data = self.load()
        git, machine = data.get("git", {}), data.get("machine", {})
        commit = str(git.get("commit", "unknown"))[:10] + (" with local changes" if git.get("dirty") else "")
        names = {"cpu_count": "CPUs", "python": "python", "torch": "torch", "tianshou": "tianshou"}
        where = [f"{name} {machine[key]}" for key, name in names.items() if key in machine]
        if machine.get("cpu"):  # recorded since 2026-12-07: statistics can differ from one CPU model to another
            unit = machine.get("cpu_capability")  # recorded since 2026-12-07 too: the vector unit torch finds
            where.insert(1, str(machine["cpu"]) + (f" ({unit})" if unit else ""))
        return (
            f"Made by `python {data.get('command', '?')}` at commit {commit} on {str(data.get('date', '?'))[:10]} "
            f"({', '.join(where)}); data: `benchmarks/data/{self.data}`."
        )

    def markdown(self, level: str = "##") -> str:
        return f"{level} {self.title}\n\n{self.text}\n\n{self.table()}\n\n{self.provenance()}\n"


DEFAULT_TRAIN = Section(
    "`rbtrainer train` with its defaults, on the board games",
    "default_train.json",
    "default_train:table",
    "`rbtrainer train --env game=GAME --seed SEED` with the game's built-in defaults (DQN in self-play "
    "and against random play in either seat; the best checkpoint is the test round that scores best "
    "against the game's evaluation panel). The best checkpoint then plays random play on fresh games "
    "from each seat, beside the panel's score of that round and its 95 % interval. The target is the "
    "score against random each seat must reach.",
)
ROBOTS_VS_ASTAR = Section(
    "Robot delivery: self-play DQN against the A* agent",
    "robots_vs_astar.json",
    "strong_agents:robots_table",
    "Self-play DQN on the robot game, one robot per player: without battery (4 mails to win with 2 players, 5 with 3; "
    "`configs/robot_delivery_2p.toml` and `robot_delivery_3p.toml`) and with battery (6 mails; "
    "`configs/robots_2b.toml` and `robots_3b.toml`), short training budgets; the best test round's "
    "snapshot then plays the rule book's scripted A* agent in every seat order (the saved snapshots measured "
    "again on fresh games with `--evaluate`, their training figures from the sweep). With 3 players one side "
    "holds two of the three robots in each game, and every seat order is played equally often. A score "
    "is 1 a win, 0.5 a draw; the interval is Wilson's 95 %. With battery the trained agents win most "
    "games, and their winning games are shorter than A*'s. Without battery the game is a race along shortest "
    "paths that A* already runs well (both sides' winning games last as long), and A* wins at least as "
    "often. The best seed of each game is shipped in `pretrained/` (see "
    "[Shipped agents](getting-started.md#shipped-agents)).",
)
ROBOTS_TRAINED_VS_ASTAR = Section(
    "Robot delivery without battery: DQN trained against the A* agent",
    "robots_trained_vs_astar.json",
    "strong_agents:robots_table",
    "The games of the table above without battery, trained against A* itself: "
    "`configs/robot_delivery_2p_vs_astar.toml` (3,000 episodes; a third of the games self-play and a third "
    "each against A* moving first and second) and `robot_delivery_3p_vs_astar.toml` (3,000 episodes of "
    "self-play: the `[opponents]` table seats two players only), both with discount 0.9 instead of 0.99 and "
    "the best test round the one that scores best against A* (16 games per seat order every 50 episodes); "
    "and `robot_delivery_2p_station_mail.toml`, the 2-player recipe for 10,000 episodes (32 games per seat "
    "order every 250) in the game with the opt-in view of the mails waiting on the pick-up cells "
    "(`observe_station_mail`). A* does not use that view: it heads for the nearest pick-up cell, whatever "
    "mail waits there. The kept snapshots then play A* on fresh games as above, 100 per seat order. "
    "Trained against A* in the game as the rule book defines it, the agents still win about as often as A*, "
    "with 2 players and with 3. With the waiting mails in view, the 2-player agents win more often than A* in "
    "every seed: the view lets a player fetch a mail whose delivery cell is near instead of the nearest mail, "
    "which is all A* does.",
)
ROBOTS_STATION_MAIL_3P = Section(
    "Robot delivery without battery, 3 players: DQN with the waiting mails in view",
    "robots_station_mail_3p.json",
    "strong_agents:robots_table",
    "`configs/robot_delivery_3p_station_mail.toml`: the 3-player recipe of the table above (self-play with "
    "discount 0.9, the best test round the one that scores best against A*) in the game with the waiting mails "
    "in view, for 6,000 episodes (32 games per seat order every 250). The three seeds trained at the same time "
    "at the lowest priority beside other benchmarks, so their training times are wall times under that load, "
    "not the recipe's cost. The kept snapshots then play A* on fresh games with `--evaluate`, 100 per seat order "
    "(six orders, the agent in one or two of the three seats). With the view the 3-player agents, like the "
    "2-player ones, win more often than A* in every seed: without battery, the agents beat A* when they see the "
    "waiting mails, and not in the game as the rule book defines it "
    "([why](#robot-delivery-without-battery-what-choosing-a-pick-up-cell-is-worth)). Seed 1 is shipped as "
    "`pretrained/robot_delivery_3p_station_mail.pt`.",
)
PLANNING_TICTACTOE_TRAPS = Section(
    "Tic-tac-toe: the planning learner",
    "planning_tictactoe_traps.json",
    "planning_agents:table",
    "The recipe `configs/tictactoe_planning.toml` (one planning learner in self-play, 2,000 games, the "
    "first move of every training game at random), trained alone, one seed per row (the training time "
    "includes the recipe's one test round, where the learner plays as below); the final learner is then"
    " measured exactly with its search as it plays (128 simulations per move, with traps: "
    "`trap_margin`, Planning learner guide): what a perfect opponent can force against it from either "
    "seat (0: a draw at best, the game's value), its first move and its win probability against a "
    "uniformly random opponent from either seat. The last row is the best a policy that never loses can"
    " do (exact): a first player wins more often against random play after opening in a corner than in "
    "the centre, although every opening draws against perfect play, so the game's value gives a search "
    "that assumes the best reply no reason to prefer the corner; the traps do.",
)
PLANNING_TICTACTOE = Section(
    "Tic-tac-toe: the planning learner without traps",
    "planning_tictactoe.json",
    "planning_agents:table",
    "The recipe as it was before it set traps (64 simulations per move when it plays, no random first "
    "moves, a test round every 1,000 games), trained alone, one seed per row, measured the same way. "
    "Every learner opened in the centre, after which no policy that never loses wins more than the "
    "centre's figure in the last row.",
)
PLANNING_TICTACTOE_OTHER_CPU = Section(
    "Tic-tac-toe: the planning learner without traps, on another CPU",
    "planning_tictactoe_epyc.json",
    "planning_agents:table",
    "The recipe without traps and the same seeds, measured the same way, on another machine (its CPU is"
    " named below the table), from a later commit; the commit of the table above gives the same figures"
    " on this machine (checked with seed 0), so the difference is the machine's, not the code's. A "
    "seeded run gives the same statistics from one run to the next on one machine, but not always from "
    "one CPU model to another: the runs end after other numbers of games and the learners differ. Here "
    "every learner is still unbeatable from both seats, but one of them wins less often from the second"
    " seat against random play than any learner in the table above. Read the two tables together as the"
    " spread to expect on your own machine.",
)
PLANNING_CONNECT_FOUR = Section(
    "Connect four: the planning learner against the baselines",
    "planning_connect_four.json",
    "planning_agents:table",
    "The recipe `configs/connect_four_planning.toml` (one planning learner in self-play), one seed per "
    "row; the three seeds trained at the same time, sharing the machine's cores, so the training time is "
    "the wall time under that load. The final learner then plays random play and the depth-2 and depth-4 "
    "negamax players on fresh "
    "games from either seat, searching with the play budget of the row. The first moves of every game "
    "are random for both sides (so that games between two nearly deterministic players differ). A score "
    "is 1 a win, 0.5 a draw, with Wilson's 95 % interval.",
)
PLANNING_CONNECT_FOUR_SOLVER = Section(
    "Connect four: the planning learner with the search's solver",
    "planning_connect_four_solver.json",
    "planning_agents:table",
    "The recipe `configs/connect_four_planning_solver.toml`: the planning recipe above with `solver = true`, "
    "so that the search proves the wins, losses and draws its tree reaches, trains on targets that follow "
    "the proofs and plays by them. Measured as the table above: the three seeds trained at the same time "
    "on the machine's two cores (for the first minutes beside a fourth process), then played the baselines "
    "on the same fresh games, with the play budget of the row. Read against the table above, the solver "
    "did not make the learner stronger against the negamax players: its proofs reach the ends of games, "
    "and the games it loses are decided earlier than that. Its games were "
    "longer and its training slower; use it for exact endgame play and proven values (a win in one is "
    "always played), not as a way to a stronger recipe.",
)
PLANNING_CONNECT_FOUR_VS_NEGAMAX = Section(
    "Connect four: the planning learner with the negamax players as sparring partners",
    "planning_connect_four_vs_negamax.json",
    "planning_agents:table",
    "The recipe `configs/connect_four_planning_vs_negamax.toml`: the planning recipe above with an `[opponents]` "
    "table, so that of its 64 games at a time two fifths are self-play, two fifths are against the depth-2 "
    "negamax (half with the learner moving first, half second) and one fifth against the depth-4 negamax; the "
    "same 20,000 games in all. The learner stores the positions it searched in every game, and the opponents' "
    "positions train its value only. Measured as the tables above: the three seeds trained at the same time on "
    "the machine's two cores, then played the baselines on fresh games with the play budget of the row. Read "
    "against the first connect-four table, the sparring partners did not make the learner stronger: from the "
    "second seat it beat the depth-2 negamax more often in two seeds of three, and from the first seat less "
    "often in the same two, and against the depth-4 negamax it did no better. Its training times were "
    "measured three seeds at once on another day than the first connect-four table's, so they are not a "
    "side-by-side comparison of the two recipes' speed.",
)
PLANNING_CONNECT_FOUR_OPENINGS = Section(
    "Connect four: the planning learner trained from random openings",
    "planning_connect_four_openings.json",
    "planning_agents:table",
    "The recipe `configs/connect_four_planning_openings.toml`: the planning recipe above with `random_moves = 2`, "
    "so that in its self-play games the first move of each side is uniformly random, as in the games it is "
    "measured in; the search still runs on those moves and its visits are stored as their targets. The same "
    "20,000 games, 48 simulations per move while training. Measured as the tables above: the three seeds "
    "trained at the same time on the machine's two cores, then played the baselines on fresh games with the "
    "play budget of the row (the column of random opening moves is the measurement's, as in every table here). "
    "Read against the first connect-four table, random openings made the first seat stronger: against the "
    "depth-2 negamax it scored higher than any seed there in two seeds of three, and against the depth-4 "
    "negamax about as high as that table's best seed in all three. Not in every seed: in seed 0 both seats "
    "scored lower against the depth-2 negamax than any seed there. The shipped connect-four agent "
    "(`pretrained/connect_four_planning.pt`) is this recipe's seed 2: it scored higher against both negamax "
    "players from both seats than the agent it replaced (the first table's seed 0; the intervals overlap). The "
    "training times are three runs sharing two cores, not the time of a run alone.",
)
PLANNING_CONNECT_FOUR_OPENINGS_800 = Section(
    "Connect four: the random-openings learners searching 800 simulations per move",
    "planning_connect_four_openings_800.json",
    "planning_agents:table",
    "The three learners of the table above, not trained again, measured with `--evaluate --play-simulations "
    "800`: the same opponents on other fresh games (200 per seat, each side's first move random), the network "
    "searching 800 simulations per move instead of the 200 their recipe plays with. The training columns are "
    "the sweep's. Read against the table above, the longer search made every learner stronger against the "
    "depth-4 negamax from both seats, and seed 0's first seat stronger against the depth-2 negamax; seeds 1 "
    "and 2 score at least 0.9 against both negamax players from both seats. Seed 0's second seat still "
    "scores below 0.9 against the depth-2 negamax. Set against the table above, seed 2's first seat scores "
    "lower against the depth-2 negamax here than there: the two tables' games differ, and a longer search is "
    "not better in every game. One move of one game at 800 simulations takes about a quarter of a second on "
    "this machine ([Performance](performance.md#what-the-planning-search-costs)); "
    "`rbtrainer eval --agents pretrained/connect_four_planning.pt@800 ...` plays the shipped agent (seed 2) so.",
)
PLANNING_CONNECT_FOUR_OPENINGS_1600 = Section(
    "Connect four: the random-openings learners at 1,600 simulations per move",
    "planning_connect_four_openings_1600.json",
    "planning_agents:table",
    "The same three learners, not trained again, measured with `--evaluate --play-simulations 1600`, the network "
    "searching 1,600 simulations per move, one opponent per run: the depth-2 negamax (`--opponents negamax:2`), "
    "then random play (`--opponents random`) at a later commit of the same benchmark code, then the depth-4 "
    "negamax (`--opponents negamax:4`) on a later machine, for seed 2 only (the shipped agent: the files of "
    "seeds 0 and 1 were not kept); 200 games per seat on other fresh games, each side's first move random. The "
    "games are not the 800-simulation table's (an opponent's seed follows its place in the list of opponents). "
    "At this budget every seed scores at least 0.9 against the depth-2 negamax from both seats and wins every "
    "game against random play, and seed 2 scores over 0.9 against the depth-4 negamax from both seats; the next "
    "table has the recipe's seeds 0 and 1 trained again and measured against all three.",
)
PLANNING_CONNECT_FOUR_OPENINGS_RETRAINED = Section(
    "Connect four: the random-openings recipe trained again, the whole panel at 1,600 simulations per move",
    "planning_connect_four_openings_retrained.json",
    "planning_agents:table",
    "Seeds 0 and 1 of `configs/connect_four_planning_openings.toml` trained again by "
    "`benchmarks/planning_agents.py` on a later machine, from a later commit with the same training code; two "
    "runs at once, one per core, so the training time is the wall time under that load. A seeded training run "
    "does not repeat from one CPU to another ([Reproducibility](concepts.md#reproducibility)), so these are other "
    "learners than seeds 0 and 1 of the tables above: two more samples of the recipe. Each played the depth-2 "
    "negamax at the end of its training run with its own budget (200 simulations per move, on the sweep's fresh "
    "games), then the whole panel with `--evaluate --play-simulations 1600` on other fresh games; 200 games per "
    "seat, each side's first move random. With seed 2 of the table above (the shipped agent), three seeds of the "
    "recipe score at least 0.9 against both negamax players from both seats and win every game against random "
    "play when they search 1,600 simulations per move; at 200, seed 0 still loses about a fifth of its games "
    "against the depth-2 negamax when it moves first.",
)
PLANNING_CONNECT_FOUR_QUICK = Section(
    "Connect four in minutes: the planning learner on rollout workers",
    "planning_connect_four_quick.json",
    "planning_agents:table",
    "The recipe `configs/connect_four_quick.toml`: one planning learner in self-play on 2 `subproc` rollout "
    "workers (each searches for 32 of the 64 games), the update between phases on both cores "
    "(`update_threads = 2`), 3,000 games, 32 simulations per move while training. One "
    "seed per row, each run alone on the machine; the training time is the wall time of `train()`, test rounds "
    "included. The final learner then plays random play on fresh games from either seat with the play "
    "budget of the row, the first moves of every game random for both sides.",
)
PLANNING_LEAGUE = Section(
    "Connect four: the planning learner in a league against plain self-play",
    "planning_league.json",
    "planning_agents:league_table",
    "The quick recipe (`configs/connect_four_quick.toml`) and the same recipe in a league "
    "(`configs/connect_four_quick_league.toml`: half of the games against the learner itself, half against "
    "its frozen snapshots and random play drawn by PFSP), the same budget of 3,000 games, each run alone. "
    "Their final learners then play a cross-play tournament with random play and the two negamax players "
    "on fresh games, every seat order, the first moves of every game random for both sides; the ratings "
    "are Bradley-Terry Elo with random play at 0.",
)
LEARNER_SPEED = Section(
    "The learners' gradient steps",
    "learner_speed.json",
    "learner_speed:table",
    "Gradient steps per second of `learner.update` on a filled memory, one thread, against the least a plain "
    "PyTorch program does for a step on the same network (a minibatch of preloaded tensors, the forward, a "
    "one-step target for DQN, the loss, backward, Adam), alternately in one process. The recipes' batch sizes "
    "come first, then larger ones; the last column is how many times faster the floor is.",
)
SEARCH_SPEED = Section(
    "What the planning search costs",
    "search_speed.json",
    "search_speed:table",
    "The planning search (`run_search`) over a batch of positions reached by random play, guided by the "
    "network of the agent shipped at the commit below on one thread, without and with `solver=True`, the "
    "two alternating in one process. A simulation is one descent of one root's tree; the seconds per search "
    "are the plain search's median time for the whole batch (with one root: one move of one game at that "
    "budget, as `rbtrainer play` and `rbtrainer eval` search); the solver's share is the median of the "
    "rounds' ratios; the last column is the share of the roots whose value the solver proved.",
)
PANEL_SPEED = Section(
    "What an evaluation panel costs per test round",
    "panel_speed.json",
    "panel_speed:table",
    "A small DQN (greedy) plays a panel as a training run's test round does: every opponent from every "
    "seat, on a 16-env test pool. The first round also plays the panel's own round robin, once per run.",
)

TRAINER_SPEED = Section(
    "The trainer's loops",
    "trainer_speed.json",
    "trainer_speed:table",
    "Env steps per second of `trainer.test` (random agents, then one greedy DQN [64, 64] in every seat) and "
    "of `trainer.train` (self-play DQN [64, 64], an update every 200 env steps with 0.02 gradient steps per "
    "env step, batch 64; test rounds excluded), 16 envs on the `dummy` backend, after a warm-up run. Every "
    "game here steps through its batch twin. Peak RSS is the process's maximum after all three loops.",
)
GAME_SPEED = Section(
    "The robot game alone",
    "game_speed.json",
    "game_speed:table",
    "Robot steps per second with random legal actions, one process: the bare AEC env driven as the trainer "
    "drives it, the same through PettingZoo's order-enforcing wrapper, the pure rules class, and the batch "
    "rules stepping 16 or 256 games in one NumPy call (robot steps summed over the games).",
)
SCALING = Section(
    "Rollout workers",
    "scaling.json",
    "scaling:tables",
    "Env steps per second side by side in one run (the pools alternate), on this 2-core machine. The test "
    "loop: `trainer.test` with random agents, 3 robots, 16 envs, 48 episodes, on the in-process engine, on "
    "the per-tick `subproc` and `ray` pools (every tick a round trip from the trainer to the games) and on "
    "rollout workers (`rollout_workers=N`: each worker plays its block of games and acts with its own copies "
    "of the agents). The train loop: compute-bound configurations in one process and on 2 `subproc` rollout "
    "workers, each as it is, with `overlap` (the learner's update runs while the phase collects) and with "
    "`update_threads=2` (the update between phases on both cores, which the workers leave idle then). The "
    "first ratio compares with one process as the trainer runs by default, the second with one process on "
    "the same setting (which also puts the second core to work on the update). `12robots-battery` is "
    "self-play DQN [64, 64] with 0.1 gradient steps per env step; `connect4-planning` is the planning "
    "recipe's learner and network with 48 simulations per move, 256 envs and an update every 2,048 env "
    "steps. With 2 workers each searches for 128 games: a search tick costs less per game there than with "
    "the recipe's 64 envs, where a worker's share is 32 games. The first call of a pool starts its workers."
    "\n\nHow to read the train rows: with the planning learner, acting (the search) is most of the work "
    "and 2 workers split it; the update stays in the trainer's process, so the workers gain most when it "
    "runs beside them (`overlap`) or on both cores (`update_threads`). With DQN on 12 robots, the update "
    "is most of the work: one process is already at the learner's ceiling (see the model below), and "
    "workers add little or nothing to it.",
    whole=True,
)
SCALING_MODEL = Section(
    "Rollout workers on N machines: a model",
    "scaling_model.json",
    "scaling:model_table",
    "What the figures above extend to, from what one rollout worker collects and what the learner takes, "
    "measured alone for the same two configurations: one `subproc` worker's env steps per second for the "
    "trainer (the learner acting and exploring, no learning; transfer and storing included) and the "
    "learner's gradient steps per second. `N` workers on their own cores collect `N` times one worker's "
    "rate; every collected step owes `u` (`update_per_step`) gradient steps, all taken in the trainer's "
    "process, so the learner caps collection at its gradient steps per second divided by `u`; `N*` workers "
    "reach that cap, and more only wait (or, with `overlap`, add policy lag). The network column is the "
    "trainer's link: one transition per env step comes in, and every phase the acting state goes out to each "
    "worker. A bigger learner (a GPU, a larger batch per gradient step) or a smaller `u` moves the cap; "
    "`rollout_workers` past `N*` does not.",
    whole=True,
)

ROBOT_RACE = Section(
    "Robot delivery without battery: what choosing a pick-up cell is worth",
    "robot_race.json",
    "robot_race:table",
    "Without battery a player's robots only fetch mails and deliver them. The mail a pick-up cell holds is "
    "hidden until a robot takes it (the rule book's observation holds the robots' positions and carried mails) "
    "and every number is equally likely, so the one routing choice is which pick-up cell to head for; the A* "
    "agent takes the nearest. The first table is exact, from the board and the move rules, for a lone robot: "
    "the moves from each pick-up cell to the delivery cell of each mail and their mean, and the mean moves "
    "from a delivery cell back to the first pick-up cell reached (the same whichever cell the mail came "
    "from). The second is a scripted rival that plays as the A* agent except that it skips a pick-up cell "
    "another robot without mail reaches sooner, against A* in every seat order on fresh games. The pick-up "
    "cells differ by less than a move per delivery on average, and skipping contested cells wins no more "
    "often than A*: without battery the game is a race along shortest paths decided by the mails drawn, "
    "which is why the trained agents above score about even against A* unless they see the waiting mails.",
)
ROBOT_RESULTS = Section(
    "The reference's results table: rbtrainer on every row",
    "robot_results.json",
    "robot_results:table",
    "Every row of the reference's published table ([what each row means and how that was settled]"
    "(reference-table.md)), trained with `configs/robots_<row>.toml`: self-play dueling DQN with the same "
    "settings for every row (row 4b's recipe has since moved to a learning rate of 5e-4; its row here ran "
    "with 3e-3, as every other row, and the table of row 4b below ran with 5e-4), one seed, two rows at a "
    "time (one per core). A row trains until its test metric "
    "(the mean return of all robots over the test games, as the reference's) first reaches the reference's "
    "plateau, then 100 episodes more, or until 20 minutes or the reference's episode count run out. The goal "
    "is the plateau in at most a quarter of the reference's episodes and at most 20 minutes. \"A* in every "
    "seat\" is the scripted A* agent's metric on the same game, for scale. The second table: for 2 and 3 "
    "robots, the best test round's snapshot against A* in every seat order.",
    whole=True,
)
ROBOT_RESULTS_4B = Section(
    "Row 4b with a smaller learning rate",
    "robot_results_4b.json",
    "robot_results:table",
    "Row 4b (4 robots with battery) is the one battery row whose run above ended just under the published "
    "plateau, which is read off the reference's figure to about half a point. Its recipe "
    "(`configs/robots_4b.toml`) now learns at 5e-4 instead of 3e-3, the one setting in which it differs from "
    "the other rows (a first try at 1e-3 left one seed of three short of a quarter of the reference's "
    "episodes). Three seeds, two runs at a time (one per core), each with a 12-minute budget; the A* agent "
    "does not play row 4b's learners, so the second table is empty.",
    whole=True,
)
ASTAR_SPLITS = Section(
    "A* in every seat, for every way to split a row's robots",
    "astar_splits.json",
    "robot_results:splits_table",
    "The scripted A* agent in every seat of each row's game (its mails and max_step), with the row's robots "
    "split into P players of K robots each (a player wins when its robots' deliveries add up to the mails "
    "to win); the metric is the reference's, the mean return of all robots over the test games. Only the "
    "one-robot-per-player split lands near the published plateaus; this is one of the reasons every row is "
    "read as R players x 1 robot ([how the rows were settled](reference-table.md#why-each-row-is-r-x-1)).",
)
REFERENCE_ROWS = Section(
    "The reference's own trainer beside rbtrainer",
    "reference_rows.json",
    "robot_results:reference_table",
    "Rows that rbtrainer did not bring to the published plateau, trained on this machine with the "
    "reference's own trainer (rbgame at a9bf3ec, Tianshou 1.0, in its own environment) and its published "
    "settings ([which, and where they come from](reference-table.md#what-every-row-shares-and-where-it-comes-from)), "
    "for the episodes at which its published curve first reached its plateau, or the wall-time budget, the "
    "rows side by side on the machine's two cores. Beside it, rbtrainer's run of the same row from the table "
    "above (two rows at a time as well). One seed each.",
)
REFERENCE_ROWS_LONG = Section(
    "The reference's own trainer on its three largest rows without battery",
    "reference_rows_long.json",
    "robot_results:reference_table",
    "Rows 8, 9 and 12 without battery, trained on this machine with the reference's own trainer and its "
    "published settings as above, for 2,600 episodes each: fewer than the episodes at which the published "
    "curves of rows 8 and 9 first reached their plateaus, but by 2,600 episodes every one of the three "
    "published curves is within about one point of its plateau ([read off the reference's figures]"
    "(reference-table.md#what-the-runs-show)). Two runs at a time beside other work on the machine: the "
    "wall times are not speed figures (those are on the Performance page). Beside it, rbtrainer's run of "
    "the same row from the table above. One seed each.",
)
REFERENCE_ROW_4B = Section(
    "The reference's own trainer on row 4b",
    "reference_rows_4b.json",
    "robot_results:reference_table",
    "Row 4b (4 robots with battery), trained on this machine with the reference's own trainer and its "
    "published settings as above, for the 9,000 episodes of its published curve, on one core while the other "
    "ran this project's robot trainings. Beside it, rbtrainer's seed-0 run of the row from the first table, "
    "at the learning rate of 3e-3 all rows had then (its three seeds at 5e-4 are in the table of row 4b above). "
    "One seed.",
)
REFERENCE_SPEED = Section(
    "Beside the reference, on its own work",
    "reference_speed.json",
    "reference_speed:table",
    "The reference trainer's own configuration (3 players x 1 robot, 5 mails, max_step 600, 16 envs, DQN "
    "[64, 64] with 30-step returns, 320 episodes; `benchmarks/reference_speed.py` lists it all) run by "
    "rbtrainer and, where the reference column says so, by the reference's own trainer (rbgame on "
    "Tianshou 1.0, in its own environment, `benchmarks/reference_loops.py`), every figure in a fresh process, "
    "the kinds taking turns. The test loop plays random agents; the overhead compares it with the bare game "
    "loop in the same process; the floor is a plain PyTorch DQN update with the same network and batch.",
    whole=True,
)

PAGES: dict[str, tuple[str, list[Section]]] = {
    "docs/results.md": (
        "# Results\n\n"
        "What the trained agents are worth, measured against baselines on fresh games. Every table is "
        "rendered from the JSON its benchmark wrote (`benchmarks/render.py`), with the command, commit, "
        "date and machine below it. Learning results are quoted over three seeds.\n",
        [
            DEFAULT_TRAIN,
            PLANNING_TICTACTOE_TRAPS,
            PLANNING_TICTACTOE,
            PLANNING_TICTACTOE_OTHER_CPU,
            PLANNING_CONNECT_FOUR,
            PLANNING_CONNECT_FOUR_SOLVER,
            PLANNING_CONNECT_FOUR_VS_NEGAMAX,
            PLANNING_CONNECT_FOUR_OPENINGS,
            PLANNING_CONNECT_FOUR_OPENINGS_800,
            PLANNING_CONNECT_FOUR_OPENINGS_1600,
            PLANNING_CONNECT_FOUR_OPENINGS_RETRAINED,
            PLANNING_CONNECT_FOUR_QUICK,
            PLANNING_LEAGUE,
            ROBOTS_VS_ASTAR,
            ROBOTS_TRAINED_VS_ASTAR,
            ROBOTS_STATION_MAIL_3P,
            ROBOT_RACE,
            ROBOT_RESULTS,
            ROBOT_RESULTS_4B,
            ASTAR_SPLITS,
            REFERENCE_ROWS,
            REFERENCE_ROWS_LONG,
            REFERENCE_ROW_4B,
        ],
    ),
    "docs/performance.md": (
        "# Performance\n\n"
        "Speed figures, each the median (and range) of repeated measurements in one run on the machine "
        "named below the table, rendered from the JSON its benchmark wrote (`benchmarks/render.py`). "
        "Speed ratios are only quoted where both sides ran in the same process, alternately.\n",
        [
            REFERENCE_SPEED,
            TRAINER_SPEED,
            SCALING,
            SCALING_MODEL,
            LEARNER_SPEED,
            SEARCH_SPEED,
            GAME_SPEED,
            PANEL_SPEED,
        ],
    ),
}


def rendered() -> dict[Path, str]:
    """Every rendered file's full new text, by path."""
    out = {ROOT / page: "\n".join([head, *(s.markdown() for s in parts)]) for page, (head, parts) in PAGES.items()}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    begin, end = readme.find(README_BEGIN), readme.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(f"README.md has no rendered-table markers ({README_BEGIN!r} ... {README_END!r})")
    table = f"{DEFAULT_TRAIN.table()}\n\n{DEFAULT_TRAIN.provenance()}"
    out[ROOT / "README.md"] = f"{readme[: begin + len(README_BEGIN)]}\n{table}\n{readme[end:]}"
    return out


def stale() -> list[Path]:
    """The rendered files whose committed text differs from a fresh rendering."""
    return [path for path, text in rendered().items() if not path.exists() or path.read_text(encoding="utf-8") != text]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs from its JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.check:
        differ = stale()
        for path in differ:
            logger.error("%s differs from its JSON: run python benchmarks/render.py", path.relative_to(ROOT))
        return 1 if differ else 0
    from rbtrainer.files import atomic_write

    for path, text in rendered().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            with atomic_write(path) as handle:
                handle.write(text.encode("utf-8"))
            logger.info("wrote %s", path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
