"""Training states: what a run needs to continue exactly where it stopped, as a tree of dataclasses.

:class:`~rbtrainer.run.loop.TrainingRun` writes one every ``state_every`` test rounds and when a
stop is requested (``state_path``), and ``train(..., resume=path)`` continues from it. A state
holds what identifies the run (:class:`RunKey`: game, seed, the settings that must not change,
who sits where), the loop's position and statistics, every agent's random generators, every
learner's networks, optimisers, counters and (optionally) memory, the hooks' own state where they
have one, where every training env stands and the league's pool. The parts that belong to other
objects (a learner's, the engine's, the league's) are those objects' own ``state`` dicts.

Files are written atomically and read with ``torch.load(weights_only=True)``: NumPy arrays travel
as tensors tagged with their dtype (:func:`to_saveable` / :func:`from_saveable`). This module is
the only one that writes or reads them. Format 1 (the untyped dict of rbtrainer before the run
package) is still read.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rbtrainer.agents.base import unique_name
from rbtrainer.evaluation.panel import PanelRound
from rbtrainer.files import atomic_write, save_torch
from rbtrainer.params import HOOK_NAMES, TrainerConfig
from rbtrainer.run.stats import GroupCurve, TrainStats

if TYPE_CHECKING:
    from rbtrainer.agents.base import Learner
    from rbtrainer.seating import SeatPlan
    from rbtrainer.trainer import DecentralizedTrainer

__all__ = [
    "STATE_FORMAT",
    "LoopPosition",
    "RunKey",
    "RunSettings",
    "RunState",
    "from_saveable",
    "read_training_state",
    "to_saveable",
    "write_training_state",
]

STATE_FORMAT = 2
"""Format written; :func:`read_training_state` also reads format 1."""
_READS = (1, 2)
_KIND = "rbtrainer-training-state"
_ARRAY = "__ndarray__"

logger = logging.getLogger(__name__)


def to_saveable(value: Any) -> Any:
    """``value`` with NumPy arrays and scalars turned into tensors tagged with their dtype."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError("object arrays cannot go into a training state")
        stored = value.astype(np.int64) if value.dtype.kind == "u" and value.dtype.itemsize > 1 else value
        return {_ARRAY: torch.from_numpy(np.array(stored, order="C", copy=True)), "dtype": value.dtype.str}
    if isinstance(value, np.generic):  # kept a NumPy scalar: float32 arithmetic differs from Python floats
        return {**to_saveable(np.asarray(value)), "scalar": True}
    if isinstance(value, dict):
        return {k: to_saveable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_saveable(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_saveable(v) for v in value)
    return value


def from_saveable(value: Any) -> Any:
    """The inverse of :func:`to_saveable`."""
    if isinstance(value, dict):
        if _ARRAY in value:
            array = value[_ARRAY].numpy().astype(np.dtype(value["dtype"]))
            return array[()] if value.get("scalar") else array
        return {k: from_saveable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_saveable(v) for v in value]
    if isinstance(value, tuple):
        return tuple(from_saveable(v) for v in value)
    return value


@dataclass(kw_only=True, slots=True)
class RunSettings:
    """The settings a resumed run must share with the run that wrote the state."""

    num_train_envs: int
    num_test_envs: int
    batch_size: int
    update_freq: int
    test_freq: int
    episodes_per_test: int
    update_per_step: float
    shared_memory: bool
    overlap: bool = False
    """Newer than format-1 states, which were all trained without it."""

    @classmethod
    def of(cls, config: TrainerConfig) -> RunSettings:
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(cls)})


