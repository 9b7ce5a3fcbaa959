"""The plain settings of rbtrainer and the recipe file's tables, in a module that imports neither
torch nor tianshou (the command line builds its parser from these classes, so ``--help`` stays quick).

Each class lives here and is also importable from where it is used: :class:`TrainerConfig` from
:mod:`rbtrainer.trainer` and :mod:`rbtrainer.params`, :class:`DQNConfig` from :mod:`rbtrainer.agents`,
:class:`LeagueConfig` from :mod:`rbtrainer.league`, the recipe tables (:class:`ScheduleConfig`,
:class:`LeagueOptions`, :class:`OpponentMix`, :class:`PanelOptions`, :func:`read_tables`...) from
:mod:`rbtrainer.recipes`.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rbtrainer.validation import (
    MAX_ENVS,
    boolean,
    check_device,
    file_name,
    hidden_sizes,
    non_negative_int,
    not_a_file,
    number_in,
    positive_int,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "BACKENDS",
    "DEFAULT_PANELS",
    "SAMPLINGS",
    "TABLES",
    "TABLE_CLASSES",
    "DQNConfig",
    "LeagueConfig",
    "LeagueOptions",
    "Opponent",
    "OpponentMix",
    "PanelConfig",
    "PanelOptions",
    "PlanningConfig",
    "PlanningOptions",
    "ScheduleConfig",
    "SearchSettings",
    "TrainerConfig",
    "check_train_tables",
    "checked_table",
    "default_panel",
    "parse_env_pair",
    "read_tables",
    "read_toml",
    "table_values",
]

BACKENDS = ("dummy", "subproc", "ray")
"""Where a pool's games run: this process, one process per worker, or Ray actors."""

SAMPLINGS = ("uniform", "pfsp")
"""How opponents are drawn from the pool (see the module docstring)."""

TABLES = ("env", "trainer", "dqn", "planning", "schedule", "league", "opponents", "panel")
"""The tables a recipe file may hold."""


def _check_threads(name: str, count: int | None) -> None:
    """A torch thread count: None, or a positive int the machine can start."""
    if count is None:
        return
    positive_int(name, count)
    cores = os.cpu_count() or 1
    # Threads beyond the cores only time-share them (8 per core is far past any speed-up), and a count far
    # beyond the machine aborts the whole process inside OpenMP at the first update. The floor of 64 keeps a
    # config written on a larger machine usable here: 64 idle-ish threads cost only their stacks.
    most = max(64, 8 * cores)
    if count > most:
        raise ValueError(
            f"{name} must be at most {most} on this machine ({cores} CPU cores: at most max(64, 8 per core)), got "
            f"{count:,}; use about one per core, or None to leave torch's own setting"
        )


