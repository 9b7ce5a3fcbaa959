"""Evaluation panels: every learner against fixed opponents at every test round.

In two-player zero-sum self-play the mean return over all seats is always 0, so a reward metric
built from it cannot tell a trained agent from an untrained one. A panel measures what "better"
means there: at each test round every learner of the run (greedy, nothing stored) plays each
panel opponent from every seat assignment it can take, ``games_per_seat`` games each, on the
trainer's test pool. A round reports, per learner, opponent and seat, the score (win 1, draw 1/2),
wins, draws, losses and Wilson 95 % interval; the learner's overall score against the panel; and
one rating on a fixed scale: the panel members play their own round robin once per run, and each
round's rating is fitted to those games and the learner's games together, the first member rated
0 (Bradley-Terry Elo for two seats, openskill's ordinal for more).

Opponents are named by the specs of ``rbtrainer eval`` (:func:`~rbtrainer.evaluation.agent_from_spec`:
``random``, ``minimax``, ``strong``, ``opportunist``, ``negamax:K``, ``astar``, a checkpoint
path). They are reseeded from the panel's seed every round, and the test pool restarts from its
seeds, so rounds differ only by the learners; a resumed run repeats the rounds it would have run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rbtrainer.agents.base import Agent
from rbtrainer.config import DEFAULT_PANELS, PanelConfig, default_panel
from rbtrainer.evaluation.ratings import wilson_interval
from rbtrainer.evaluation.specs import agent_from_spec
from rbtrainer.evaluation.tournament import GameRecord, TournamentResult, tournament

if TYPE_CHECKING:
    from rbtrainer.trainer import DecentralizedTrainer

__all__ = ["DEFAULT_PANELS", "EvaluationPanel", "PanelConfig", "PanelLine", "PanelRound", "default_panel"]


@dataclass(frozen=True, slots=True)
class PanelLine:
    """One learner against one opponent from one seat, in one round."""

    learner: str
    opponent: str
    seat: str
    """The learner's seat."""
    games: int
    wins: int
    draws: int
    losses: int
    score: float
    """(wins + draws / 2) / games."""
    score_low: float
    """Wilson 95 % interval of the score."""
    score_high: float


@dataclass(frozen=True, slots=True)
class PanelRound:
    """A test round's panel results."""

    episodes: int
    """Collected training episodes at the round."""
    env_steps: int
    lines: tuple[PanelLine, ...]
    scores: dict[str, float] = field(default_factory=dict)
    """Each learner's score against the whole panel."""
    ratings: dict[str, float] = field(default_factory=dict)
    """Each learner's rating on the panel's scale (its first member rated 0)."""
    games: int = 0
    """Panel games played in the round (not counted as training or test episodes)."""

    @property
    def score(self) -> float:
        """The learners' mean score against the panel (the round's metric when the panel is the metric)."""
        return float(sum(self.scores.values()) / len(self.scores)) if self.scores else math.nan

    def opponent_scores(self, learner: str | None = None) -> dict[str, float]:
        """Score against each opponent over all seats (of ``learner``; default: all learners together)."""
        out: dict[str, list[int | float]] = {}
        for line in self.lines:
            if learner is None or line.learner == learner:
                points, games = out.setdefault(line.opponent, [0.0, 0])
                out[line.opponent] = [points + line.score * line.games, games + line.games]
        return {name: points / games for name, (points, games) in out.items() if games}

    def table(self) -> str:
        """The round as aligned text: one line per learner, opponent and seat."""
        width = max(8, *(len(line.opponent) for line in self.lines)) if self.lines else 8
        rows = [
            f"{'learner':<12} {'opponent':<{width}} {'seat':<10} {'games':>5} {'W':>4} {'D':>4} {'L':>4}  score  95% CI"
        ]
        for line in self.lines:
            rows.append(
                f"{line.learner:<12} {line.opponent:<{width}} {line.seat:<10} {line.games:5d} {line.wins:4d} "
                f"{line.draws:4d} {line.losses:4d}  {line.score:.3f}  [{line.score_low:.3f}, {line.score_high:.3f}]"
            )
        for name, score in self.scores.items():
            rows.append(f"{name}: score {score:.3f} against the panel, rating {self.ratings.get(name, math.nan):.1f}")
        return "\n".join(rows)

    def summary(self) -> dict[str, Any]:
        """Plain values: dicts, lists, strings and numbers (checkpoint metadata, training states)."""
        return {**dataclasses.asdict(self), "lines": [dataclasses.asdict(line) for line in self.lines]}

    @classmethod
    def from_summary(cls, data: Mapping[str, Any]) -> PanelRound:
        fields = dict(data)
        fields["lines"] = tuple(PanelLine(**line) for line in fields["lines"])
        return cls(**fields)


