"""Saving and loading the learners of a seat assignment.

A checkpoint holds each distinct learner's network and optimiser state once (a learner filling
several seats is saved once) plus the seat -> learner map and free-form metadata. Files are
written atomically (``rbtrainer.files.atomic_write``: temporary file, then rename) and read with
``torch.load(weights_only=True)`` only.

* **What is saved loads.** :func:`save_agents` checks the metadata (and the learners' states)
  before it writes anything: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, tensors,
  and ``list`` / ``tuple`` / ``dict`` of them are stored as they are; NumPy scalars become Python
  numbers, path objects (``pathlib.Path``, any ``os.PathLike``) become strings, other mappings
  become dicts. Anything else (NumPy arrays, sets, enums, dataclasses, other objects) raises a
  ``TypeError`` naming where it sits (``metadata['run']['scores']``) and how to convert it.
* **A failed load changes nothing.** :func:`load_agents` checks the learner count, the seat
  layout, every learner's kind, every tensor's name and shape and the optimisers' layouts of
  all learners before it loads any of them; if loading still fails, the learners loaded so far
  are restored.
* **Partial loading** (``strict=False``): every tensor whose name and shape match is loaded, the
  others keep their current values and are reported (:class:`MismatchedTensor`, with both
  shapes), e.g. to start a 4-robot game from agents trained with 3 robots (only the input
  layer differs). With ``overlap=True`` a tensor whose shape differs also gets the block it
  shares with the saved one, which carries the skill over when observations grow at the end.
  See :func:`load_agents` for the optimiser rule.
* **Damaged files** (empty, truncated, not a checkpoint) raise ``ValueError`` naming the file.
* **Reading one**: :class:`Checkpoint` answers which game a checkpoint holds, with which
  arguments and metadata, and rebuilds its learners.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import logging
import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import games
from rbtrainer.agents.base import Agent, Learner
from rbtrainer.envs.factory import registry_game
from rbtrainer.files import atomic_write, save_torch

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "LoadResult",
    "MismatchedTensor",
    "checkpoint_metadata",
    "learner_from_checkpoint",
    "load_agents",
    "read_checkpoint",
    "save_agents",
]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1

_SHOWN_PROBLEMS = 4  # mismatches listed in an error message before "and N more"


# ----------------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class MismatchedTensor:
    """An entry of a learner's state that does not match the checkpoint's (partial loads report them)."""

    learner: int
    """Index of the learner among the distinct learners of ``agents`` (order of first appearance)."""
    learner_name: str
    """The learner's ``name``."""
    name: str
    """Where the entry sits in the learner's ``state_dict()``, e.g.
    ``"algorithm.policy.model.model.model.0.weight"`` (dict keys joined by dots, list items ``[i]``)."""
    checkpoint_shape: tuple[int, ...] | None
    """Its shape in the checkpoint; ``None``: absent there (or not a tensor)."""
    learner_shape: tuple[int, ...] | None
    """Its shape in the learner; ``None``: absent there (or not a tensor)."""

    def __str__(self) -> str:
        return (
            f"learner {self.learner} ({self.learner_name!r}) {self.name}: "
            f"{_describe(self.checkpoint_shape)} in the checkpoint, {_describe(self.learner_shape)} in the learner"
        )


@dataclass(frozen=True, slots=True, eq=False)
class LoadResult(Mapping[str, Any]):
    """What :func:`load_agents` loaded.

    It is also the read-only mapping of the checkpoint's metadata (``result["env"]``,
    ``result == {"note": "x"}``), which is what ``load_agents`` returned before partial loading.
    """

    metadata: dict[str, Any]
    """The checkpoint's metadata (a copy)."""
    skipped: tuple[MismatchedTensor, ...] = ()
    """Entries left at their current values (always empty after a strict load)."""
    overlapped: tuple[MismatchedTensor, ...] = ()
    """Tensors of another shape that got the block they share with the saved one (``overlap=True``)."""
    fresh_optimizers: tuple[int, ...] = ()
    """Learners (indices as in :attr:`MismatchedTensor.learner`) whose optimiser state was not loaded."""
    checkpoint_seats: tuple[int, ...] = ()
    """The checkpoint's seat -> learner map (-1: a fixed policy); it may differ from ``agents``'
    layout after a partial load."""

    def __getitem__(self, key: str) -> Any:
        return self.metadata[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.metadata)

    def __len__(self) -> int:
        return len(self.metadata)

    def __repr__(self) -> str:
        return (
            f"LoadResult(metadata={self.metadata!r}, skipped={list(map(str, self.skipped))!r}, "
            f"overlapped={list(map(str, self.overlapped))!r}, fresh_optimizers={self.fresh_optimizers!r})"
        )