@dataclass(kw_only=True)
class TrainerConfig:
    """Settings of a :class:`~rbtrainer.trainer.DecentralizedTrainer` (everything but the game and the hooks)."""

    num_train_envs: int = 16
    """Games played side by side while training."""
    num_test_envs: int = 16
    """Games played side by side while testing."""
    batch_size: int = 64
    """Gradient minibatch size."""
    update_freq: int = 100
    """Env steps collected between two policy updates."""
    test_freq: int = 100
    """Training episodes between two test rounds."""
    episodes_per_train: int | None = 5000
    """Training episodes to collect in ``train()`` (``None``: no episode budget, ``max_env_steps`` is the budget)."""
    max_env_steps: int | None = None
    """Env steps to collect in ``train()`` (``None``: no step budget). With both budgets, the first one reached ends
    training; a run stops at the end of the collection phase that reaches it."""
    episodes_per_test: int = 50
    """Episodes per test round (spread evenly over the test envs)."""
    update_per_step: float = 0.1
    """Gradient steps per collected env step for off-policy learners."""
    shared_memory: bool = True
    """Learners also store the transitions of the other seats they are compatible with."""
    seed: int | None = None
    """Seed of the env pools (agents carry their own seeds); ``None``: drawn at random once."""
    backend: str = "dummy"
    """Env pool: ``dummy`` (this process), ``subproc`` (a process per env) or ``ray``."""
    rollout_workers: int = 0
    """Rollout workers that each hold a block of the pools' games and copies of the agents and play whole
    collection phases and test rounds there, on the ``backend``'s transport (``dummy``: in this process,
    ``subproc``: a process each, ``ray``: a Ray actor each); the learners learn in this process. 0: the games are
    stepped from this process, one tick at a time (see rbtrainer.rollout_workers)."""
    batch_games: bool = True
    """On the ``dummy`` backend, step a registry game that has a batch-native twin (robot delivery,
    tic-tac-toe, connect four) as arrays, many games in one call (same games, same statistics; see
    rbtrainer.envs.batch_pool)."""
    plot_dir: str = "plots"
    """Where ``train(plot=True)`` writes its figure."""
    plot_name: str | None = None
    """File name of the figure (default ``<game>_training.png``)."""
    progress_bar: bool | None = True
    """Show a tqdm progress bar while training (None: only when stderr is a terminal)."""
    torch_threads: int | None = 1
    """Torch CPU threads during train()/test(), restored afterwards (None: leave torch's setting)."""
    update_threads: int | None = None
    """Torch CPU threads while the learners update between collection phases (None: torch_threads). With
    rollout workers on this machine their cores are idle during the update: give it the machine's cores.
    Not with overlap, where the update runs beside the collection."""
    state_path: str | None = None
    """Training-state file, written every state_every test rounds and when a stop is requested (None: never)."""
    state_every: int = 1
    """Test rounds between two training-state files."""
    state_memory: bool | None = None
    """Put the learners' replay memories in training states (None: only while they hold at most 1 GiB together)."""
    overlap: bool = False
    """Collect each phase while the learners update on the previous one (off-policy learners, one
    collection phase of policy lag; see the module rbtrainer.overlap)."""
    check_finite: bool = True
    """Refuse NaN or infinite rewards and observations from the game: a :class:`~rbtrainer.envs.GameError`
    naming the game, the seat and the step, before anything reaches a memory (False: skip the check, about 3 %
    more env steps per second on robot delivery; see rbtrainer.rollout)."""

    step_timeout: float | None = 60.0
    """Seconds a worker of the ``subproc`` or ``ray`` backend may take to answer one step, reset or restore of its
    games; a worker stuck longer is killed and its games raise a :class:`~rbtrainer.envs.GameError` naming the envs
    and the worker (None: wait forever). Only worker backends honour it: on ``dummy`` the games run in this process,
    where a stuck game cannot be interrupted. Also bounds how long closing a pool waits for its workers (at most
    10 s)."""

    def __post_init__(self) -> None:
        for name in (
            "num_train_envs",
            "num_test_envs",
            "batch_size",
            "update_freq",
            "test_freq",
            "episodes_per_test",
            "state_every",
        ):
            positive_int(name, getattr(self, name))
        for name in ("episodes_per_train", "max_env_steps"):
            if getattr(self, name) is not None:
                positive_int(name, getattr(self, name))
        if self.episodes_per_train is None and self.max_env_steps is None:
            raise ValueError("episodes_per_train and max_env_steps are both None: give at least one training budget")
        if self.state_path is not None:
            if not isinstance(self.state_path, (str, os.PathLike)) or not os.fspath(self.state_path):
                raise TypeError(f"state_path must be a file path or None, got {self.state_path!r}")
            self.state_path = os.fspath(self.state_path)
        if self.state_memory is not None:
            boolean("state_memory", self.state_memory)
        boolean("overlap", self.overlap)
        boolean("check_finite", self.check_finite)
        if self.step_timeout is not None:
            week = 7 * 24 * 3600.0  # far past any game step
            number_in("step_timeout (seconds; None waits forever)", self.step_timeout, 0.0, week, low_open=True)
        boolean("batch_games", self.batch_games)
        non_negative_int("rollout_workers", self.rollout_workers)
        number_in("update_per_step", self.update_per_step, 0.0, 1000.0)
        boolean("shared_memory", self.shared_memory)
        if self.progress_bar is not None:
            boolean("progress_bar", self.progress_bar)
        if self.seed is not None:
            non_negative_int("seed", self.seed)
        _check_threads("torch_threads", self.torch_threads)
        _check_threads("update_threads", self.update_threads)
        if self.update_threads is not None and self.overlap:
            raise ValueError(
                f"update_threads={self.update_threads} does not apply with overlap=True (the update runs beside the "
                "collection there, on torch_threads); drop update_threads or overlap"
            )
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        for name in ("num_train_envs", "num_test_envs"):
            if getattr(self, name) > MAX_ENVS:
                raise ValueError(f"{name} must be at most {MAX_ENVS:,}, got {getattr(self, name):,}")
        if not isinstance(self.plot_dir, (str, os.PathLike)) or not os.fspath(self.plot_dir):
            raise TypeError(f"plot_dir must be a directory path, got {self.plot_dir!r}")
        self.plot_dir = not_a_file("plot_dir", os.fspath(self.plot_dir))  # writable: checked when a run plots
        if self.plot_name is not None:
            file_name("plot_name", self.plot_name)

    def budget_reached(self, episodes: int, env_steps: int) -> bool:
        """Whether a run that collected this much has met one of its budgets."""
        return (self.episodes_per_train is not None and episodes >= self.episodes_per_train) or (
            self.max_env_steps is not None and env_steps >= self.max_env_steps
        )


