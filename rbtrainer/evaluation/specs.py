"""Agent specs: the strings ``rbtrainer eval --agents`` takes, each turned into an agent for a game.

A spec is a baseline name (``random``, ``minimax``, ``strong``, ``opportunist``, ``negamax`` or
``negamax:DEPTH``, ``astar``), ``mcts`` or ``mcts:SIMULATIONS`` (Monte-Carlo tree search with random
play-outs, no network, in games with search rules; 200 simulations per move by default) or the path
of a checkpoint written by ``rbtrainer train`` (its first learner, played greedily; a planning
learner searches with the simulations it plays with, ``play_simulations`` or else ``simulations``).
``PATH@N`` plays a planning checkpoint with ``N`` simulations per move instead. Baselines are seeded;
a checkpoint from another game is refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rbtrainer.agents.base import Agent

if TYPE_CHECKING:
    from rbtrainer.trainer import DecentralizedTrainer

__all__ = ["BASELINES", "agent_from_spec", "spec_checkpoint", "spec_label", "specs_env"]

BASELINES = ("random", "minimax", "strong", "opportunist", "negamax[:DEPTH]", "astar", "mcts[:SIMULATIONS]")
"""Baseline names a spec may give."""


def _spec_number(spec: str, default: int, what: str) -> int:
    """The int after the colon of ``name:N`` (``default`` without one); ``ValueError`` naming ``what`` otherwise."""
    name, _, text = spec.partition(":")
    try:
        return int(text or default)
    except ValueError:
        raise ValueError(
            f"agent spec {spec!r}: the {what} after '{name}:' must be an int, e.g. {name}:{default}"
        ) from None


def _mcts(spec: str, trainer: DecentralizedTrainer, seed: int | None) -> Agent:
    from rbtrainer.agents.planning import SearchAgent, rules_from_game
    from rbtrainer.config import SearchSettings

    simulations = _spec_number(spec, 200, "simulations")
    if simulations < 1:
        raise ValueError(f"agent spec {spec!r}: the simulations after 'mcts:' must be >= 1, e.g. mcts:200")
    try:
        rules = rules_from_game(trainer.make_game)
    except ValueError as err:
        raise ValueError(f"agent spec {spec!r}: {err}") from None
    return SearchAgent(rules, SearchSettings(simulations=simulations), seed=seed, name=f"mcts:{simulations}")


def _astar(trainer: DecentralizedTrainer, seed: int | None) -> Agent:
    from rbtrainer.agents.fixed import AStarDeliveryAgent

    if trainer.game_name != "robot_delivery":
        raise ValueError(f"agent spec 'astar' plays robot_delivery only; this game is {trainer.game_name!r}")
    game = trainer.make_game()
    try:
        config = game.unwrapped.config
    finally:
        game.close()
    return AStarDeliveryAgent(
        config.num_robots, with_battery=config.with_battery, seed=seed, station_mail=config.observe_station_mail
    )


def agent_from_spec(spec: str, trainer: DecentralizedTrainer, seed: int | None = None, device: str = "cpu") -> Agent:
    """The agent a spec names, for the game of ``trainer`` (checked against its seats' spaces).

    ``device``: where a checkpoint's learner lives (baselines run on NumPy).
    """
    from rbtrainer.agents.fixed import RandomAgent
    from rbtrainer.evaluation.baselines import (
        ConnectFourNegamax,
        ConnectFourOpportunist,
        ConnectFourStrong,
        TicTacToeMinimax,
    )

    if not isinstance(spec, str) or not spec:
        raise TypeError(f"an agent spec must be a non-empty string, got {spec!r}")
    agent: Agent
    if spec == "random":
        agent = RandomAgent(seed=seed)
    elif spec == "minimax":
        agent = TicTacToeMinimax(seed=seed)
    elif spec == "strong":
        agent = ConnectFourStrong(seed=seed)
    elif spec == "opportunist":
        agent = ConnectFourOpportunist(seed=seed)
    elif spec == "negamax" or spec.startswith("negamax:"):
        agent = ConnectFourNegamax(depth=_spec_number(spec, 4, "depth"), seed=seed)
    elif spec == "astar":
        agent = _astar(trainer, seed)
    elif spec == "mcts" or spec.startswith("mcts:"):
        agent = _mcts(spec, trainer, seed)
    elif (named := spec_checkpoint(spec)) is not None:
        path, budget = named
        agent = _checkpoint_agent(path, trainer, device, None if budget is None else _budget(spec, budget))
    else:
        raise ValueError(
            f"unknown agent spec {spec!r}: neither a baseline ({', '.join(BASELINES)}) nor an existing checkpoint file"
        )
    for s in range(trainer.num_seats):
        try:
            agent.check_spaces(trainer.observation_space(s), trainer.action_space(s))
        except (TypeError, ValueError) as err:
            raise ValueError(f"agent spec {spec!r} cannot play seat {trainer.seats[s]!r} of this game: {err}") from None
    return agent


def spec_checkpoint(spec: str) -> tuple[str, str | None] | None:
    """The checkpoint file ``spec`` names and the text after its ``@`` (``PATH@N``; None for a plain
    path), or None when the spec names no existing file."""
    if os.path.isfile(spec):
        return spec, None
    path, at, budget = spec.rpartition("@")
    if at and os.path.isfile(path):
        return path, budget
    return None


def specs_env(specs: Sequence[str]) -> dict[str, Any]:
    """The game arguments recorded by the first checkpoint among the agent specs (``PATH`` or
    ``PATH@N``), or none (the default game) when no entrant is a checkpoint that records them: the game
    ``rbtrainer eval`` and ``rbtrainer play`` play without ``--env``."""
    from rbtrainer.checkpoint import Checkpoint

    for spec in specs:
        named = spec_checkpoint(spec)
        recorded = None if named is None else Checkpoint.read(named[0]).env_args
        if recorded:
            return recorded
    return {}


def spec_label(spec: str) -> str:
    """How tables name the agent of ``spec``: a checkpoint by its file name (``PATH@N``: the file name and
    ``@N``), a baseline by its spec."""
    named = spec_checkpoint(spec)
    if named is None:
        return spec
    path, budget = named
    return os.path.basename(path) + ("" if budget is None else f"@{budget}")


def _budget(spec: str, text: str) -> int:
    """The simulations after the ``@`` of ``PATH@N``; ``ValueError`` naming the spec unless an int >= 1."""
    try:
        simulations = int(text)
    except ValueError:
        simulations = 0
    if simulations < 1:
        raise ValueError(
            f"agent spec {spec!r}: after '@' comes the simulations per move of a planning checkpoint, "
            f"an int >= 1, e.g. {spec.rpartition('@')[0]}@400"
        )
    return simulations


def _checkpoint_agent(path: str, trainer: DecentralizedTrainer, device: str, simulations: int | None = None) -> Agent:
    """The first learner of the checkpoint at ``path``; ``simulations``: the search budget it plays
    with (planning learners only)."""
    from rbtrainer.agents.planning import PlanningLearner
    from rbtrainer.checkpoint import Checkpoint

    checkpoint = Checkpoint.read(path)
    if trainer.from_registry:
        checkpoint.check_game(trainer.game_name, " (this game)")
    agent = checkpoint.learner(trainer.observation_space(0), trainer.action_space(0), device=device)
    if simulations is not None:
        if not isinstance(agent, PlanningLearner):
            raise ValueError(
                f"agent spec '{path}@{simulations}': '@N' sets the search budget of a planning learner, and "
                f"{path} holds none ({type(agent).__name__}); name the file without '@{simulations}'"
            )
        agent.play_with(simulations)
    return agent
