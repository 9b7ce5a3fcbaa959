"""The ``rbtrainer play`` command: play one game and watch it, record it, or replay a record.

The seats are filled by agent specs (``--agents``, as ``rbtrainer eval`` takes them: baselines or
checkpoint paths, one per seat or one for every seat; without ``--env`` the game the first checkpoint
among them records) or by the learners of one checkpoint (``--checkpoint``, whose recorded game is
played unless ``--env`` says otherwise). The game is
played with :func:`rbtrainer.replay.play_game`; ``--gif`` draws it, ``--record`` writes its
record, ``--replay`` plays a record again (checked move by move) and can draw it. The command
prints its result like the other commands; the library parts live in :mod:`rbtrainer.replay`.
"""

# No ``from __future__ import annotations``: tyro reads the annotations of PlayCommand.

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from tyro.conf import UseAppendAction, arg

if TYPE_CHECKING:
    from rbtrainer.agents.base import Agent
    from rbtrainer.replay import PlayedGame
    from rbtrainer.trainer import DecentralizedTrainer

__all__ = ["PlayCommand"]

_AGENT_SEED_STREAM = 9
"""``spawn_seeds`` stream of the agents' seeds (``eval`` uses 8)."""


@dataclass(kw_only=True)
class PlayCommand:
    """Play one game (agents by spec or a checkpoint's learners) and print the result; draw, record or replay it."""

    env: Annotated[tuple[str, ...], UseAppendAction, arg(metavar="KEY=VALUE")] = ()
    """Game argument (repeatable), e.g. --env game=tictactoe; VALUE: a Python literal or a word."""
    agents: Annotated[tuple[str, ...], arg(metavar="SPEC", help_behavior_hint="(default: none)")] = ()
    """Agent of each seat (or one for all): a baseline (random, minimax, strong, opportunist, negamax[:DEPTH],
    astar, mcts[:N]) or a checkpoint path (PATH@N: a planning learner searching N simulations per move); without
    --env the game is the one the first checkpoint among them records."""
    checkpoint: Annotated[str | None, arg(metavar="PATH")] = None
    """Checkpoint of 'rbtrainer train': its learners fill the seats and its game is played (instead of --agents)."""
    seed: Annotated[int | None, arg(metavar="INT", help_behavior_hint="(default: 0; --replay: the recorded seed)")] = (
        None
    )
    """Seed of the game and of the agents."""
    gif: Annotated[str | None, arg(metavar="PATH")] = None
    """Write the game as an animated GIF (games with an rgb_array renderer); not into a Python package's folder."""
    record: Annotated[str | None, arg(metavar="PATH")] = None
    """Write the game's record (seed and every move, JSON) for --replay, e.g. recordings/game.json; not into a
    Python package's folder (such as games/)."""
    replay: Annotated[str | None, arg(metavar="PATH")] = None
    """Replay a record written by --record (checked move by move) instead of playing a new game."""
    fps: Annotated[float | None, arg(metavar="FLOAT", help_behavior_hint="(default: the game's render_fps)")] = None
    """Frames per second of the GIF."""
    device: str = "cpu"
    """Where checkpoint learners live: cpu, cuda, cuda:N, mps or auto (the best available)."""

    def run(self) -> int:
        from rbtrainer.recipes import parse_env_pair
        from rbtrainer.validation import non_negative_int, number_in

        env_args = dict(parse_env_pair(text) for text in self.env)
        if self.seed is not None:
            non_negative_int("seed", self.seed)
        if self.fps is not None:
            number_in("fps", self.fps, 0.0, 100.0, low_open=True)
        for flag, path in (("--gif", self.gif), ("--record", self.record)):
            if path is not None:
                _outside_packages(flag, path)
        played = self._replay(self.replay, env_args) if self.replay is not None else self._play(env_args)
        record = played.record
        print(played.result.describe(record.seats))
        if self.gif is not None:
            print(f"gif: {played.save_gif(self.gif, fps=self.fps)}")
        if self.record is not None:
            print(f"record: {record.save(self.record)}")
        return 0

    # ------------------------------------------------------------------------ replay
    def _replay(self, path: str, env_args: Mapping[str, Any]) -> "PlayedGame":
        from rbtrainer.replay import GameRecord, replay_game

        if self.agents or self.checkpoint is not None:
            raise ValueError("--replay plays the recorded moves; drop --agents and --checkpoint")
        record = GameRecord.load(path)
        record.check_env_args(env_args, what="--env")
        if self.seed is not None and self.seed != record.seed:
            raise ValueError(f"{path}: the game was recorded with seed {record.seed}, not {self.seed}; drop --seed")
        played = replay_game(record, render=self.gif is not None)
        print(f"replayed {path} (every move and the result as recorded)")
        print(_heading(record.game, record.seed, record.seats, record.agents))
        return played

    # -------------------------------------------------------------------------- play
    def _play(self, env_args: dict[str, Any]) -> "PlayedGame":
        from rbtrainer.evaluation.specs import specs_env
        from rbtrainer.replay import play_game
        from rbtrainer.trainer import DecentralizedTrainer

        if self.checkpoint is not None and self.agents:
            raise ValueError(
                "give either --checkpoint (its learners fill every seat) or --agents (one spec per seat; "
                "a spec may be a checkpoint path), not both"
            )
        if self.checkpoint is None and not self.agents:
            raise ValueError(
                "say who plays: --agents SPEC ... (one per seat, e.g. --agents minimax random) or --checkpoint PATH"
            )
        seed = 0 if self.seed is None else self.seed
        if self.checkpoint is not None:
            env_args = _checkpoint_env(self.checkpoint, env_args)
        elif not env_args:  # no --env: the game the first checkpoint among the specs records, as eval plays
            env_args = specs_env(self.agents)
        with DecentralizedTrainer(
            env_args, num_train_envs=1, num_test_envs=1, seed=seed, progress_bar=False
        ) as trainer:
            if self.checkpoint is not None:
                agents, labels = _checkpoint_agents(self.checkpoint, trainer, self.device)
            else:
                agents, labels = _spec_agents(self.agents, trainer, seed, self.device)
            print(_heading(trainer.game_name, seed, trainer.seats, labels))
        return play_game(agents, env_args, seed=seed, render=self.gif is not None, labels=labels)