@dataclass(kw_only=True)
class DQNConfig:
    """Hyperparameters of a DQN-family learner."""

    hidden_sizes: tuple[int, ...] = (128, 128)
    """Widths of the Q-network's hidden layers."""
    conv_channels: tuple[int, ...] = ()
    """Channels of convolutions over a board observation of shape ``(height, width, planes)``
    before the hidden layers, e.g. ``(64, 64)``; ``()``: an MLP over the flattened observation."""
    conv_kernel: int = 3
    """Side of the square convolution kernels (with ``conv_channels``)."""
    conv_padding: int = 1
    """Zero cells added on each side of the board before each convolution (with ``conv_channels``);
    ``conv_kernel=4, conv_padding=0`` on connect four: one feature per 4x4 window of the board."""
    lr: float = 1e-3
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount factor."""
    n_step: int = 1
    """n-step returns (computed per (env, seat) stream)."""
    target_update_freq: int = 200
    """Gradient steps between target-network syncs (0: no target network)."""
    double: bool = True
    """Double DQN targets."""
    dueling: bool = False
    """Dueling value/advantage heads."""
    buffer_size: int = 50_000
    """Total replay memory, split evenly over the (env, seat) streams."""
    prioritized: bool = False
    """Proportional prioritized replay."""
    alpha: float = 0.6
    """Prioritization exponent (with ``prioritized``)."""
    beta: float = 0.4
    """Initial importance-sampling exponent (with ``prioritized``)."""
    epsilon: float = 0.1
    """Initial exploration rate on exploring seats."""
    mirror: bool = False
    """Also store every transition mirrored left to right (boards of shape (height, width, planes)
    with one action per column, as connect four, whose rules do not change under the mirror);
    the mirror images share ``buffer_size`` with the games as played."""
    device: str = "cpu"
    """Where the networks live: cpu, cuda, cuda:N, mps or auto (the best available)."""

    def __post_init__(self) -> None:
        self.hidden_sizes = hidden_sizes("hidden_sizes", self.hidden_sizes)
        self.conv_channels = hidden_sizes("conv_channels", self.conv_channels)
        positive_int("conv_kernel", self.conv_kernel)
        non_negative_int("conv_padding", self.conv_padding)
        number_in("lr", self.lr, 0.0, 1.0, low_open=True)
        number_in("gamma", self.gamma, 0.0, 1.0)
        positive_int("n_step", self.n_step)
        non_negative_int("target_update_freq", self.target_update_freq)
        boolean("double", self.double)
        boolean("dueling", self.dueling)
        positive_int("buffer_size", self.buffer_size)
        boolean("prioritized", self.prioritized)
        number_in("alpha", self.alpha, 0.0, 1.0, low_open=True)
        number_in("beta", self.beta, 0.0, 1.0)
        number_in("epsilon", self.epsilon, 0.0, 1.0)
        boolean("mirror", self.mirror)
        check_device("device", self.device)


@dataclass(kw_only=True)
class SearchSettings:
    """How an agent searches before each move."""

    simulations: int = 64
    """Simulations per move (each adds one position to the tree)."""
    play_simulations: int | None = None
    """Simulations per move when no row of the call explores (test rounds, evaluations, frozen
    snapshots); None: ``simulations``."""
    c_puct: float = 1.5
    """Weight of the prior against the mean value in PUCT."""
    dirichlet_alpha: float = 0.5
    """Concentration of the root noise on exploring seats."""
    noise_fraction: float = 0.25
    """Weight of the root noise on exploring seats (0: none)."""
    sample_moves: int = 8
    """Exploring seats draw their move in proportion to the visits while fewer than this many moves
    have been played in the game; afterwards, and on other seats, they play the most visited move."""
    random_moves: int = 0
    """Exploring seats play a uniformly random legal move while fewer than this many moves have been
    played in the game (the search still runs, and the learner stores its visit distribution as the
    target), so that training meets openings the learner would not choose; 0: none."""
    solver: bool = False
    """Prove wins, losses and draws the tree reaches and play by the proofs (MCTS-Solver): a move that
    wins at once is always played, one that lets the opponent win at once is avoided once seen."""
    trap_margin: float = 0.0
    """When it plays (rows that do not explore): among the root moves the search visited whose mean
    value is within this margin of the most visited move's, play the one that leaves the opponent the
    most room to go wrong, i.e. the best mean, over every reply the opponent has, of the position's
    value one move later (the network's value; a game's end exact). A search that assumes the best
    reply rates such moves alike (every tic-tac-toe opening draws); an opponent who errs errs more
    often after this one. Each such move is first searched on its own (``trap_check_simulations``),
    with the solver, and kept only if its value stays within the margin (a move the search hardly
    visited may hide a loss). 0: off, the most visited move."""
    trap_depth: int = 2
    """Opponent replies the ``trap_margin`` score looks through (the player taking its best move
    in between): the positions it reads grow as the number of moves to this power times two."""
    trap_check_simulations: int | None = None
    """Simulations of the search that checks each move ``trap_margin`` would play instead of the most
    visited one; None: as many as the move's own search."""

    def __post_init__(self) -> None:
        positive_int("simulations", self.simulations)
        if self.play_simulations is not None:
            positive_int("play_simulations", self.play_simulations)
        number_in("c_puct", self.c_puct, 0.0, 100.0, low_open=True)
        number_in("dirichlet_alpha", self.dirichlet_alpha, 0.0, 100.0, low_open=True)
        number_in("noise_fraction", self.noise_fraction, 0.0, 1.0)
        non_negative_int("sample_moves", self.sample_moves)
        non_negative_int("random_moves", self.random_moves)
        boolean("solver", self.solver)
        number_in("trap_margin", self.trap_margin, 0.0, 2.0)
        positive_int("trap_depth", self.trap_depth)
        if self.trap_check_simulations is not None:
            positive_int("trap_check_simulations", self.trap_check_simulations)


