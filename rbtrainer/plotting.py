"""Image files: training curves (matplotlib, no display needed), PNG frames and GIF animations.

Every file is written atomically through ``rbtrainer.files.atomic_write``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rbtrainer.files import atomic_write

__all__ = ["plot_training_curves", "save_gif", "save_png"]


def plot_training_curves(
    path: str | os.PathLike[str],
    episodes: Sequence[int],
    reward_metric: Sequence[float],
    per_seat: np.ndarray,
    seat_labels: Sequence[str],
    title: str,
    metric_name: str = "test reward metric",
    groups: Mapping[str, Sequence[float]] | None = None,
) -> str:
    """Reward metric (top) and each seat's mean test return (bottom) against collected episodes.

    ``groups``: each env group's reward metric, drawn as dashed lines beside the overall one.

    Written atomically (a temporary file renamed into place); returns the path.
    """
    fig = Figure(figsize=(8, 6.5), dpi=110)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True)
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
    fig.tight_layout()
    with atomic_write(path) as handle:
        fig.savefig(handle, format="png")
    return os.fspath(path)


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
