"""Ready-made hooks: exploration and prioritized-replay schedules, a reward-threshold stop (also a
stop callback object), and a snapshot of the learner kept at its best by any measure."""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rbtrainer.agents.base import Agent, Learner
from rbtrainer.agents.learners import OffPolicyLearner
from rbtrainer.epoch_callbacks import EpochStopCallback, TrainingContext
from rbtrainer.validation import number_in, positive_int

__all__ = ["BetaSchedule", "EpsilonSchedule", "KeepBest", "RewardThreshold", "chain"]

logger = logging.getLogger(__name__)


@dataclass(kw_only=True)
class EpsilonSchedule:
    """``train_fn`` setting the learners' epsilon from the collected episodes.

    ``decay`` set: ``max(end, start * decay ** episodes)`` (exponential per episode);
    otherwise linear from ``start`` to ``end`` over ``episodes`` episodes.
    """

    learners: Sequence[OffPolicyLearner]
    """Learners whose ``epsilon`` is set."""
    start: float = 1.0
    """Epsilon before the first episode."""
    end: float = 0.05
    """Final epsilon."""
    episodes: int = 1000
    """Length of the linear schedule (ignored with ``decay``)."""
    decay: float | None = None
    """Per-episode factor of an exponential schedule."""

    def __post_init__(self) -> None:
        for learner in self.learners:
            if not isinstance(learner, OffPolicyLearner):
                raise TypeError(f"EpsilonSchedule needs OffPolicyLearner learners, got {learner!r}")
        number_in("start", self.start, 0.0, 1.0)
        number_in("end", self.end, 0.0, 1.0)
        positive_int("episodes", self.episodes)
        if self.decay is not None:
            number_in("decay", self.decay, 0.0, 1.0, low_open=True)

    def value(self, episodes: int) -> float:
        if self.decay is not None:
            return max(self.end, self.start * self.decay**episodes)
        frac = min(1.0, episodes / self.episodes)
        return self.start + (self.end - self.start) * frac

    def __call__(self, episodes: int, steps: int) -> None:
        eps = self.value(episodes)
        for learner in self.learners:
            learner.epsilon = eps


@dataclass(kw_only=True)
class BetaSchedule:
    """``train_fn`` annealing prioritized replay's beta linearly from ``start`` to ``end``."""

    learners: Sequence[OffPolicyLearner]
    start: float = 0.4
    end: float = 1.0
    episodes: int = 1000

    def __post_init__(self) -> None:
        number_in("start", self.start, 0.0, 1.0)
        number_in("end", self.end, 0.0, 1.0)
        positive_int("episodes", self.episodes)

    def __call__(self, episodes: int, steps: int) -> None:
        frac = min(1.0, episodes / self.episodes)
        for learner in self.learners:
            learner.set_beta(self.start + (self.end - self.start) * frac)


class RewardThreshold(EpochStopCallback):
    """Stop once the test reward metric reaches ``threshold``.

    A stop callback (``TrainerCallbacks(epoch_stop_callback=RewardThreshold(...))``) and a plain
    ``stop_fn`` alike. ``threshold=None`` takes the game's ``metadata["reward_threshold"]`` when a
    run starts, and refuses a game that has none before any game is played.
    """

    def __init__(self, threshold: float | None = None) -> None:
        if threshold is not None and not math.isfinite(number_in("threshold", threshold, -math.inf, math.inf)):
            raise ValueError(f"threshold must be finite, got {threshold}")
        self.threshold = None if threshold is None else float(threshold)
        """The metric to reach (``None`` until a run resolves the game's own)."""
        self._from_game = threshold is None

    def __repr__(self) -> str:
        return f"RewardThreshold({'None' if self._from_game else self.threshold})"

    def setup(self, context: TrainingContext) -> None:
        if not self._from_game:
            return
        trainer = context.trainer
        value = trainer.game.metadata.get("reward_threshold")
        if value is None:
            raise ValueError(
                f"RewardThreshold(None) takes the game's metadata['reward_threshold'], but {trainer.game_name!r} "
                "has none: give the threshold, e.g. RewardThreshold(0.9)"
            )
        self.threshold = number_in(f"{trainer.game_name!r} metadata['reward_threshold']", value, -math.inf, math.inf)

    def should_stop(self, reward_metric: float, context: TrainingContext) -> bool:
        return self(reward_metric, context.episodes)

    def __call__(self, reward_metric: float, episodes: int) -> bool:
        if self.threshold is None:
            raise ValueError("RewardThreshold(None) has no threshold yet: a run sets it from the game when it starts")
        return reward_metric >= self.threshold


@dataclass
class KeepBest:
    """``test_fn`` scoring ``learner`` at every test round and keeping a frozen snapshot of it at
    its best score so far (ties keep the earlier snapshot).

    ``score`` is any measure of the learner's greedy play, higher is better: an exact
    exploitability, a tournament's score, a rating. Unlike ``save_best_fn``, which follows the
    test round's reward metric, the measure is yours.
    """

    learner: Learner
    """The learner to score and snapshot."""
    score: Callable[[Agent], float]
    """Called with the learner; returns a finite number."""
    best: Agent | None = field(default=None, init=False)
    """The frozen snapshot at the best score (``None`` before the first test round)."""
    best_score: float = field(default=-math.inf, init=False)
    best_episodes: int = field(default=0, init=False)
    """Collected episodes when the best snapshot was taken."""
    history: list[tuple[int, float]] = field(default_factory=list, init=False)
    """``(episodes, score)`` of every test round."""

    def __post_init__(self) -> None:
        if not isinstance(self.learner, Learner):
            raise TypeError(f"KeepBest: learner must be an rbtrainer Learner, got {self.learner!r}")
        if not callable(self.score):
            raise TypeError(f"KeepBest: score must be callable (Agent -> float), got {self.score!r}")

    def __call__(self, episodes: int, steps: int) -> None:
        value = self.score(self.learner)
        if not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"KeepBest: score returned {value!r}; it must return a finite number")
        self.history.append((episodes, float(value)))
        if value > self.best_score:
            self.best, self.best_score, self.best_episodes = self.learner.frozen(), float(value), episodes
            logger.info("KeepBest: new best score %.4g at %d episodes", value, episodes)

    def state_dict(self) -> dict[str, Any]:
        """Scores so far and the best snapshot's networks (training states save it; see ``resume``)."""
        best = self.best
        snapshot = best.state_dict() if best is not None and hasattr(best, "state_dict") else None
        if best is not None and snapshot is None:
            raise TypeError(f"KeepBest: the snapshot {best!r} has no state_dict(); it cannot go into a training state")
        return {
            "best": snapshot,
            "best_score": self.best_score,
            "best_episodes": self.best_episodes,
            "history": [list(item) for item in self.history],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = None
        if state["best"] is not None:
            best = self.learner.frozen()
            best.load_state_dict(state["best"])  # type: ignore[attr-defined]
            self.best = best
        self.best_score = float(state["best_score"])
        self.best_episodes = int(state["best_episodes"])
        self.history = [(int(e), float(v)) for e, v in state["history"]]


def chain(*hooks: Callable[[int, int], None] | None) -> Callable[[int, int], None]:
    """One ``train_fn``/``test_fn`` calling several hooks in order (``None`` entries skipped)."""
    active = [h for h in hooks if h is not None]
    for h in active:
        if not callable(h):
            raise TypeError(f"chain: every hook must be callable, got {h!r}")

    def run(episodes: int, steps: int) -> None:
        for hook in active:
            hook(episodes, steps)

    return run