@dataclass(kw_only=True)
class PlanningConfig(SearchSettings):
    """Hyperparameters of a :class:`PlanningLearner`: its search (the fields of :class:`SearchSettings`),
    its network and its training."""

    channels: int = 64
    """Channels of the convolutional trunk (board observations); 0: an MLP of ``hidden`` units."""
    blocks: int = 2
    """Residual blocks of the convolutional trunk."""
    hidden: int = 128
    """Width of the value head (and of the MLP trunk)."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 1e-4
    """L2 penalty on the network's weights."""
    search_value_weight: float = 0.0
    """Weight of the search's value at the root in the value target of the positions it searched
    (the rest: the game's outcome for the mover); 0: the outcome alone, as AlphaZero."""
    buffer_size: int = 100_000
    """Positions the memory keeps (the oldest are dropped first)."""
    mirror: bool = True
    """Train on the left-right mirror image of half of each minibatch (games whose rules offer it)."""
    device: str = "cpu"
    """Where the network lives: cpu, cuda, cuda:N, mps or auto (the best available)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        non_negative_int("channels", self.channels)
        non_negative_int("blocks", self.blocks)
        positive_int("hidden", self.hidden)
        number_in("lr", self.lr, 0.0, 1.0, low_open=True)
        number_in("weight_decay", self.weight_decay, 0.0, 1.0)
        number_in("search_value_weight", self.search_value_weight, 0.0, 1.0)
        positive_int("buffer_size", self.buffer_size)
        boolean("mirror", self.mirror)
        check_device("device", self.device)

    def search(self) -> SearchSettings:
        """The search settings of this configuration (a copy)."""
        return SearchSettings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(SearchSettings)})


@dataclass(kw_only=True)
class PlanningOptions(PlanningConfig):
    """The planning learner for train (the ``[planning]`` table): AlphaZero-style search with a network."""

    enabled: bool = False
    """Train a planning learner instead of DQN (a [planning] table, or --learner planning, turns it on)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        boolean("enabled", self.enabled)

    def config(self) -> PlanningConfig:
        """The :class:`PlanningConfig` part."""
        return PlanningConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(PlanningConfig)})


