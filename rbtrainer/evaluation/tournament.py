"""Cross-play tournaments: every entrant against every other, in every seat, on the trainer's pools.

Two-seat games: every ordered pair of distinct entrants, so each pair meets in both seat orders.
Games with N >= 3 seats: with at least N entrants, every N-subset in its N cyclic seat rotations
(each member sits in each seat once); with fewer entrants than seats, every assignment of
entrants to seats that uses all of them (a balanced rotation too: by symmetry every entrant sits
in every seat equally often). Each seat assignment is one :class:`~rbtrainer.seating.EnvGroup`
played ``games_per_seating`` times by :meth:`DecentralizedTrainer.play
<rbtrainer.trainer.DecentralizedTrainer.play>`, on whichever pool backend the trainer uses.

An entrant wins a game when the game's winner is one of its seats; a game without a winner is a
draw for everyone in it. Score = (wins + draws / 2) / games, with a Wilson 95 % interval.
Ratings: Bradley-Terry Elo fitted to all games at once for two-seat games; openskill's
Plackett-Luce for three or more seats (winner first, the rest tied).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rbtrainer.agents.base import Agent, Learner, unique_name
from rbtrainer.evaluation.ratings import bradley_terry_elo, plackett_luce_ratings, wilson_interval
from rbtrainer.rng import spawn_seeds
from rbtrainer.seating import EnvGroup
from rbtrainer.validation import positive_int

if TYPE_CHECKING:
    from rbtrainer.trainer import DecentralizedTrainer

__all__ = ["EntrantResult", "GameRecord", "TournamentResult", "seatings", "tournament"]

MAX_SEATINGS = 5000
"""More seat assignments than this is an error (too many entrants for the seats)."""


@dataclass(frozen=True, slots=True)
class GameRecord:
    """One finished game of a tournament."""

    seating: tuple[int, ...]
    """Entrant index in each seat."""
    returns: tuple[float, ...]
    """Episode return of each seat."""
    winning_seats: tuple[int, ...]
    """Seats of the winner (empty: a draw)."""
    length: int
    """Env steps of the game."""
    time_span: float
    """The game's own clock at the end (env steps for games without one)."""

    def outcome(self, entrant: int) -> float:
        """1 if ``entrant`` won, 0.5 for a draw, 0 if it lost (it must have played)."""
        if not self.winning_seats:
            return 0.5
        return 1.0 if any(self.seating[s] == entrant for s in self.winning_seats) else 0.0


@dataclass(frozen=True, slots=True)
class EntrantResult:
    """One entrant's line of the tournament table."""

    name: str
    games: int
    wins: int
    draws: int
    losses: int
    mean_return: float
    """Mean episode return over the seats it played."""
    score: float
    """(wins + draws / 2) / games."""
    score_low: float
    """Lower end of the Wilson 95 % interval of ``score``."""
    score_high: float
    rating: float
    """Elo (two-seat games) or openskill's ordinal ``mu - 3 sigma`` (three or more seats)."""
    rating_sigma: float | None = None
    """openskill's uncertainty (three or more seats), ``None`` for Elo."""
    mean_winning_span: float = math.nan
    """Mean game clock (``time_span``) of the games it won (NaN without a win)."""


