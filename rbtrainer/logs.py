"""Training logs: TensorBoard event files and CSV tables, written while a run goes on.

Give a logger to the trainer (``DecentralizedTrainer(..., logger=CSVLogger("runs/x"))``; the
library logs nothing by default, ``rbtrainer train`` logs to ``runs/`` unless ``--logdir ''``).
The trainer reports:

* every **test round** (:meth:`TrainingLogger.log_test`): ``reward_metric``,
  ``mean_episode_length``, ``return/<seat>``, ``wins/<player>``, ``draws`` and, with env groups,
  the same under ``group/<name>/``;
* every **update phase** (:meth:`TrainingLogger.log_update`): ``env_steps_per_s``,
  ``gradient_steps_per_s`` and per learner ``<learner>/<loss>`` and ``<learner>/epsilon``.

The x-axis of both is the number of collected env steps (``episodes`` is a value too). A resumed
run calls :meth:`TrainingLogger.begin` with the step it resumes at, and the loggers drop what the
interrupted run logged after that point, so the logs read as one run.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from rbtrainer.files import atomic_write

__all__ = ["CSVLogger", "MultiLogger", "TensorBoardLogger", "TrainingLogger", "tensorboard_installed", "test_values"]

logger = logging.getLogger(__name__)


class TrainingLogger:
    """What the trainer calls; subclasses write the values somewhere. Several: :class:`MultiLogger`."""

    def begin(self, resumed_at_step: int | None) -> None:
        """A run starts (``None``) or resumes at ``resumed_at_step`` collected env steps."""

    def log_test(self, step: int, values: Mapping[str, float]) -> None:
        """One test round's values (see :func:`test_values`)."""
        raise NotImplementedError

    def log_update(self, step: int, values: Mapping[str, float]) -> None:
        """One update phase's values."""
        raise NotImplementedError

    def flush(self) -> None:
        """Make everything logged so far visible to readers."""

    def close(self) -> None:
        """Flush and release files."""
        self.flush()


def test_values(result: Any, seats: Sequence[str], episodes: int) -> dict[str, float]:
    """The values of a test round's :class:`~rbtrainer.metrics.TestResult` as the loggers name them."""

    def one(res: Any, prefix: str) -> dict[str, float]:
        values = {
            f"{prefix}reward_metric": float(res.reward_metric),
            f"{prefix}mean_episode_length": float(res.mean_episode_length),
            **{f"{prefix}return/{seat}": float(v) for seat, v in zip(seats, res.per_seat_rewards)},
        }
        if res.wins is not None:
            values.update({f"{prefix}wins/{player}": float(n) for player, n in res.wins.items()})
            values[f"{prefix}draws"] = float(res.draws or 0)
        return values

    values = {"episodes": float(episodes), **one(result, "")}
    for name, group in result.groups.items():
        values.update(one(group, f"group/{name}/"))
    return values


def panel_values(round_: Any) -> dict[str, float]:
    """The values of a test round's :class:`~rbtrainer.evaluation.panel.PanelRound` as the loggers name them."""
    values = {"panel/score": float(round_.score)}
    for learner, score in round_.scores.items():
        values[f"panel/{learner}/score"] = float(score)
        values[f"panel/{learner}/rating"] = float(round_.ratings[learner])
    for line in round_.lines:
        values[f"panel/{line.learner}/{line.opponent}/{line.seat}/score"] = float(line.score)
    return values


class MultiLogger(TrainingLogger):
    """Several loggers as one."""

    def __init__(self, loggers: Sequence[TrainingLogger]) -> None:
        for item in loggers:
            if not isinstance(item, TrainingLogger):
                raise TypeError(f"MultiLogger needs TrainingLogger objects, got {item!r}")
        self.loggers = list(loggers)

    def begin(self, resumed_at_step: int | None) -> None:
        for item in self.loggers:
            item.begin(resumed_at_step)

    def log_test(self, step: int, values: Mapping[str, float]) -> None:
        for item in self.loggers:
            item.log_test(step, values)

    def log_update(self, step: int, values: Mapping[str, float]) -> None:
        for item in self.loggers:
            item.log_update(step, values)

    def flush(self) -> None:
        for item in self.loggers:
            item.flush()

    def close(self) -> None:
        for item in self.loggers:
            item.close()