@dataclass(kw_only=True)
class LeagueConfig:
    """Settings of a :class:`League`."""

    snapshot_every: int | None = 1000
    """Training episodes between two snapshots of the learner joining the pool (None: not by count)."""
    snapshot_score: float | None = None
    """Add a snapshot when the learner's score over the last score_window games reaches this (None: off)."""
    score_window: int = 200
    """Recent games kept per member for its score (and since the last snapshot for snapshot_score)."""
    max_snapshots: int = 8
    """Snapshots kept in the pool; the oldest is evicted (fixed opponents are never evicted)."""
    sampling: str = "pfsp"
    """How each game's opponents are drawn: uniform or pfsp (prioritised by how often they beat the learner)."""
    pfsp_power: float = 2.0
    """PFSP weight of a member: (1 - learner's smoothed score against it) ** pfsp_power."""
    self_play: float = 0.0
    """Chance that a pool seat gets the learner itself instead of a member (AlphaStar's main agents: 0.35)."""
    initial_snapshot: bool = True
    """A snapshot of the learner joins the pool when training starts."""
    seed: int | None = None
    """Seed of the opponent sampler (None: derived from the trainer's seed)."""

    def __post_init__(self) -> None:
        if self.snapshot_every is not None:
            positive_int("snapshot_every", self.snapshot_every)
        if self.snapshot_score is not None:
            number_in("snapshot_score", self.snapshot_score, 0.0, 1.0, low_open=True)
        positive_int("score_window", self.score_window)
        positive_int("max_snapshots", self.max_snapshots)
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {list(SAMPLINGS)}, got {self.sampling!r}")
        number_in("pfsp_power", self.pfsp_power, 0.0, 100.0)
        number_in("self_play", self.self_play, 0.0, 1.0)
        boolean("initial_snapshot", self.initial_snapshot)
        if self.seed is not None:
            non_negative_int("seed", self.seed)
        if self.snapshot_every is None and self.snapshot_score is None:
            raise ValueError("the league would never add a snapshot: set snapshot_every or snapshot_score")