class EvaluationPanel:
    """A panel bound to a trainer: its opponents built from their specs, checked against every seat."""

    def __init__(self, config: PanelConfig, trainer: DecentralizedTrainer) -> None:
        if trainer.num_seats < 2:
            raise ValueError("an evaluation panel needs a game with at least two seats")
        self.config = config
        self.trainer = trainer
        self.opponents: dict[str, Agent] = {}
        for spec in config.opponents:
            try:
                self.opponents[spec] = agent_from_spec(spec, trainer, seed=config.seed)
            except (TypeError, ValueError, FileNotFoundError) as err:
                raise type(err)(f"panel opponent {spec!r}: {err}") from None
        self._pool_games: list[GameRecord] | None = None

    def _pool_record(self) -> list[GameRecord]:
        """The members' own round robin (played once), entrant indices shifted past the learner (index 0)."""
        if self._pool_games is None:
            games: list[GameRecord] = []
            if len(self.opponents) >= 2:
                result = tournament(self.trainer, self.opponents, self.config.games_per_seat, seed=self.config.seed)
                games = [dataclasses.replace(g, seating=tuple(k + 1 for k in g.seating)) for g in result.games]
            self._pool_games = games
        return self._pool_games

    def play(self, learners: Mapping[str, Agent], episodes: int, env_steps: int) -> PanelRound:
        """Every learner against the panel (one tournament each, focused on it); returns the round."""
        lines: list[PanelLine] = []
        scores: dict[str, float] = {}
        ratings: dict[str, float] = {}
        played = 0
        anchor = next(iter(self.opponents))
        for name, learner in learners.items():
            entrant = name if name not in self.opponents else f"{name} (learner)"
            entrants = {entrant: learner, **self.opponents}
            round_ = tournament(
                self.trainer, entrants, self.config.games_per_seat, seed=self.config.seed, focus=entrant
            )
            played += len(round_.games)
            mine = round_.entrant(entrant)
            scores[name] = mine.score
            rated = TournamentResult.from_games(
                round_.names, round_.seats, [*self._pool_record(), *round_.games], anchor=anchor
            )
            ratings[name] = rated.entrant(entrant).rating
            lines.extend(self._lines(name, round_))
        return PanelRound(episodes, env_steps, tuple(lines), scores, ratings, played)

    def _lines(self, name: str, round_: TournamentResult) -> list[PanelLine]:
        """Per opponent and learner seat, from the round's games (the learner is entrant 0)."""
        lines = []
        for k, opponent in enumerate(round_.names[1:], start=1):
            for s, seat in enumerate(round_.seats):
                games = [g for g in round_.games if g.seating[s] == 0 and k in g.seating]
                if not games:
                    continue
                outcomes = [g.outcome(0) for g in games]
                wins, draws = outcomes.count(1.0), outcomes.count(0.5)
                score = (wins + draws / 2) / len(games)
                low, high = wilson_interval(score, len(games))
                lines.append(
                    PanelLine(
                        learner=name,
                        opponent=opponent,
                        seat=seat,
                        games=len(games),
                        wins=wins,
                        draws=draws,
                        losses=len(games) - wins - draws,
                        score=score,
                        score_low=low,
                        score_high=high,
                    )
                )
        return lines
