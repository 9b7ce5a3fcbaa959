"""Image files: training curves (matplotlib, no display needed), PNG frames and GIF animations.

Every file is written atomically through ``rbtrainer.files.atomic_write``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rbtrainer.files import atomic_write

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from rbtrainer.evaluation.panel import PanelRound
    from rbtrainer.league import LeagueCurve

__all__ = [
    "plot_crossplay",
    "plot_rating_history",
    "plot_search",
    "plot_training_curves",
    "save_gif",
    "save_png",
    "search_figure",
]


def plot_training_curves(
    path: str | os.PathLike[str],
    episodes: Sequence[int],
    reward_metric: Sequence[float],
    per_seat: np.ndarray,
    seat_labels: Sequence[str],
    title: str,
    metric_name: str = "test reward metric",
    groups: Mapping[str, Sequence[float]] | None = None,
    league: LeagueCurve | None = None,
    panel: Sequence[PanelRound] = (),
) -> str:
    """Reward metric (top) and each seat's mean test return (middle) against collected episodes.

    ``groups``: each env group's reward metric, drawn as dashed lines beside the overall one.
    ``league``: a third panel with the learner's score against each pool member in the training
    games between test rounds, and against the whole pool in the test rounds.
    ``panel``: the evaluation panel's rounds (one per test round): a panel with the score against
    each opponent and the rating on the panel's scale.

    Written atomically (a temporary file renamed into place); returns the path.
    """
    extra = (league is not None) + bool(panel)
    fig = Figure(figsize=(8, 6.5 + 3 * extra), dpi=110)
    FigureCanvasAgg(fig)
    panels = fig.subplots(2 + extra, 1, sharex=True)
    top, bottom = panels[0], panels[1]
    x = np.asarray(episodes)
    top.plot(x, reward_metric, marker="o", ms=3, color="#1f77b4", label="all envs" if groups else None)
    # group colours skip the overall line's (C0) and the best marker's (C3)
    palette = [f"C{i}" for i in (1, 2, 4, 5, 6, 7, 8, 9)]
    for k, (name, values) in enumerate((groups or {}).items()):
        top.plot(x, values, linestyle="--", marker=".", ms=3, label=name, color=palette[k % len(palette)])
    best = int(np.argmax(reward_metric)) if len(reward_metric) else None
    if best is not None:
        top.scatter(
            [x[best]], [reward_metric[best]], color="#d62728", zorder=3, label=f"best {reward_metric[best]:.3g}"
        )
        top.legend(loc="lower right", fontsize=8)
    top.set_ylabel(metric_name)
    top.set_title(title)
    top.grid(alpha=0.3)
    per_seat = np.asarray(per_seat)
    for k, label in enumerate(seat_labels):
        if per_seat.size:
            bottom.plot(x, per_seat[:, k], marker=".", ms=3, label=label)
    bottom.set_xlabel("collected training episodes")
    bottom.set_ylabel("mean test return per seat")
    bottom.grid(alpha=0.3)
    if len(seat_labels) <= 12:
        bottom.legend(loc="best", fontsize=8, ncol=min(4, max(1, len(seat_labels))))
    if league is not None:
        bottom.set_xlabel("")
        _league_panel(panels[2], x, league)
    if panel:
        for axes in panels[1:-1]:
            axes.set_xlabel("")
        _evaluation_panel(panels[-1], x, panel)
    return _save(fig, path)


def _evaluation_panel(axes: Axes, x: np.ndarray, rounds: Sequence[PanelRound]) -> None:
    """The learners' score against each panel opponent, and their rating on the panel's scale (right axis)."""
    opponents = list(rounds[0].opponent_scores())
    for name in opponents:
        axes.plot(
            x[: len(rounds)],
            [r.opponent_scores().get(name, np.nan) for r in rounds],
            marker=".",
            ms=3,
            label=f"vs {name}",
        )
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel("collected training episodes")
    axes.set_ylabel("panel score (win 1, draw 1/2)")
    axes.grid(alpha=0.3)
    rating = axes.twinx()
    learners = list(rounds[0].ratings)
    for name in learners:
        label = "rating" if len(learners) == 1 else f"rating {name}"
        rating.plot(
            x[: len(rounds)], [r.ratings.get(name, np.nan) for r in rounds], color="black", lw=1, ls=":", label=label
        )
    rating.set_ylabel(f"rating ({opponents[0] if opponents else 'first member'} = 0)")
    lines, labels = axes.get_legend_handles_labels()
    more, more_labels = rating.get_legend_handles_labels()
    axes.legend(lines + more, labels + more_labels, loc="lower right", fontsize=8)


def _league_panel(axes: Axes, x: np.ndarray, league: LeagueCurve) -> None:
    """The learner's score against each league member (training games) and the pool (test rounds)."""
    snapshots = [name for name in league.members if name not in league.fixed]
    shown = league.fixed + snapshots[-8:]  # the fixed opponents and the newest snapshots; more crowd the legend
    for name in shown:
        values = np.asarray(league.train_score[name][: len(x)], dtype=np.float64)
        axes.plot(x[: len(values)], values, lw=0.9, alpha=0.8, marker=".", ms=2, label=name)
    axes.plot(x[: len(league.test_score)], league.test_score, color="black", lw=2, label="test: whole pool")
    for episode in league.snapshots:
        axes.axvline(episode, color="grey", lw=0.5, alpha=0.4)
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel("collected training episodes (grey: a snapshot joins)")
    axes.set_ylabel("learner's score vs member")
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize=7, ncol=3)


def _save(fig: Figure, path: str | os.PathLike[str]) -> str:
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    with atomic_write(path) as handle:
        fig.savefig(handle, format="png")
    return os.fspath(path)