@dataclass(kw_only=True)
class ScheduleConfig:
    """Exploration schedule and outputs of a ``train`` run."""

    eps_start: float = 1.0
    """Epsilon at the start of training."""
    eps_end: float = 0.05
    """Final epsilon."""
    eps_episodes: int = 1000
    """Episodes over which epsilon falls linearly from eps_start to eps_end."""
    checkpoint: str = "checkpoints/{game}_{learner}.pt"
    """Where the agents of the best test round go ({game}: the game name, {learner}: dqn or planning); the final
    ones: same name + _last."""

    def __post_init__(self) -> None:
        number_in("eps_start", self.eps_start, 0.0, 1.0)
        number_in("eps_end", self.eps_end, 0.0, 1.0)
        positive_int("eps_episodes", self.eps_episodes)
        if not isinstance(self.checkpoint, str) or not self.checkpoint:
            raise TypeError(f"checkpoint must be a non-empty path, got {self.checkpoint!r}")
        try:
            self.checkpoint.format(game="game", learner="learner")
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(
                f"checkpoint {self.checkpoint!r} is not a valid path template ({type(err).__name__}: {err}); "
                "the fields it may use are {game} and {learner} (write {{ and }} for literal braces)"
            ) from None


@dataclass(kw_only=True)
class LeagueOptions(LeagueConfig):
    """League self-play for train: the learner against frozen snapshots of itself and fixed opponents."""

    enabled: bool = False
    """Train in a league instead of plain self-play (a [league] table turns it on unless enabled = false)."""
    opponents: tuple[str, ...] = ("random",)
    """Fixed pool members: baselines (random, minimax, strong, opportunist, negamax[:DEPTH], astar, mcts[:N]) or
    checkpoint paths."""

    def __post_init__(self) -> None:
        super().__post_init__()
        boolean("enabled", self.enabled)
        if isinstance(self.opponents, str) or not all(isinstance(o, str) and o for o in self.opponents):
            raise TypeError(f'opponents must be a list of agent specs (e.g. ["random"]), got {self.opponents!r}')
        self.opponents = tuple(self.opponents)

    def config(self) -> LeagueConfig:
        """The :class:`~rbtrainer.league.LeagueConfig` part."""
        return LeagueConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(LeagueConfig)})


@dataclass(kw_only=True)
class Opponent:
    """A fixed opponent of an :class:`OpponentMix`, met with the learner in either seat."""

    spec: str
    """Agent spec: a baseline (random, minimax, strong, opportunist, negamax[:DEPTH], mcts[:N]) or a checkpoint path."""
    epsilon: float = 0.0
    """Chance of a random legal move instead of the opponent's own (a noisy opponent; 0: none)."""
    first: float = 1.0
    """Share of the envs where the learner takes the first seat against it (0: none)."""
    second: float = 1.0
    """Share of the envs where the learner takes the second seat against it (0: none)."""

    def __post_init__(self) -> None:
        if not isinstance(self.spec, str) or not self.spec:
            raise TypeError(f"spec must be an agent spec such as 'random', got {self.spec!r}")
        number_in("epsilon", self.epsilon, 0.0, 1.0)
        number_in("first", self.first, 0.0, 1e6)
        number_in("second", self.second, 0.0, 1e6)


@dataclass(kw_only=True)
class OpponentMix:
    """The ``[opponents]`` table: env groups of the learner against fixed opponents beside self-play.

    Two-seat games only. Each opponent plays in two groups, the learner first and the learner
    second, with the shares ``first`` and ``second``; the learner learns in its own seat there.
    Opponent ``k``'s agents are seeded ``1000 * seed + 1, + 2, ...`` in order (its noise after it).
    """

    self_play: float = 1.0
    """Share of the envs where the learner takes both seats (0: none)."""
    against: tuple[Opponent, ...] = ()
    """The fixed opponents, e.g. [{ spec = "minimax", epsilon = 0.3, first = 2.0, second = 2.0 }]."""

    def __post_init__(self) -> None:
        number_in("self_play", self.self_play, 0.0, 1e6)
        if isinstance(self.against, (str, Mapping)) or not isinstance(self.against, (list, tuple)):
            raise TypeError(f"against must be a list of opponent tables, got {self.against!r}")
        opponents = []
        for k, entry in enumerate(self.against):
            if isinstance(entry, Opponent):
                opponents.append(entry)
                continue
            if not isinstance(entry, Mapping):
                raise TypeError(f"against[{k}] must be a table such as {{ spec = 'random' }}, got {entry!r}")
            refuse_unknown_keys(Opponent, entry, f"against[{k}]")
            try:
                opponents.append(Opponent(**entry))
            except TypeError as err:
                raise TypeError(f"against[{k}]: {err}") from None
        self.against = tuple(opponents)
        if self.against and self.self_play + sum(o.first + o.second for o in self.against) <= 0:
            raise ValueError("the opponent mix gives no env a share: make self_play, first or second positive")

    @property
    def enabled(self) -> bool:
        """Whether the mix names any opponent (otherwise the run is plain self-play)."""
        return bool(self.against)