@dataclass(kw_only=True, slots=True)
class RunKey:
    """What identifies a run: a state resumes only a run with the same key."""

    game: str
    """Registry name of the game (or the env's ``metadata["name"]``)."""
    seats: list[str]
    env_args: str
    """``repr`` of the trainer's env args."""
    seed: int
    """The trainer's root seed."""
    settings: RunSettings
    groups: list[str]
    """Env group names of the training plan."""
    agents: list[str]
    """``kind:name`` of every agent given to the run, in plan order."""
    learners: list[int]
    """Plan index of each learner."""
    league: bool
    """The run was given a League."""
    hooks: list[str] = field(default_factory=list)
    """Names of the hooks whose own state the state holds."""
    recorded: dict[str, Any] = field(default_factory=dict)
    """Settings beyond :class:`RunSettings` that change what is trained, ``name -> value``: every
    learner's ``run_settings()`` (learning rate, discount, n-step horizon... as
    ``<learner>.<name>``) and those of the run's hooks (every hook with a ``run_settings()`` method
    adds its dict: a recipe's epsilon schedule gives its ``[dqn]``, ``[schedule]``, ``[league]``
    and ``[opponents]`` settings). Names a state does not record are not compared."""
    accept_changes: bool = False
    """This run resumes even if ``recorded`` settings differ from the state's (a hook with
    ``accept_changes`` true says so): the resume is then no longer exact, and a warning lists them."""

    @classmethod
    def of(
        cls,
        trainer: DecentralizedTrainer,
        plan: SeatPlan,
        learners: Sequence[Learner],
        league: bool,
        accept_changes: bool = False,
    ) -> RunKey:
        """The key of a run of ``trainer`` with this training plan (``accept_changes``: the caller
        resumes even with changed recorded settings)."""
        return cls(
            game=trainer.game_name,
            seats=list(trainer.game.seats),
            env_args=repr(trainer.env_args),
            seed=trainer.seed,
            settings=RunSettings.of(trainer.config),
            groups=list(plan.group_names),
            agents=[f"{type(a).__name__}:{a.name}" for a in plan.agents[: plan.num_given]],
            learners=[plan.agents.index(learner) for learner in learners],
            league=league,
            hooks=list(trainer.params.hooks.stateful()),
            recorded={**_recorded(trainer), **learner_settings(learners)},
            accept_changes=accept_changes
            or any(bool(getattr(getattr(trainer.params.hooks, name), "accept_changes", False)) for name in HOOK_NAMES),
        )

    def changed(self, saved: RunKey) -> list[tuple[str, Any, Any]]:
        """The ``recorded`` settings whose value differs from ``saved``: ``(name, saved value, value now)``.

        Only names both keys record are compared (a state written before a setting was recorded
        does not know it).
        """
        return [
            (name, saved.recorded[name], value)
            for name, value in self.recorded.items()
            if name in saved.recorded and _plain(saved.recorded[name]) != _plain(value)
        ]

    def mismatch(self, saved: RunKey, path: str, seed_given: bool) -> str | None:
        """Why a run with this key cannot resume the ``saved`` one (``None``: it can)."""
        if saved.game != self.game or saved.seats != self.seats:
            return (
                f"{path} is a training state of game {saved.game!r} with seats {saved.seats}, but this trainer plays "
                f"{self.game!r} with seats {self.seats}"
            )
        if saved.env_args != self.env_args:
            return f"{path} was trained with env args {saved.env_args}, this trainer has {self.env_args}"
        differ = [
            f"{f.name}={getattr(saved.settings, f.name)!r} (now {getattr(self.settings, f.name)!r})"
            for f in dataclasses.fields(RunSettings)
            if getattr(saved.settings, f.name) != getattr(self.settings, f.name)
        ]
        if seed_given and saved.seed != self.seed:
            differ.append(f"seed={saved.seed!r} (now {self.seed!r})")
        if differ:
            return f"{path} was trained with other settings: {', '.join(differ)}"
        if saved.league != self.league:
            return f"{path} was trained {'with' if saved.league else 'without'} a League; resume it the same way"
        if saved.groups != self.groups:
            return f"{path} was trained with env groups {saved.groups}, now {self.groups}"
        if saved.agents != self.agents:
            return (
                f"{path} was trained with agents {saved.agents} (kind:name), now {self.agents}; give the same agents "
                "in the same seats"
            )
        if saved.learners != self.learners:
            return f"{path} was trained with other learning seats; give the same learning_mask"
        missing = sorted(set(saved.hooks) - set(self.hooks))
        if missing:
            return f"{path} holds the state of hooks {missing}, which this trainer does not have"
        changed = ", ".join(f"{name}={old!r} (now {new!r})" for name, old, new in self.changed(saved))
        if changed and not self.accept_changes:
            return (
                f"{path} was trained with {changed}: resume with the saved values, or accept the change with "
                "--resume-changed (library: resume_changed=True); the resume is then no longer exact"
            )
        if changed:
            logger.warning("resuming %s with changed settings, the resume is no longer exact: %s", path, changed)
        return None


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists (a saved tuple may come back as either)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def learner_settings(learners: Sequence[Learner]) -> dict[str, Any]:
    """Every learner's ``run_settings()`` as ``<learner name>.<setting>`` (repeated names numbered)."""
    names: list[str] = []
    settings: dict[str, Any] = {}
    for learner in learners:
        names.append(unique_name(learner.name, names))
        settings.update({f"{names[-1]}.{name}": value for name, value in learner.run_settings().items()})
    return settings


def _recorded(trainer: DecentralizedTrainer) -> dict[str, Any]:
    """The ``run_settings()`` of the trainer's hooks that have one, merged (see :attr:`RunKey.recorded`)."""
    recorded: dict[str, Any] = {}
    for name in HOOK_NAMES:
        describe = getattr(getattr(trainer.params.hooks, name), "run_settings", None)
        if callable(describe):
            recorded.update(describe())
    return recorded