@dataclass(frozen=True)
class TournamentResult:
    """Everything a tournament measured; built from its game records by :meth:`from_games`."""

    names: tuple[str, ...]
    seats: tuple[str, ...]
    games: tuple[GameRecord, ...]
    entrants: tuple[EntrantResult, ...]
    score_matrix: np.ndarray
    """``[i, j]``: score of ``i`` in the games where ``i`` and ``j`` both played (NaN if never)."""
    games_matrix: np.ndarray
    """``[i, j]``: number of games where ``i`` and ``j`` both played."""
    rating_kind: str
    """``"elo"`` (Bradley-Terry) or ``"openskill"`` (Plackett-Luce ordinal)."""
    anchor: str | None = None
    """Entrant rated 0 Elo (``None``: the weakest)."""

    @classmethod
    def from_games(
        cls, names: Sequence[str], seats: Sequence[str], games: Sequence[GameRecord], anchor: str | None = None
    ) -> TournamentResult:
        """Tables, pairwise scores and ratings of a list of games (entrant indices into ``names``)."""
        names, size = tuple(names), len(names)
        if anchor is not None and anchor not in names:
            raise ValueError(f"anchor {anchor!r} is not an entrant; entrants are {list(names)}")
        score = np.zeros((size, size))
        met = np.zeros((size, size))
        for game in games:
            present = sorted(set(game.seating))
            for i, j in itertools.permutations(present, 2):
                met[i, j] += 1
                score[i, j] += _pairwise(game, i, j)
        with np.errstate(invalid="ignore", divide="ignore"):
            matrix = np.where(met > 0, score / np.maximum(met, 1), np.nan)
        kind, rating, sigma = _ratings(size, len(seats), games, names, anchor)
        rows = [
            _entrant_result(k, name, games, rating[k], None if sigma is None else sigma[k])
            for k, name in enumerate(names)
        ]
        return cls(names, tuple(seats), tuple(games), tuple(rows), matrix, met, kind, anchor)

    def entrant(self, name: str) -> EntrantResult:
        for row in self.entrants:
            if row.name == name:
                return row
        raise KeyError(f"no entrant {name!r}; entrants are {list(self.names)}")

    def seat_results(self, name: str) -> dict[str, EntrantResult]:
        """``name``'s results per seat it played (only games where it sat in that seat)."""
        k = self.names.index(name)
        out = {}
        for s, seat in enumerate(self.seats):
            games = [g for g in self.games if g.seating[s] == k]
            if games:
                out[seat] = _entrant_result(k, name, games, math.nan, None, seat=s)
        return out

    def table(self) -> str:
        """The tournament table as aligned text, best rating first."""
        width = max(8, *(len(n) for n in self.names))
        label = "Elo" if self.rating_kind == "elo" else "ordinal"
        lines = [
            f"{'entrant':<{width}} {label:>8} {'games':>6} {'wins':>6} {'draws':>6} {'losses':>6} "
            f"{'score':>6}  {'95% CI':<13} {'return':>8}"
        ]
        for row in sorted(self.entrants, key=lambda r: -r.rating):
            lines.append(
                f"{row.name:<{width}} {row.rating:8.1f} {row.games:6d} {row.wins:6d} {row.draws:6d} {row.losses:6d} "
                f"{row.score:6.3f}  [{row.score_low:.3f}, {row.score_high:.3f}] {row.mean_return:8.3f}"
            )
        return "\n".join(lines)


def _pairwise(game: GameRecord, i: int, j: int) -> float:
    """Score of ``i`` against ``j`` in one game: 1 if only ``i``'s side won, 0 if only ``j``'s, else 1/2."""
    won_i, won_j = game.outcome(i) == 1.0, game.outcome(j) == 1.0
    return 0.5 if won_i == won_j else float(won_i)


def _entrant_result(
    k: int, name: str, games: Sequence[GameRecord], rating: float, sigma: float | None, seat: int | None = None
) -> EntrantResult:
    mine = [g for g in games if k in g.seating]
    outcomes = [g.outcome(k) for g in mine]
    wins, draws = outcomes.count(1.0), outcomes.count(0.5)
    returns = [r for g in mine for s, r in enumerate(g.returns) if g.seating[s] == k and (seat is None or s == seat)]
    spans = [g.time_span for g, o in zip(mine, outcomes) if o == 1.0]
    n = len(mine)
    score = (wins + 0.5 * draws) / n if n else 0.0
    low, high = wilson_interval(score, n)
    return EntrantResult(
        name=name,
        games=n,
        wins=wins,
        draws=draws,
        losses=n - wins - draws,
        mean_return=float(np.mean(returns)) if returns else math.nan,
        score=score,
        score_low=low,
        score_high=high,
        rating=float(rating),
        rating_sigma=sigma,
        mean_winning_span=float(np.mean(spans)) if spans else math.nan,
    )


def _ratings(
    size: int, num_seats: int, games: Sequence[GameRecord], names: Sequence[str], anchor: str | None
) -> tuple[str, np.ndarray, np.ndarray | None]:
    if num_seats == 2:
        wins = np.zeros((size, size))
        draws = np.zeros((size, size))
        for g in games:
            a, b = g.seating
            if a == b:
                continue
            if not g.winning_seats:
                draws[a, b] += 1
                draws[b, a] += 1
            else:
                winner = g.seating[g.winning_seats[0]]
                wins[winner, b if winner == a else a] += 1
        elo = bradley_terry_elo(wins, draws, anchor=None if anchor is None else list(names).index(anchor))
        return "elo", elo, None
    ranked = []
    for g in games:
        present = sorted(set(g.seating))
        ranked.append([(k, 0 if g.outcome(k) == 1.0 or not g.winning_seats else 1) for k in present])
    fit = plackett_luce_ratings(size, ranked)
    return "openskill", fit.ordinal, fit.sigma