def plot_crossplay(
    path: str | os.PathLike[str],
    names: Sequence[str],
    score_matrix: np.ndarray,
    ratings: Sequence[float],
    title: str,
    rating_label: str = "Elo",
) -> str:
    """Cross-play heat-map (score of row vs column) with the ratings beside it, best first.

    Written atomically; returns the path.
    """
    order = np.argsort(-np.asarray(ratings, dtype=np.float64), kind="stable")
    labels = [names[k] for k in order]
    matrix = np.asarray(score_matrix, dtype=np.float64)[np.ix_(order, order)]
    size = len(labels)
    fig = Figure(figsize=(3.2 + 0.75 * size + 2.4, 1.6 + 0.6 * size), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    heat, bars = fig.subplots(1, 2, gridspec_kw={"width_ratios": [max(size, 2), 2.2]})
    image = heat.imshow(np.ma.masked_invalid(matrix), cmap="RdYlGn", vmin=0.0, vmax=1.0)
    for i in range(size):
        for j in range(size):
            if np.isfinite(matrix[i, j]):
                heat.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=8)
    heat.set_xticks(range(size), labels, rotation=35, ha="right", fontsize=8)
    heat.set_yticks(range(size), labels, fontsize=8)
    heat.set_xlabel("opponent")
    heat.set_ylabel("entrant")
    heat.set_title(title, fontsize=9)
    fig.colorbar(image, ax=heat, fraction=0.046, pad=0.04, label="score (win 1, draw 1/2)")
    values = np.asarray(ratings, dtype=np.float64)[order]
    bars.barh(range(size), values, color="#1f77b4")
    bars.set_yticks(range(size), labels, fontsize=8)
    bars.invert_yaxis()
    for k, v in enumerate(values):
        bars.text(v, k, f" {v:.0f}", va="center", fontsize=8)
    bars.set_xlabel(rating_label)
    bars.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def plot_rating_history(
    path: str | os.PathLike[str],
    episodes: Sequence[int],
    ratings: Sequence[float],
    scores: Sequence[float],
    score_low: Sequence[float],
    score_high: Sequence[float],
    title: str,
    rating_label: str = "Elo",
) -> str:
    """A learner's rating (top) and its score against a fixed pool with the 95 % interval (bottom).

    Written atomically; returns the path.
    """
    fig = Figure(figsize=(8, 6), dpi=110)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True)
    x = np.asarray(episodes)
    top.plot(x, ratings, marker="o", ms=3)
    top.set_ylabel(rating_label)
    top.set_title(title)
    top.grid(alpha=0.3)
    bottom.plot(x, scores, marker="o", ms=3, color="C2", label="score vs pool")
    bottom.fill_between(x, score_low, score_high, color="C2", alpha=0.2, label="95 % interval")
    bottom.set_ylim(0.0, 1.0)
    bottom.set_xlabel("collected training episodes")
    bottom.set_ylabel("score (win 1, draw 1/2)")
    bottom.legend(loc="lower right", fontsize=8)
    bottom.grid(alpha=0.3)
    return _save(fig, path)


def save_png(image: np.ndarray, path: str | os.PathLike[str]) -> str:
    """Write one frame (an ``(H, W, 3)`` uint8 image) as a PNG (atomically); returns the path."""
    from PIL import Image

    with atomic_write(path) as handle:
        Image.fromarray(image).save(handle, format="PNG")
    return os.fspath(path)


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike[str], fps: float = 4.0) -> str:
    """Assemble ``rgb_array`` frames into an animated GIF (atomically); returns the path."""
    from PIL import Image

    if not frames:
        raise ValueError("save_gif: frames is empty; render at least one frame")
    images = [Image.fromarray(f) for f in frames]
    with atomic_write(path) as handle:
        images[0].save(handle, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return os.fspath(path)


def plot_search(
    path: str | os.PathLike[str],
    trials: Sequence[tuple[int, str, float | None]],
    name: str,
    last_reported: Mapping[int, float] | None = None,
) -> str:
    """Fitness of each completed trial of a search and the best so far; pruned trials as crosses at
    the last value they reported before Optuna pruned them (a pruned trial has no final fitness).

    ``trials``: (number, state, value) as Optuna reports them; ``last_reported``: a pruned trial's
    last intermediate value by trial number (pruned trials without one are counted in the title).
    Written atomically; returns the path.
    """
    return _save(search_figure(trials, name, last_reported), path)


def search_figure(
    trials: Sequence[tuple[int, str, float | None]], name: str, last_reported: Mapping[int, float] | None = None
) -> Figure:
    """The figure :func:`plot_search` writes."""
    fig = Figure(figsize=(7, 4), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots()
    done = [(n, v) for n, state, v in trials if state == "COMPLETE" and v is not None and math.isfinite(v)]
    if done:
        numbers, values = zip(*done)
        axes.scatter(numbers, values, s=18, label="completed trial")
        axes.plot(numbers, np.maximum.accumulate(values), color="C3", label="best so far")
    reported = dict(last_reported or {})
    pruned = [n for n, state, _ in trials if state == "PRUNED"]
    drawn = [(n, reported[n]) for n in pruned if n in reported and math.isfinite(reported[n])]
    if drawn:
        numbers, values = zip(*drawn)
        axes.scatter(numbers, values, marker="x", color="grey", label="pruned (its last reported value)")
    unreported = len(pruned) - len(drawn)
    title = f"search {name!r}: {len(trials)} trials"
    axes.set_title(title + (f", {unreported} pruned before any report (not drawn)" if unreported else ""))
    axes.set_xlabel("trial")
    axes.set_ylabel("fitness")
    axes.grid(alpha=0.3)
    if done or drawn:
        axes.legend(fontsize=8)
    return fig
