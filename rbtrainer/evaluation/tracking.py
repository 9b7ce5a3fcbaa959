"""A learner's rating over training: a test-round hook that plays it against a fixed pool.

    tracker = RatingTracker(trainer, learner, {"random": RandomAgent(), "minimax": TicTacToeMinimax()})
    trainer.test_fn = tracker          # before every test round
    trainer.train([learner, learner], [True, True])
    tracker.history                    # one RatingPoint per test round

The pool plays its own round robin once (the first time the hook runs); at every test round the
learner (greedy, nothing stored) plays every seat assignment that includes it, and the rating is
fitted to the pool's games and the learner's games of that round together, so the pool fixes the
scale (``anchor``, default the first pool member, is rated 0 Elo). Pool members are reseeded from
``seed`` each round, so rounds differ only by the learner.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from rbtrainer.agents.base import Agent
from rbtrainer.evaluation.tournament import GameRecord, TournamentResult, tournament
from rbtrainer.plotting import plot_rating_history
from rbtrainer.validation import optional_callable, positive_int

if TYPE_CHECKING:
    from rbtrainer.trainer import DecentralizedTrainer

__all__ = ["RatingPoint", "RatingTracker"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RatingPoint:
    """The learner against the pool at one test round."""

    episodes: int
    """Collected training episodes."""
    steps: int
    """Collected env steps."""
    rating: float
    """Elo against the pool (two seats) or openskill ordinal (three or more)."""
    score: float
    """Score against the pool (win 1, draw 1/2)."""
    score_low: float
    score_high: float
    games: int


class RatingTracker:
    """Test-round hook (``trainer.test_fn``) rating ``learner`` against a fixed ``pool``.

    ``then``: a hook called afterwards with the same arguments (e.g. an earlier ``test_fn``).
    ``plot_path``: where the rating curve is redrawn after every round (``None``: no figure).
    """

    def __init__(
        self,
        trainer: DecentralizedTrainer,
        learner: Agent,
        pool: Mapping[str, Agent],
        games_per_seating: int = 10,
        *,
        name: str = "learner",
        anchor: str | None = None,
        seed: int = 0,
        plot_path: str | os.PathLike[str] | None = None,
        then: Callable[[int, int], None] | None = None,
    ) -> None:
        if not isinstance(pool, Mapping) or not pool:
            raise TypeError("pool must be a non-empty dict name -> Agent")
        if name in pool:
            raise ValueError(f"name {name!r} is also a pool member; give the learner another name")
        if not isinstance(learner, Agent):
            raise TypeError(f"learner must be an rbtrainer Agent, got {learner!r}")
        self.trainer = trainer
        self.learner = learner
        self.pool = dict(pool)
        self.games_per_seating = positive_int("games_per_seating", games_per_seating)
        self.name = name
        self.anchor = anchor if anchor is not None else next(iter(self.pool))
        if self.anchor not in self.pool:
            raise ValueError(f"anchor {self.anchor!r} is not a pool member; pool: {list(self.pool)}")
        self.seed = seed
        self.plot_path = None if plot_path is None else os.fspath(plot_path)
        self.then = optional_callable("then", then)
        self.history: list[RatingPoint] = []
        self._pool_games: list[GameRecord] | None = None

    def _pool_record(self) -> list[GameRecord]:
        """The pool's own round robin, with entrant indices shifted past the learner (index 0)."""
        if self._pool_games is None:
            games: list[GameRecord] = []
            if len(self.pool) >= 2:
                result = tournament(self.trainer, self.pool, self.games_per_seating, seed=self.seed)
                games = [replace(g, seating=tuple(k + 1 for k in g.seating)) for g in result.games]
            self._pool_games = games
        return self._pool_games

    def __call__(self, episodes: int, steps: int) -> None:
        entrants = {self.name: self.learner, **self.pool}
        pool_games = self._pool_record()
        round_ = tournament(self.trainer, entrants, self.games_per_seating, seed=self.seed, focus=self.name)
        rated = TournamentResult.from_games(
            round_.names, round_.seats, [*pool_games, *round_.games], anchor=self.anchor
        )
        mine = round_.entrant(self.name)
        point = RatingPoint(
            episodes=episodes,
            steps=steps,
            rating=rated.entrant(self.name).rating,
            score=mine.score,
            score_low=mine.score_low,
            score_high=mine.score_high,
            games=mine.games,
        )
        self.history.append(point)
        logger.info("rating at %d episodes: %.1f, score vs pool %.3f", episodes, point.rating, point.score)
        if self.plot_path is not None:
            plot_rating_history(
                self.plot_path,
                [p.episodes for p in self.history],
                [p.rating for p in self.history],
                [p.score for p in self.history],
                [p.score_low for p in self.history],
                [p.score_high for p in self.history],
                title=f"{self.trainer.game_name}: {self.name} against {', '.join(self.pool)}",
                rating_label="Elo" if rated.rating_kind == "elo" else "openskill ordinal",
            )
        if self.then is not None:
            self.then(episodes, steps)