class _Table:
    """A CSV file whose first column is ``step``; rows are appended, the header grows when needed."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.columns: list[str] = []
        self._handle: io.TextIOWrapper | None = None

    def _rows(self) -> list[dict[str, str]]:
        if not os.path.exists(self.path):
            return []
        with open(self.path, newline="") as handle:
            return list(csv.DictReader(handle))

    def _rewrite(self, rows: list[dict[str, Any]]) -> None:
        """Write the whole table atomically (new columns, or rows dropped on resume)."""
        self.close()
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self.columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
        with atomic_write(self.path) as handle:
            handle.write(text.getvalue().encode())

    def begin(self, resumed_at_step: int | None) -> None:
        self.close()
        if resumed_at_step is None:
            self.columns = []
            if os.path.exists(self.path):
                os.remove(self.path)
            return
        rows = self._rows()
        self.columns = list(rows[0]) if rows else []
        if rows:
            self._rewrite([row for row in rows if int(float(row["step"])) <= resumed_at_step])

    def append(self, step: int, values: Mapping[str, float]) -> None:
        row: dict[str, Any] = {"step": step, **values}
        new = [key for key in row if key not in self.columns]
        if new:
            old = self._rows() if self.columns else []
            self.columns = (self.columns or ["step"]) + [key for key in new if key != "step"]
            self._rewrite([*old, row])
            return
        if self._handle is None:
            self._handle = open(self.path, "a", newline="")  # noqa: SIM115 (kept open between rows)
        csv.DictWriter(self._handle, fieldnames=self.columns, restval="").writerow(row)

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class CSVLogger(TrainingLogger):
    """``<logdir>/tests.csv`` (a row per test round) and ``<logdir>/updates.csv`` (a row per update phase).

    Columns: ``step`` (collected env steps), then the values by name; a value that appears later
    in the run adds a column (earlier rows leave it empty). A fresh run replaces the files.
    """

    def __init__(self, logdir: str | os.PathLike[str]) -> None:
        if not isinstance(logdir, (str, os.PathLike)) or not os.fspath(logdir):
            raise TypeError(f"logdir must be a directory path, got {logdir!r}")
        self.logdir = os.fspath(logdir)
        if os.path.exists(self.logdir) and not os.path.isdir(self.logdir):
            raise NotADirectoryError(f"logdir {self.logdir!r} is a file; give a directory")
        os.makedirs(self.logdir, exist_ok=True)
        self.tests = _Table(os.path.join(self.logdir, "tests.csv"))
        self.updates = _Table(os.path.join(self.logdir, "updates.csv"))

    def begin(self, resumed_at_step: int | None) -> None:
        self.tests.begin(resumed_at_step)
        self.updates.begin(resumed_at_step)

    def log_test(self, step: int, values: Mapping[str, float]) -> None:
        self.tests.append(step, values)
        self.tests.flush()

    def log_update(self, step: int, values: Mapping[str, float]) -> None:
        self.updates.append(step, values)

    def flush(self) -> None:
        self.tests.flush()
        self.updates.flush()

    def close(self) -> None:
        self.tests.close()
        self.updates.close()


def tensorboard_installed() -> bool:
    """Whether the ``tensorboard`` package is installed (the ``tensorboard`` extra): torch's event
    writer, which :class:`TensorBoardLogger` uses, needs it."""
    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardLogger(TrainingLogger):
    """TensorBoard event files under ``logdir`` (``tensorboard --logdir runs``): test-round values
    under ``test/``, update-phase values under ``train/``, against collected env steps. Needs the
    ``tensorboard`` package: ``pip install "rbtrainer[tensorboard]"``."""

    def __init__(self, logdir: str | os.PathLike[str]) -> None:
        if not isinstance(logdir, (str, os.PathLike)) or not os.fspath(logdir):
            raise TypeError(f"logdir must be a directory path, got {logdir!r}")
        if not tensorboard_installed():
            raise ImportError(
                'TensorBoardLogger needs the tensorboard package: pip install "rbtrainer[tensorboard]" '
                "(or log with CSVLogger alone)"
            )
        self.logdir = os.fspath(logdir)
        self._writer: Any = None

    def begin(self, resumed_at_step: int | None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.close()
        # purge_step drops what an interrupted run logged after its last training state
        purge = None if resumed_at_step is None else resumed_at_step + 1
        self._writer = SummaryWriter(self.logdir, purge_step=purge)

    def _write(self, prefix: str, step: int, values: Mapping[str, float]) -> None:
        if self._writer is None:
            self.begin(None)
        for name, value in values.items():
            self._writer.add_scalar(f"{prefix}/{name}", value, global_step=step)

    def log_test(self, step: int, values: Mapping[str, float]) -> None:
        self._write("test", step, values)
        self._writer.flush()

    def log_update(self, step: int, values: Mapping[str, float]) -> None:
        self._write("train", step, values)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
