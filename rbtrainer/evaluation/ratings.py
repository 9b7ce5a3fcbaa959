"""Ratings from a whole match record, and confidence intervals of scores.

* :func:`bradley_terry_elo`: Elo ratings of a Bradley-Terry model fitted to all games at once by
  Hunter's MM algorithm (MM Algorithms for Generalized Bradley-Terry Models, Annals of
  Statistics 32(1), 2004), as OpenSpiel's ``ComputeElo`` does: a draw counts half a win for each
  side, and a small smoothing count is added to every pair so that an unbeaten or winless entrant
  still gets a finite rating. The fit does not depend on the order of the games (unlike
  sequential Elo updates).
* :func:`plackett_luce_ratings`: for games with three or more seats, openskill's Plackett-Luce
  model (an optional dependency: ``pip install 'rbtrainer[eval]'``).
* :func:`wilson_interval`: the Wilson score interval of a proportion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ELO_SCALE", "MultiplayerRatings", "bradley_terry_elo", "plackett_luce_ratings", "wilson_interval"]

ELO_SCALE = 400.0
"""Elo points per factor of ten in the odds of winning."""

_Z95 = 1.959963984540054


def wilson_interval(score: float, games: int, z: float = _Z95) -> tuple[float, float]:
    """Wilson score interval (95 % by default) of a proportion ``score`` observed over ``games``.

    A score with draws counted as halves is treated as a proportion of ``games`` trials.
    ``games == 0`` gives the uninformative ``(0.0, 1.0)``.
    """
    if games < 0:
        raise ValueError(f"games must be >= 0, got {games}")
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score must be in [0, 1], got {score}")
    if games == 0:
        return 0.0, 1.0
    z2 = z * z
    centre = (score + z2 / (2 * games)) / (1 + z2 / games)
    half = z / (1 + z2 / games) * math.sqrt(score * (1 - score) / games + z2 / (4 * games * games))
    return max(0.0, centre - half), min(1.0, centre + half)


def _square(name: str, matrix: np.ndarray | Sequence[Sequence[float]], size: int | None = None) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or (size is not None and m.shape[0] != size):
        expected = "a square matrix" if size is None else f"a {size}x{size} matrix"
        raise ValueError(f"{name} must be {expected}, got shape {m.shape}")
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        raise ValueError(f"{name} must hold finite counts >= 0")
    return m


def bradley_terry_elo(
    wins: np.ndarray | Sequence[Sequence[float]],
    draws: np.ndarray | Sequence[Sequence[float]] | None = None,
    *,
    smoothing: float = 0.1,
    anchor: int | None = None,
    max_iterations: int = 100_000,
    tolerance: float = 1e-12,
) -> np.ndarray:
    """Elo ratings fitted to a whole match record (Bradley-Terry, Hunter's MM algorithm).

    ``wins[i, j]``: games entrant ``i`` won against ``j``; ``draws[i, j] == draws[j, i]``: their
    draws. ``smoothing`` is added to every off-diagonal win count (OpenSpiel's default 0.1); with
    ``smoothing=0`` every entrant needs a positive score. The result is in Elo points
    (``400 * log10`` of the strengths): ``anchor`` is rated 0 (default: the weakest entrant is 0).
    """
    w = _square("wins", wins)
    size = w.shape[0]
    if size < 2:
        raise ValueError("a rating needs at least two entrants")
    d = np.zeros_like(w) if draws is None else _square("draws", draws, size)
    if not np.allclose(d, d.T):
        raise ValueError("draws must be symmetric: draws[i, j] == draws[j, i]")
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) or not smoothing >= 0:
        raise ValueError(f"smoothing must be a number >= 0, got {smoothing!r}")
    if anchor is not None and not 0 <= anchor < size:
        raise ValueError(f"anchor must be an entrant index in 0..{size - 1}, got {anchor}")
    off_diagonal = ~np.eye(size, dtype=bool)
    score = np.where(off_diagonal, w + 0.5 * d + smoothing, 0.0)
    games = score + score.T
    total = score.sum(axis=1)
    if np.any(total <= 0):
        raise ValueError(
            f"entrant(s) {np.flatnonzero(total <= 0).tolist()} have no win or draw: their rating is -infinity; "
            "use smoothing > 0"
        )
    gamma = np.full(size, 1.0 / size)
    for _ in range(max_iterations):
        ratio = np.where(off_diagonal, games / (gamma[:, None] + gamma[None, :]), 0.0)
        updated = total / ratio.sum(axis=1)
        updated /= updated.sum()
        done = np.max(np.abs(updated - gamma)) < tolerance
        gamma = updated
        if done:
            break
    elo = ELO_SCALE * np.log10(np.maximum(gamma, np.finfo(np.float64).tiny))
    return elo - (elo.min() if anchor is None else elo[anchor])


@dataclass(frozen=True)
class MultiplayerRatings:
    """openskill Plackett-Luce ratings of the entrants of a multiplayer record."""

    mu: np.ndarray
    """Mean skill of each entrant (openskill's scale: 25 at the start)."""
    sigma: np.ndarray
    """Uncertainty of each skill."""

    @property
    def ordinal(self) -> np.ndarray:
        """The conservative estimate ``mu - 3 sigma`` (openskill's ordinal), for ranking."""
        return self.mu - 3.0 * self.sigma


def plackett_luce_ratings(num_entrants: int, games: Sequence[Sequence[tuple[int, int]]]) -> MultiplayerRatings:
    """openskill Plackett-Luce ratings from games given as ``(entrant, rank)`` pairs (rank 0 is first).

    Each game lists every entrant that took part once, with its finishing rank (equal ranks tie).
    Games are rated in the order given.
    """
    try:
        from openskill.models import PlackettLuce
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "ratings of games with three or more seats use openskill: pip install 'rbtrainer[eval]'"
        ) from None
    model = PlackettLuce()
    ratings = [model.rating(name=str(k)) for k in range(num_entrants)]
    for game in games:
        if len(game) < 2:
            continue  # one entrant in every seat: nothing to compare
        teams = [[ratings[entrant]] for entrant, _ in game]
        rated = model.rate(teams, ranks=[float(rank) for _, rank in game])
        for (entrant, _), (new,) in zip(game, rated):
            ratings[entrant] = new
    return MultiplayerRatings(
        mu=np.array([r.mu for r in ratings], dtype=np.float64),
        sigma=np.array([r.sigma for r in ratings], dtype=np.float64),
    )