def _outside_packages(flag: str, path: str) -> None:
    """``ValueError`` if ``path`` would be written into a Python package's directory (one holding
    ``__init__.py``, such as ``games/`` or ``rbtrainer/`` in the repository): a recording there
    would be mistaken for part of the package. A folder that does not exist yet is judged by the
    nearest existing one it would be created in."""
    directory = os.path.dirname(os.path.abspath(path))
    while not os.path.isdir(directory) and os.path.dirname(directory) != directory:
        directory = os.path.dirname(directory)
    if os.path.isfile(os.path.join(directory, "__init__.py")):
        relative = os.path.relpath(directory)
        where = directory if relative.startswith("..") else relative
        raise ValueError(
            f"{flag} {path}: {where} is a Python package directory (it holds __init__.py); write the file "
            f"somewhere else, e.g. {flag} recordings/{os.path.basename(path)}"
        )


def _heading(game: str, seed: int, seats: Sequence[str], labels: Sequence[str]) -> str:
    players = ", ".join(f"{seat} {label}" for seat, label in zip(seats, labels)) if labels else ", ".join(seats)
    return f"{game}, seed {seed}: {players}"


def _spec_agents(
    specs: Sequence[str], trainer: "DecentralizedTrainer", seed: int, device: str
) -> tuple[list["Agent"], list[str]]:
    from rbtrainer.evaluation import agent_from_spec
    from rbtrainer.evaluation.specs import spec_label
    from rbtrainer.rng import spawn_seeds

    seats = trainer.seats
    if len(specs) == 1:
        specs = list(specs) * len(seats)
    elif len(specs) != len(seats):
        raise ValueError(
            f"--agents: {trainer.game_name} has {len(seats)} seats {list(seats)}; give one spec per seat "
            f"(or one for every seat), got {len(specs)}"
        )
    seeds = spawn_seeds(seed, len(seats), stream=_AGENT_SEED_STREAM)
    agents = [agent_from_spec(spec, trainer, seed=s, device=device) for spec, s in zip(specs, seeds)]
    labels = [spec_label(spec) for spec in specs]
    return agents, labels


def _checkpoint_env(path: str, env_args: Mapping[str, Any]) -> dict[str, Any]:
    """The checkpoint's recorded game arguments updated by ``--env`` (which may not change the game)."""
    from rbtrainer.checkpoint import Checkpoint

    return Checkpoint.read(path).env_args_for(env_args, hint="; leave game out of --env to play it")


def _checkpoint_agents(path: str, trainer: "DecentralizedTrainer", device: str) -> tuple[list["Agent"], list[str]]:
    """The checkpoint's learners in the seats it saved them for (one object per distinct learner)."""
    from rbtrainer.checkpoint import Checkpoint

    checkpoint = Checkpoint.read(path)
    try:
        checkpoint.check_seats(trainer.seats)
    except ValueError as err:
        raise ValueError(f"{err}; use --agents {path} SPEC ... to name an agent for every seat") from None
    seats = range(trainer.num_seats)
    observation_spaces = [trainer.observation_space(s) for s in seats]
    agents: list[Agent] = list(
        checkpoint.agents(trainer.seats, observation_spaces, [trainer.action_space(s) for s in seats], device=device)
    )
    seat_to_learner = checkpoint.seat_to_learner
    learners = set(seat_to_learner)
    name = os.path.basename(path)
    labels = [name if len(learners) == 1 else f"{name}[{index}]" for index in seat_to_learner]
    return agents, labels