@dataclass(kw_only=True, slots=True)
class LoopPosition:
    """Where the loop stands between two phases."""

    next_test: int
    """Collected episodes at which the next test round is due."""
    tests: int
    """Test rounds run since training began (the one before training not counted)."""
    owed_gradient_steps: int = 0
    """With overlap: the update the next phase starts with."""


@dataclass(kw_only=True, slots=True)
class RunState:
    """A training state: everything a run needs to continue exactly."""

    key: RunKey
    position: LoopPosition
    stats: TrainStats
    """The statistics so far (``league`` left out: the league's own state holds it)."""
    generators: list[Any]
    """Every plan agent's random generators (:func:`rbtrainer.rng.generator_states`)."""
    learners: list[dict[str, Any]]
    """Every learner's :meth:`~rbtrainer.agents.base.Learner.training_state`."""
    hooks: dict[str, Any]
    """The ``state_dict()`` of every hook that has one, by hook name."""
    engine: dict[str, Any]
    """:meth:`rbtrainer.rollout.RolloutEngine.state` of the training engine."""
    league: dict[str, Any] | None = None
    """:meth:`rbtrainer.league.League.training_state` (a league run)."""

    def to_payload(self) -> dict[str, Any]:
        stats = dataclasses.asdict(dataclasses.replace(self.stats, league=None))
        return {
            "key": dataclasses.asdict(self.key),
            "position": dataclasses.asdict(self.position),
            "stats": stats,
            "generators": self.generators,
            "learners": self.learners,
            "hooks": self.hooks,
            "engine": self.engine,
            "league": self.league,
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any], fmt: int) -> RunState:
        if fmt == 1:
            data = _from_format_1(data)
        key = dict(data["key"])
        key["settings"] = RunSettings(**key["settings"])
        fields = dict(data["stats"])
        groups = {name: GroupCurve(**curve) for name, curve in fields.pop("groups").items()}
        fields.pop("league", None)
        fields["panel"] = [PanelRound.from_summary(round_) for round_ in fields.get("panel", [])]
        return cls(
            key=RunKey(**key),
            position=LoopPosition(**data["position"]),
            stats=TrainStats(**fields, groups=groups),
            generators=list(data["generators"]),
            learners=list(data["learners"]),
            hooks=dict(data["hooks"]),
            engine=data["engine"],
            league=data.get("league"),
        )


def _from_format_1(state: dict[str, Any]) -> dict[str, Any]:
    """A format-1 state (one flat dict) in the layout of format 2."""
    game, plan = state["game"], state["plan"]
    key = {
        "game": game["name"],
        "seats": list(game["seats"]),
        "env_args": game["env_args"],
        "seed": int(state["seed"]),
        "settings": dict(state["settings"]),
        "groups": list(plan["groups"]),
        "agents": list(plan["agents"]),
        "learners": list(plan["learners"]),
        "league": "league" in state,
        "hooks": list(state["hooks"]),
    }
    position = {
        "next_test": int(state["next_test"]),
        "tests": int(state["tests"]),
        "owed_gradient_steps": int(state.get("owed_gradient_steps", 0)),
    }
    keep = ("stats", "generators", "learners", "hooks", "engine", "league")
    return {"key": key, "position": position, **{name: state[name] for name in keep if name in state}}


def write_training_state(path: str | os.PathLike[str], state: RunState) -> str:
    """Write ``state`` atomically to ``path``; returns the path."""
    payload = {"kind": _KIND, "format": STATE_FORMAT, "state": to_saveable(state.to_payload())}
    with atomic_write(path) as handle:
        save_torch(payload, handle)
    return os.fspath(path)


def read_training_state(path: str | os.PathLike[str]) -> RunState:
    """The state in ``path``; ``FileNotFoundError`` / ``ValueError`` naming the file otherwise."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(f"training state {name!r} does not exist (resume needs a file written by a run)")
    if os.path.isdir(name):
        raise IsADirectoryError(f"training state {name!r} is a directory, not a training-state file")
    try:
        payload = torch.load(name, map_location="cpu", weights_only=True)  # device-independent
    except Exception as err:  # torch raises many types for damaged files; all mean the same here
        raise ValueError(f"{name} is not a readable rbtrainer training state ({type(err).__name__}: {err})") from None
    if not isinstance(payload, dict) or payload.get("kind") != _KIND:
        raise ValueError(f"{name} is not an rbtrainer training state (an agents checkpoint? use load_agents for those)")
    fmt = payload.get("format")
    if fmt not in _READS:
        raise ValueError(
            f"{name} is a training state of format {fmt}; this version reads formats {', '.join(map(str, _READS))}"
        )
    try:
        return RunState.from_payload(from_saveable(payload["state"]), fmt)
    except (KeyError, TypeError) as err:
        raise ValueError(f"{name} is a damaged training state of format {fmt} ({type(err).__name__}: {err})") from None