def seatings(num_entrants: int, num_seats: int) -> list[tuple[int, ...]]:
    """The balanced seat assignments of a tournament (entrant index per seat), in a fixed order."""
    if num_entrants < 2:
        raise ValueError(f"a tournament needs at least two entrants, got {num_entrants}")
    if num_seats < 2:
        raise ValueError("a tournament needs a game with at least two seats; this game has one")
    if num_seats == 2 or num_entrants >= num_seats:
        out = [
            tuple(combo[(s + r) % num_seats] for s in range(num_seats))
            for combo in itertools.combinations(range(num_entrants), num_seats)
            for r in range(num_seats)
        ]
    else:
        everyone = set(range(num_entrants))
        out = [p for p in itertools.product(range(num_entrants), repeat=num_seats) if set(p) == everyone]
    if len(out) > MAX_SEATINGS:
        raise ValueError(
            f"{num_entrants} entrants in {num_seats} seats make {len(out)} seat assignments (at most {MAX_SEATINGS}); "
            "use fewer entrants"
        )
    return out


def _entrant_list(entrants: Mapping[str, Agent] | Sequence[Agent]) -> tuple[list[str], list[Agent]]:
    if isinstance(entrants, Mapping):
        names, agents = [str(n) for n in entrants], list(entrants.values())
    elif isinstance(entrants, Sequence) and not isinstance(entrants, (str, bytes)):
        agents = list(entrants)
        names = []
        for agent in agents:
            names.append(unique_name(str(getattr(agent, "name", type(agent).__name__)), names))
    else:
        raise TypeError(f"entrants must be a dict name -> Agent or a list of Agents, got {type(entrants).__name__}")
    for name, agent in zip(names, agents):
        if not isinstance(agent, Agent):
            raise TypeError(f"entrant {name!r} must be an rbtrainer Agent, got {agent!r}")
    return names, agents


def tournament(
    trainer: DecentralizedTrainer,
    entrants: Mapping[str, Agent] | Sequence[Agent],
    games_per_seating: int = 20,
    *,
    seed: int | None = None,
    anchor: str | None = None,
    focus: str | None = None,
) -> TournamentResult:
    """Play a cross-play tournament of ``entrants`` on ``trainer``'s test pool; returns its results.

    ``entrants``: a dict name -> agent, or a list of agents (named by their ``name``). Every seat
    assignment (see :func:`seatings`) is played ``games_per_seating`` times without exploration.
    ``seed``: reseed every entrant that is not a :class:`~rbtrainer.agents.Learner` (baselines,
    frozen snapshots) from it first, so results do not depend on what the agents played before;
    learners keep their generators. ``anchor``: the entrant rated 0 Elo. ``focus``: play only the
    seat assignments that include this entrant (rating it against a fixed pool). Every entrant is
    checked against every seat before any game is played.
    """
    positive_int("games_per_seating", games_per_seating)
    names, agents = _entrant_list(entrants)
    plan = seatings(len(agents), trainer.num_seats)
    if focus is not None:
        if focus not in names:
            raise ValueError(f"focus {focus!r} is not an entrant; entrants are {names}")
        plan = [s for s in plan if names.index(focus) in s]
    if anchor is not None and anchor not in names:
        raise ValueError(f"anchor {anchor!r} is not an entrant; entrants are {names}")
    for name, agent in zip(names, agents):
        for s in range(trainer.num_seats):
            try:
                agent.check_spaces(trainer.observation_space(s), trainer.action_space(s))
            except (TypeError, ValueError) as err:
                raise type(err)(f"entrant {name!r} cannot play seat {trainer.seats[s]!r}: {err}") from None
    if seed is not None:
        for agent, s in zip(agents, spawn_seeds(seed, len(agents), stream=7)):
            if not isinstance(agent, Learner):
                agent.seed(s)
    groups = [EnvGroup("-".join(map(str, seating)), [agents[k] for k in seating]) for seating in plan]
    played = trainer.play(groups, games_per_seating)
    records = []
    for seating, group in zip(plan, groups):
        for episode in played[group.name]:
            records.append(
                GameRecord(
                    seating=seating,
                    returns=tuple(float(r) for r in episode.returns),
                    winning_seats=trainer.game.winning_seats(episode.winner),
                    length=episode.length,
                    time_span=episode.time_span,
                )
            )
    return TournamentResult.from_games(names, trainer.seats, records, anchor=anchor)