def read_toml(path: str | os.PathLike[str], where: str | None = None) -> dict[str, Any]:
    """A config file's TOML, its errors as one-line ``ValueError`` naming the file (or ``where``)."""
    where = where or f"--config {os.fspath(path)}"
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{where}: {err}") from None
    except OSError as err:
        raise ValueError(f"{where}: cannot read it ({err.strerror or err})") from None


def parse_env_pair(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` (a game argument given on the command line) as ``(key, value)``; VALUE is a
    Python literal or, failing that, a bare word (a string)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--env expects KEY=VALUE, got {text!r}")
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value  # a bare word is a string
    return key.strip(), parsed


DEFAULT_PANELS: dict[str, tuple[str, ...]] = {
    "tictactoe": ("random", "minimax"),
    "connect_four": ("random", "strong"),
}
"""The panel a constant-sum registry game gets by default in self-play: random play and the
strongest built-in baseline that keeps a test round short (for connect four the rule-based
``strong`` bot; ``negamax:4`` rates higher but costs several seconds a round)."""


def default_panel(game_name: str) -> tuple[str, ...] | None:
    """The default panel of a registry game (``None``: it has none)."""
    return DEFAULT_PANELS.get(game_name)


@dataclass(kw_only=True)
class PanelConfig:
    """An evaluation panel: which opponents, how many games, and whether its score is the metric."""

    opponents: tuple[str, ...]
    """Agent specs of the opponents (as ``rbtrainer eval --agents`` takes them)."""
    games_per_seat: int = 50
    """Games of each learner against each opponent in each seat assignment, every test round."""
    seed: int = 0
    """Seed of the opponents' generators (reseeded every round)."""
    metric: bool = True
    """The learners' mean panel score is the test round's metric (best, stop hooks, curves); ``False``:
    the panel is reported beside the reward metric."""

    def __post_init__(self) -> None:
        if isinstance(self.opponents, str) or not isinstance(self.opponents, Sequence):
            raise TypeError(
                f"opponents must be a list of agent specs, e.g. ['random', 'minimax'], got {self.opponents!r}"
            )
        self.opponents = tuple(self.opponents)
        if not self.opponents:
            raise ValueError("opponents is empty: name at least one agent spec, e.g. ['random']")
        for spec in self.opponents:
            if not isinstance(spec, str) or not spec:
                raise TypeError(f"every opponent must be a non-empty agent spec string, got {spec!r}")
        if len(set(self.opponents)) != len(self.opponents):
            raise ValueError(f"opponents {list(self.opponents)} name a spec twice; name each once")
        positive_int("games_per_seat", self.games_per_seat)
        non_negative_int("seed", self.seed)
        boolean("metric", self.metric)


@dataclass(kw_only=True)
class PanelOptions:
    """The evaluation panel every test round plays the learner against (the ``[panel]`` table;
    :mod:`rbtrainer.evaluation.panel`)."""

    opponents: tuple[str, ...] = ()
    """Agent specs as 'rbtrainer eval --agents' takes them; empty: the game's default panel (random plus its
    strongest quick baseline: tic-tac-toe minimax, connect-four strong), none for other games."""
    games_per_seat: int = 50
    """Games against each opponent from each seat, every test round."""
    seed: int = 0
    """Seed of the opponents' generators."""
    metric: bool = True
    """The panel score is the test rounds' metric (the best checkpoint is the best-scoring round)."""
    off: bool = False
    """No panel at all: test rounds use the mean return over all seats."""

    def __post_init__(self) -> None:
        if isinstance(self.opponents, str):
            raise TypeError(f"opponents must be a list of agent specs, got {self.opponents!r}")
        self.opponents = tuple(self.opponents)
        boolean("off", self.off)
        if self.off and self.opponents:
            raise ValueError("[panel] off = true leaves no panel; drop opponents or off")
        if self.opponents:  # the list of specs (each spec is checked against the game when a run starts)
            PanelConfig(opponents=self.opponents)
        positive_int("games_per_seat", self.games_per_seat)
        non_negative_int("seed", self.seed)
        boolean("metric", self.metric)

    def config(self, game: str) -> PanelConfig | Literal[False] | None:
        """The trainer's ``panel`` setting for ``game``: off, the given opponents, its default panel, or none."""
        if self.off:
            return False
        opponents = self.opponents or default_panel(game)
        if not opponents:
            return None
        return PanelConfig(opponents=opponents, games_per_seat=self.games_per_seat, seed=self.seed, metric=self.metric)


TABLE_CLASSES: dict[str, type] = {
    "trainer": TrainerConfig,
    "dqn": DQNConfig,
    "planning": PlanningOptions,
    "schedule": ScheduleConfig,
    "league": LeagueOptions,
    "opponents": OpponentMix,
    "panel": PanelOptions,
}


def refuse_unknown_keys(cls: type, table: Mapping[str, Any], what: str) -> None:
    """``ValueError`` naming ``what``, the keys of ``table`` that ``cls`` has no field for, and its fields."""
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ValueError(f"{what} has unknown key(s) {unknown}; its keys are {known}")


def checked_table(name: str, table: Mapping[str, Any], where: str) -> Any:
    """The dataclass of table ``name`` built from ``table``; errors name the table and the key."""
    cls = TABLE_CLASSES[name]
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: [{name}] must be a table")
    refuse_unknown_keys(cls, table, f"{where}: [{name}]")
    try:
        return cls(**copy.deepcopy(dict(table)))
    except (ValueError, TypeError) as err:
        raise ValueError(f"{where}: [{name}] {err}") from None


def table_values(obj: Any) -> dict[str, Any]:
    """A checked table as plain values (the opponent mix's opponents as tables)."""
    if isinstance(obj, OpponentMix):
        return {"self_play": obj.self_play, "against": [dataclasses.asdict(o) for o in obj.against]}
    return _fields(obj)


def check_train_tables(tables: Mapping[str, Mapping[str, Any]], where: str) -> dict[str, dict[str, Any]]:
    """The ``[trainer]``, ``[dqn]`` and ``[schedule]`` tables (and ``[league]``, ``[opponents]`` when
    there) checked by their dataclasses, with every field; other tables are copied as they are."""
    out = {name: dict(table) for name, table in tables.items()}
    for name in TABLE_CLASSES:
        if name in ("trainer", "dqn", "schedule") or name in tables:
            out[name] = table_values(checked_table(name, tables.get(name, {}), where))
    return out


def read_tables(path: str | os.PathLike[str], where: str | None = None) -> dict[str, dict[str, Any]]:
    """The tables of the recipe file at ``path``, each checked by its dataclass (every table in the
    result: empty ``[env]``, defaults elsewhere; a ``[league]`` table has ``enabled`` true unless it
    says otherwise)."""
    where = where or f"--config {os.fspath(path)}"
    data = read_toml(path, where)
    unknown = sorted(set(data) - set(TABLES))
    if unknown:
        raise ValueError(f"{where}: unknown table(s) {unknown}; use {sorted(TABLES)}")
    tables: dict[str, dict[str, Any]] = {name: {} for name in TABLES}
    for name, table in data.items():
        if not isinstance(table, dict):
            raise ValueError(f"{where}: [{name}] must be a table")
        tables[name] = table
    for name in ("league", "planning"):  # the table turns it on
        if name in data:
            tables[name] = {"enabled": True, **data[name]}
    return check_train_tables(tables, where)


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