def _describe(shape: tuple[int, ...] | None) -> str:
    return "absent" if shape is None else f"shape {shape}"


# ------------------------------------------------------------------------ saveable values
_PLAIN = (bool, int, float, str, bytes)
_PLAIN_KEYS = (bool, int, float, str)
_ACCEPTED = "None, bool, int, float, str, bytes, tensors, and lists, tuples and dicts of them"


def _fix_hint(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return "pass value.tolist() for plain numbers or torch.from_numpy(value) for a tensor"
    if isinstance(value, enum.Enum):
        return "store value.value or value.name"
    if isinstance(value, set | frozenset):
        return "store sorted(value) or list(value)"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return "store dataclasses.asdict(value)"
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return "store value._asdict() or tuple(value)"
    for plain in (*_PLAIN, list, tuple, dict):
        if isinstance(value, plain):
            return f"store {plain.__name__}(value)"
    return "convert it to those types"


def _saveable(value: Any, where: str, convert: bool, active: frozenset[int] = frozenset()) -> Any:
    """``value`` as data ``torch.load(weights_only=True)`` reads back.

    With ``convert`` (metadata), NumPy scalars become Python numbers, path objects strings and
    other mappings dicts, in new containers; without it (learner states) ``value`` is only checked
    and returned as it is, and those raise too. ``TypeError`` names ``where`` and the fix.
    ``value`` is never modified.
    """
    if value is None or type(value) in _PLAIN or isinstance(value, torch.Tensor):
        return value
    if convert and isinstance(value, np.generic) and type(value.item()) in _PLAIN:
        return value.item()
    if convert and isinstance(value, os.PathLike):
        return os.fspath(value)
    is_mapping = isinstance(value, Mapping) and (convert or type(value) in (dict, OrderedDict))
    if not is_mapping and type(value) not in (list, tuple):
        raise TypeError(
            f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which a checkpoint cannot hold "
            f"(it is read back with torch.load(weights_only=True)); checkpoints hold {_ACCEPTED}"
            + (" (NumPy scalars and paths are converted)" if convert else "")
            + f": {_fix_hint(value)}"
        )
    if id(value) in active:
        raise TypeError(f"{where} contains itself; a checkpoint can only hold trees of values")
    inner = active | {id(value)}
    if not is_mapping:
        items = [_saveable(item, f"{where}[{i}]", convert, inner) for i, item in enumerate(value)]
        return type(value)(items) if convert else value
    out: dict[Any, Any] = OrderedDict() if type(value) is OrderedDict else {}
    origin: dict[Any, Any] = {}
    for key, item in value.items():
        new_key = key
        if convert and isinstance(key, np.generic | os.PathLike):
            new_key = _saveable(key, f"{where} key {key!r}", convert)
        if new_key is not None and type(new_key) not in _PLAIN_KEYS:
            raise TypeError(
                f"{where} has the key {key!r} of type {type(key).__qualname__}; checkpoint dict keys must be "
                "str, int, float, bool or None: use str(key)"
            )
        if new_key in out:
            raise TypeError(
                f"{where} has the keys {origin[new_key]!r} and {key!r}, which both become {new_key!r} in a "
                "checkpoint: give them distinct names"
            )
        origin[new_key] = key
        out[new_key] = _saveable(item, f"{where}[{new_key!r}]", convert, inner)
    return out if convert else value  # checked only: keeps e.g. torch's version metadata on state dicts


# ------------------------------------------------------------------------------------ saving
def _distinct_learners(agents: Sequence[Agent]) -> tuple[list[Learner], list[int]]:
    learners: list[Learner] = []
    seat_to_learner: list[int] = []
    for agent in agents:
        if isinstance(agent, Learner):
            for i, known in enumerate(learners):
                if known is agent:
                    seat_to_learner.append(i)
                    break
            else:
                learners.append(agent)
                seat_to_learner.append(len(learners) - 1)
        else:
            seat_to_learner.append(-1)
    return learners, seat_to_learner


def checkpoint_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` as :func:`save_agents` will store it (checked and converted, a new dict); check
    early with it what a run will save late."""
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping (e.g. a dict), got {type(metadata).__name__}")
    checked: dict[str, Any] = _saveable(dict(metadata), "metadata", convert=True)
    return checked


def save_agents(
    path: str | os.PathLike[str], agents: Sequence[Agent], metadata: Mapping[str, Any] | None = None
) -> str:
    """Write the learners among ``agents`` (one entry per seat) to ``path``; returns the path.

    ``metadata`` (not modified) is checked and converted as the module docstring says; a value a
    checkpoint cannot hold raises ``TypeError`` before anything is written.
    """
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping (e.g. a dict) or None, got {type(metadata).__name__}")
    learners, seat_to_learner = _distinct_learners(agents)
    if not learners:
        raise ValueError("agents contains no learner: there is nothing to save")
    payload = {
        "format": CHECKPOINT_FORMAT,
        "seat_to_learner": seat_to_learner,
        "learners": [
            {
                "name": str(lr.name),
                "kind": type(lr).__name__,
                "state": _saveable(lr.state_dict(), f"the state_dict() of learner {i} ({lr.name!r})", convert=False),
            }
            for i, lr in enumerate(learners)
        ],
        "metadata": _saveable(dict(metadata or {}), "metadata", convert=True),
    }
    with atomic_write(path) as handle:
        save_torch(payload, handle)
    return os.fspath(path)


# ----------------------------------------------------------------------------------- reading
def _check_payload(payload: Any, name: str) -> None:
    """``ValueError`` unless ``payload`` has the structure :func:`save_agents` writes."""
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        found = (
            f"a {type(payload).__name__}"
            if not isinstance(payload, dict)
            else f"a dict of keys {sorted(map(str, payload))}"
        )
        raise ValueError(
            f"{name} is not an rbtrainer checkpoint (format {CHECKPOINT_FORMAT}, written by save_agents); "
            f"it holds {found}"
        )
    learners = payload.get("learners")
    seats = payload.get("seat_to_learner")
    problem = None
    if not isinstance(learners, list) or not learners:
        problem = "no list of learners"
    elif not all(
        isinstance(e, dict)
        and isinstance(e.get("name"), str)
        and isinstance(e.get("kind"), str)
        and isinstance(e.get("state"), dict)
        for e in learners
    ):
        problem = "a learner entry without name, kind and state"
    elif not isinstance(seats, list) or not all(type(s) is int and -1 <= s < len(learners) for s in seats):
        problem = "no valid seat -> learner map"
    elif set(range(len(learners))) - set(seats):
        problem = "a learner that fills no seat"
    elif not isinstance(payload.get("metadata", {}), dict):
        problem = "metadata that is not a dict"
    if problem is not None:
        raise ValueError(f"{name} is a damaged rbtrainer checkpoint: it has {problem}")


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked contents of a checkpoint file.

    Raises ``FileNotFoundError`` / ``IsADirectoryError`` / ``PermissionError`` for files that
    cannot be opened and ``ValueError`` naming the file for empty, truncated, damaged or foreign
    files.
    """
    name = os.fspath(path)
    if os.path.isdir(name):
        raise IsADirectoryError(f"checkpoint {name!r} is a directory, not a checkpoint file")
    try:
        size = os.path.getsize(name)
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint {name!r} does not exist (No such file)") from None
    if size == 0:
        raise ValueError(f"checkpoint {name!r} is empty (0 bytes): it was never written completely; use another one")
    try:
        payload = torch.load(name, map_location="cpu", weights_only=True)  # device-independent
    except (FileNotFoundError, PermissionError):
        raise
    except Exception as err:  # torch raises many types for damaged files (EOFError, RuntimeError, ...)
        cause = str(err).strip().splitlines()[0].split(". ")[0] if str(err).strip() else "no details"
        if "weights_only" in cause or "Weights only" in cause:  # torch suggests an unsafe load: do not
            cause = "it holds objects other than tensors and plain data"
        raise ValueError(
            f"checkpoint {name!r} cannot be read: it is truncated, damaged or not a file written by save_agents "
            f"({type(err).__name__}: {cause[:160]})"
        ) from err
    _check_payload(payload, f"checkpoint {name!r}")
    return payload


# ----------------------------------------------------------------------------------- loading
def _is_optimizer_state(value: Any) -> bool:
    """A ``torch.optim.Optimizer.state_dict()``."""
    return isinstance(value, Mapping) and set(value) == {"state", "param_groups"}


def _optimizer_layout(value: Mapping[str, Any]) -> list[int] | None:
    groups = value["param_groups"]
    if not isinstance(groups, list) or not all(isinstance(g, Mapping) and "params" in g for g in groups):
        return None
    return [len(g["params"]) for g in groups]


def _shape(value: Any) -> tuple[int, ...] | None:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else None


def _child(name: str, key: Any) -> str:
    return f"{name}.{key}" if name else str(key)


def _leaves(value: Any, name: str) -> Iterator[tuple[str, tuple[int, ...] | None]]:
    """The tensors under ``value`` (or ``value`` itself, once, if it holds none)."""
    found = False
    stack = [(name, value)]
    while stack:
        where, item = stack.pop(0)
        if isinstance(item, torch.Tensor):
            found = True
            yield where, _shape(item)
        elif isinstance(item, Mapping):
            stack.extend((_child(where, k), v) for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(item))
    if not found:
        yield name, None


@dataclass(slots=True)
class _Differences:
    """How a saved learner state differs from a learner's current one."""

    entries: list[tuple[str, tuple[int, ...] | None, tuple[int, ...] | None]] = dataclasses.field(default_factory=list)
    """(name, checkpoint shape, learner shape) of every entry that cannot be loaded."""
    optimizers: list[str] = dataclasses.field(default_factory=list)
    """Descriptions of optimiser states whose layouts differ."""


def _compare(current: Any, saved: Any, name: str, out: _Differences) -> None:
    if _is_optimizer_state(current) or _is_optimizer_state(saved):
        if not (_is_optimizer_state(current) and _is_optimizer_state(saved)):
            out.optimizers.append(f"{name}: an optimiser state on one side only")
        elif (layout := _optimizer_layout(current)) != (saved_layout := _optimizer_layout(saved)) or layout is None:
            out.optimizers.append(
                f"{name}: parameter groups of sizes {saved_layout} in the checkpoint, {layout} in the learner"
            )
        return
    if isinstance(current, torch.Tensor) or isinstance(saved, torch.Tensor):
        if _shape(current) != _shape(saved):
            out.entries.append((name, _shape(saved), _shape(current)))
        return
    if isinstance(current, Mapping) and isinstance(saved, Mapping):
        for key, item in current.items():
            if key in saved:
                _compare(item, saved[key], _child(name, key), out)
            else:
                out.entries.extend((leaf, None, shape) for leaf, shape in _leaves(item, _child(name, key)))
        for key, item in saved.items():
            if key not in current:
                out.entries.extend((leaf, shape, None) for leaf, shape in _leaves(item, _child(name, key)))
        return
    if isinstance(current, list | tuple) and isinstance(saved, list | tuple):
        if len(current) == len(saved):
            for i, (a, b) in enumerate(zip(current, saved)):
                _compare(a, b, f"{name}[{i}]", out)
            return
    elif not isinstance(current, Mapping | list | tuple) and not isinstance(saved, Mapping | list | tuple):
        return  # plain values (numbers, strings, ...): the checkpoint's are loaded
    out.entries.append((name, None, None))  # containers of different kinds or lengths


def _shares_block(shape: tuple[int, ...] | None, other: tuple[int, ...] | None) -> bool:
    """Two different shapes with the same number of dimensions and a non-empty common block."""
    if shape is None or other is None or shape == other or len(shape) != len(other) or not shape:
        return False
    return min(*shape, *other) > 0


def _merge(current: Any, saved: Any, load_optimizers: bool, overlap: bool) -> Any:
    """A new state of ``current``'s structure holding ``saved``'s values wherever they fit.

    With ``overlap``, a tensor of another shape gets the leading block both shapes share.
    """
    if _is_optimizer_state(current):
        fits = load_optimizers and _is_optimizer_state(saved)
        return copy.deepcopy(saved if fits else current)
    if isinstance(current, torch.Tensor):
        if isinstance(saved, torch.Tensor) and saved.shape == current.shape:
            return saved
        if overlap and _shares_block(_shape(current), _shape(saved)):
            block = tuple(slice(0, min(a, b)) for a, b in zip(current.shape, saved.shape))
            grown = current.detach().clone()
            grown[block] = saved[block].to(grown.dtype)
            return grown
        return current
    if isinstance(current, Mapping):
        if not isinstance(saved, Mapping):
            return current
        out: dict[Any, Any] = OrderedDict() if isinstance(current, OrderedDict) else {}
        for key, item in current.items():
            out[key] = _merge(item, saved[key], load_optimizers, overlap) if key in saved else item
        if isinstance(out, OrderedDict):  # torch keeps its module versions as attributes of its state dicts
            vars(out).update({**getattr(current, "__dict__", {}), **getattr(saved, "__dict__", {})})
        return out
    if isinstance(current, list | tuple):
        if not isinstance(saved, list | tuple) or len(saved) != len(current):
            return current
        return type(current)(_merge(a, b, load_optimizers, overlap) for a, b in zip(current, saved))
    return saved


@dataclass(slots=True)
class _Plan:
    """The state to load into one learner, and what it leaves out."""

    state: dict[str, Any]
    skipped: list[MismatchedTensor]
    overlapped: list[MismatchedTensor]
    fresh_optimizer: bool
    problems: list[str]
    """Everything that keeps a strict load from loading this learner."""


def _plan(learner: Learner, index: int, saved: dict[str, Any], overlap: bool = False) -> _Plan:
    diff = _Differences()
    current = learner.state_dict()
    _compare(current, saved, "", diff)
    skipped: list[MismatchedTensor] = []
    overlapped: list[MismatchedTensor] = []
    for name, saved_shape, shape in diff.entries:
        entry = MismatchedTensor(index, learner.name, name, saved_shape, shape)
        (overlapped if overlap and _shares_block(saved_shape, shape) else skipped).append(entry)
    fresh_optimizer = bool(diff.entries or diff.optimizers)
    state = _merge(current, saved, load_optimizers=not fresh_optimizer, overlap=overlap)
    problems = [str(e) for e in (*skipped, *overlapped)]
    problems += [f"learner {index} ({learner.name!r}) optimiser {o}" for o in diff.optimizers]
    return _Plan(state, skipped, overlapped, fresh_optimizer, problems)


def _load_all(learners: Sequence[Learner], states: Sequence[dict[str, Any]]) -> None:
    """Load ``states`` into ``learners``; if one fails, restore every learner touched so far."""
    backups = [copy.deepcopy(lr.state_dict()) for lr in learners]
    for done, (learner, state) in enumerate(zip(learners, states)):
        try:
            learner.load_state_dict(state, strict=True)
        except BaseException:
            for touched, backup in zip(learners[: done + 1], backups):  # the failing one too: it may be half loaded
                try:
                    touched.load_state_dict(backup, strict=True)
                except Exception:
                    logger.exception("could not restore learner %r after a failed load", touched.name)
            raise


def _too_many(problems: list[str]) -> str:
    shown = "; ".join(problems[:_SHOWN_PROBLEMS])
    more = len(problems) - _SHOWN_PROBLEMS
    return shown + (f"; and {more} more" if more > 0 else "")


def load_agents(
    path: str | os.PathLike[str], agents: Sequence[Agent], strict: bool = True, *, overlap: bool = False
) -> LoadResult:
    """Load a checkpoint into the learners among ``agents`` (one entry per seat).

    Returns a :class:`LoadResult`: the checkpoint's metadata (it *is* the metadata mapping, as
    before) plus what was left out. Everything is checked for all learners before any is loaded;
    if anything does not fit, a ``ValueError`` names the learner, the tensor and both shapes,
    and the learners are left unchanged.

    ``strict=True``: the checkpoint must hold as many distinct learners as ``agents``, in the
    same seat layout, of the same kinds, with the same tensors of the same shapes; it restores
    the networks and the optimisers exactly.

    ``strict=False`` (partial loading, e.g. a game with more players and so longer
    observations): the seat layout may differ as long as the number of distinct learners is the
    same (they are paired in order of first appearance) and their kinds match. Every tensor whose
    name and shape match is loaded; every other one keeps its current value and is listed in
    :attr:`LoadResult.skipped` with both shapes. A learner with a skipped tensor keeps its
    current optimiser state (listed in :attr:`LoadResult.fresh_optimizers`): Adam's moments
    and step counts describe the saved parameters as a whole and do not fit a network that is
    partly new. Learners without skipped tensors get their optimiser state too.

    ``overlap=True`` (with ``strict=False``): a tensor whose shape differs but has as many
    dimensions gets the leading block both shapes share (``[:min(n, m)]`` along each
    dimension) and keeps its current values elsewhere; it is listed in
    :attr:`LoadResult.overlapped` instead of :attr:`LoadResult.skipped`. This is meaningful
    when the observation grows at its end, as in the robot game (own robot first, then the
    others): with 4 robots instead of 3 the input layer's first 9 columns read the same values
    as before. Without it an MLP's input layer starts afresh and little of the skill survives.
    """
    if not isinstance(strict, bool) or not isinstance(overlap, bool):
        raise TypeError(f"strict and overlap must be bools, got strict={strict!r}, overlap={overlap!r}")
    if strict and overlap:
        raise ValueError("overlap=True needs strict=False: a strict load requires every shape to match")
    name = os.fspath(path)
    payload = read_checkpoint(name)
    learners, seat_to_learner = _distinct_learners(agents)
    saved = payload["learners"]
    if not learners:
        raise ValueError("agents contains no learner: there is nothing to load the checkpoint into")
    if len(learners) != len(saved):
        raise ValueError(
            f"agents hold {len(learners)} distinct learners but the checkpoint {name} has {len(saved)}; "
            "give one learner per saved learner"
        )
    if strict and seat_to_learner != payload["seat_to_learner"]:
        raise ValueError(
            f"seat layout differs: checkpoint {payload['seat_to_learner']}, agents {seat_to_learner} "
            "(-1 marks fixed policies; equal numbers mark one learner in several seats); "
            "pass strict=False to pair the learners in order of first appearance"
        )
    for i, (learner, entry) in enumerate(zip(learners, saved)):
        if type(learner).__name__ != entry["kind"]:
            raise ValueError(
                f"checkpoint holds a {entry['kind']} as learner {i} where agents have a {type(learner).__name__} "
                f"({learner.name!r}); nothing was loaded"
            )
    plans = [_plan(learner, i, entry["state"], overlap) for i, (learner, entry) in enumerate(zip(learners, saved))]
    problems = [p for plan in plans for p in plan.problems]
    if strict and problems:
        raise ValueError(
            f"checkpoint {name} does not fit the learners, which were left unchanged: {_too_many(problems)}. "
            "Build each learner like the saved one (same observation and action spaces, same hidden sizes), "
            "or pass strict=False to load only the tensors that fit"
        )
    _load_all(learners, [plan.state for plan in plans])
    fresh = tuple(i for i, plan in enumerate(plans) if plan.fresh_optimizer)
    if fresh:
        logger.info("partial load of %s (optimisers of learners %s kept): %s", name, list(fresh), _too_many(problems))
    return LoadResult(
        metadata=dict(payload.get("metadata", {})),
        skipped=tuple(e for plan in plans for e in plan.skipped),
        overlapped=tuple(e for plan in plans for e in plan.overlapped),
        fresh_optimizers=fresh,
        checkpoint_seats=tuple(payload["seat_to_learner"]),
    )


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A checkpoint file, read and checked once: which game it holds, its metadata and its learners.

    ``rbtrainer train`` records its ``[env]`` table under the metadata key ``"env"`` (no
    ``"game"`` there means :data:`games.DEFAULT_GAME`) and the learners' configuration under
    ``"dqn"`` or ``"ppo"``; checkpoints saved by other code may hold neither.
    """

    path: str
    """The file it was read from."""
    seat_to_learner: tuple[int, ...]
    """Seat -> learner index (-1: a fixed policy when it was saved)."""
    metadata: dict[str, Any]
    """The metadata it was saved with."""
    learner_states: tuple[dict[str, Any], ...] = dataclasses.field(repr=False)
    """Each learner's ``name``, ``kind`` and ``state``, as saved."""

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Checkpoint:
        """Read and check a checkpoint file (errors as :func:`read_checkpoint` raises them)."""
        payload = read_checkpoint(path)
        return cls(
            path=os.fspath(path),
            seat_to_learner=tuple(payload["seat_to_learner"]),
            metadata=dict(payload.get("metadata", {})),
            learner_states=tuple(payload["learners"]),
        )

    @property
    def num_learners(self) -> int:
        """Distinct learners saved."""
        return len(self.learner_states)

    @property
    def env_args(self) -> dict[str, Any] | None:
        """The recorded game arguments (a copy of metadata ``"env"``); ``None`` if none were recorded."""
        env = self.metadata.get("env")
        if env is None:
            return None
        if not isinstance(env, dict):
            raise ValueError(f"checkpoint {self.path}: its metadata 'env' is not a table of game arguments")
        return dict(env)

    @property
    def game(self) -> str | None:
        """The registry game the learners were trained on; ``None`` if the checkpoint does not say."""
        env = self.env_args
        return None if env is None else env.get("game", games.DEFAULT_GAME)

    def check_game(self, game: str, hint: str = "") -> None:
        """``ValueError`` naming both games (and the recorded arguments) if the checkpoint was trained on another game.

        A checkpoint that records no game fits every game. ``hint`` is appended to the message.
        """
        trained_on = self.game
        if trained_on is not None and game != trained_on:
            raise ValueError(
                f"checkpoint {self.path} holds agents trained on {trained_on!r} (env {self.env_args}), "
                f"not on {game!r}{hint}"
            )

    def env_args_for(self, env_args: Mapping[str, Any], hint: str = "") -> dict[str, Any]:
        """The recorded game arguments updated by ``env_args`` (not mutated), which may not name another game."""
        recorded = self.env_args or {}
        if self.game is not None:
            self.check_game(env_args.get("game", self.game), hint)
        return {**recorded, **env_args}

    def learner(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        *,
        index: int = 0,
        name: str | None = None,
        device: str = "cpu",
    ) -> Learner:
        """Rebuild learner ``index`` for a seat with these spaces and load its weights.

        ``device``: where the rebuilt learner lives, whatever device it was trained on. The metadata
        must hold the learner's configuration under ``"dqn"`` (a :class:`~rbtrainer.agents.DQNConfig`,
        as ``rbtrainer train`` writes) or ``"ppo"``.
        """
        from rbtrainer.agents.builders import DQNConfig, PPOConfig, dqn_agent, ppo_agent

        path, metadata = self.path, self.metadata
        if not 0 <= index < self.num_learners:
            raise ValueError(f"{path} holds {self.num_learners} learner(s); index {index} is out of range")
        label = name or os.path.basename(path)
        learner: Learner
        if "dqn" in metadata:
            config = DQNConfig(**{**metadata["dqn"], "device": device})
            learner = dqn_agent(observation_space, action_space, config=config, name=label)
        elif "ppo" in metadata:
            ppo_config = PPOConfig(**{**metadata["ppo"], "device": device})
            learner = ppo_agent(observation_space, action_space, config=ppo_config, name=label)
        elif "planning" in metadata:
            learner = self._planning_learner(observation_space, action_space, label, device)
        else:
            raise ValueError(
                f"{path} does not record its learner's configuration (metadata 'dqn', 'ppo' or 'planning'); build "
                "the learner yourself and call load_agents"
            )
        entry = self.learner_states[index]
        if type(learner).__name__ != entry["kind"]:
            raise ValueError(f"{path} holds a {entry['kind']}, but its metadata describes a {type(learner).__name__}")
        plan = _plan(learner, index, entry["state"])
        if plan.problems:  # the network was built for other spaces
            raise ValueError(
                f"{path} was trained on a game with other observations or actions (env {metadata.get('env', {})}): "
                f"{_too_many(plan.problems)}"
            )
        _load_all([learner], [plan.state])
        return learner

    def _planning_learner(
        self, observation_space: gym.Space, action_space: gym.Space, name: str, device: str
    ) -> Learner:
        """A planning learner as the metadata's ``"planning"`` settings describe it, planning with the rules
        of the recorded game (``"env"``)."""
        from rbtrainer.agents.planning import PlanningConfig, planning_agent, rules_from_game

        game_name, args = registry_game(self.env_args)
        rules = rules_from_game(lambda: games.make(game_name, raw=True, **args))
        config = PlanningConfig(**{**self.metadata["planning"], "device": device})
        return planning_agent(rules, observation_space, action_space, config=config, name=name)

    def agents(
        self,
        seats: Sequence[str],
        observation_spaces: Sequence[gym.Space],
        action_spaces: Sequence[gym.Space],
        *,
        device: str = "cpu",
    ) -> list[Learner]:
        """The saved learners in the seats they were saved for, one object per distinct learner
        (the seats are checked by :meth:`check_seats`)."""
        self.check_seats(seats)
        learners: dict[int, Learner] = {}
        for seat, index in enumerate(self.seat_to_learner):
            if index not in learners:
                learners[index] = self.learner(
                    observation_spaces[seat], action_spaces[seat], index=index, device=device
                )
        return [learners[index] for index in self.seat_to_learner]

    def check_seats(self, seats: Sequence[str]) -> None:
        """``ValueError`` unless the checkpoint has a learner for each of ``seats`` (the game's seats)."""
        if len(self.seat_to_learner) != len(seats):
            raise ValueError(
                f"checkpoint {self.path} holds agents for {len(self.seat_to_learner)} seats, but the game has "
                f"{len(seats)} seats {list(seats)}"
            )
        missing = [seat for seat, index in zip(seats, self.seat_to_learner) if index < 0]
        if missing:
            raise ValueError(
                f"checkpoint {self.path} has no learner for seat(s) {missing} (fixed policies when it was saved)"
            )


def learner_from_checkpoint(
    path: str | os.PathLike[str],
    observation_space: gym.Space,
    action_space: gym.Space,
    *,
    index: int = 0,
    name: str | None = None,
    device: str = "cpu",
) -> Learner:
    """Rebuild learner ``index`` of a checkpoint for a seat with these spaces and load its weights
    (:meth:`Checkpoint.learner` of the file)."""
    return Checkpoint.read(path).learner(observation_space, action_space, index=index, name=name, device=device)
