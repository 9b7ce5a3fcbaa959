"""Hyper-parameter search on Optuna over the settings of a ``rbtrainer train`` run.

A search file is a ``train`` config (tables ``[env]``, ``[trainer]``, ``[dqn]``, ``[schedule]``:
the fixed settings) plus a ``[search]`` table (:class:`SearchSettings`) and a ``[space]`` table
naming what varies, one entry per setting::

    [space.dqn]
    lr = { low = 1e-4, high = 1e-2, log = true }
    hidden_sizes = { choices = [[32, 32], [64, 64]] }
    [space.schedule]
    eps_episodes = { low = 100, high = 600, step = 100 }   # ints: low, high and step are ints

Each trial trains self-play DQN exactly as ``rbtrainer train`` would with the trial's settings,
reports its fitness at every test round (Optuna's pruners stop weak trials there) and is scored by
``fitness_fn(config, stats)`` after training. ``prune_fn(config)`` runs before training: a config
it rejects scores ``-inf`` without training. With ``test = true`` a trial returns a cheap synthetic
fitness computed from its settings, to check a search set-up end to end in seconds.

The best trial's settings are written as a TOML file that ``rbtrainer train --config`` accepts,
with a figure of fitness over trials. Optuna is the ``search`` extra.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rbtrainer.epoch_callbacks import EpochStopCallback, TrainerCallbacks, TrainingContext
from rbtrainer.validation import non_negative_int, positive_int

if TYPE_CHECKING:
    import optuna

    from rbtrainer.agents.base import Agent
    from rbtrainer.trainer import DecentralizedTrainer, TrainStats

__all__ = ["Param", "SearchResult", "SearchSettings", "SearchSpec", "load_search", "run_search", "train_trial"]

logger = logging.getLogger(__name__)

Config = dict[str, dict[str, Any]]
"""A ``train`` config: table name -> settings."""
FitnessFn = Callable[[Config, "TrainStats"], float]
PruneFn = Callable[[Config], bool]

_TRAIN_TABLES = ("env", "trainer", "dqn", "schedule")
_SAMPLERS = ("tpe", "random")
_PRUNERS = ("none", "median", "halving", "hyperband")


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ImportError("rbtrainer search needs Optuna: pip install 'rbtrainer[search]'") from None
    return optuna


@dataclass(kw_only=True)
class SearchSettings:
    """The ``[search]`` table."""

    trials: int = 20
    """Trials to run (with ``jobs`` > 1: in total, over all processes)."""
    jobs: int = 1
    """Processes running trials side by side (they share ``storage``; a temporary SQLite file without one)."""
    sampler: str = "tpe"
    """Optuna sampler: ``tpe`` or ``random`` (seeded by ``seed``)."""
    pruner: str = "hyperband"
    """Optuna pruner: ``none``, ``median``, ``halving`` (successive halving) or ``hyperband``."""
    seed: int = 0
    """Seed of the sampler; trial k trains with seed ``seed + k`` (written into the best config)."""
    storage: str | None = None
    """Optuna storage URL (e.g. ``sqlite:///search.db`` or a PostgreSQL URL shared by several machines)."""
    study_name: str = "rbtrainer-search"
    """Study in ``storage``; runs with the same name and storage add trials to one study."""
    fitness: str = "best_reward_metric"
    """``best_reward_metric``, or ``score_vs:SPEC``: the learner's score (win 1, draw 1/2) against an
    agent spec (``random``, ``minimax``, ``strong``, ``negamax:D``, ``astar``) over every seat."""
    fitness_games: int = 50
    """Games per seat order for ``score_vs`` (at every test round and after training)."""
    test: bool = False
    """A synthetic fitness from the settings, no training (checks a search set-up in seconds)."""
    out_dir: str = "search"
    """Where the best config (``best.toml``) and the figure (``fitness.png``) go."""

    def __post_init__(self) -> None:
        positive_int("trials", self.trials)
        positive_int("jobs", self.jobs)
        non_negative_int("seed", self.seed)
        positive_int("fitness_games", self.fitness_games)
        if self.sampler not in _SAMPLERS:
            raise ValueError(f"sampler must be one of {list(_SAMPLERS)}, got {self.sampler!r}")
        if self.pruner not in _PRUNERS:
            raise ValueError(f"pruner must be one of {list(_PRUNERS)}, got {self.pruner!r}")
        if self.fitness != "best_reward_metric" and not self.fitness.startswith("score_vs:"):
            raise ValueError(f"fitness must be 'best_reward_metric' or 'score_vs:SPEC', got {self.fitness!r}")
        for name in ("study_name", "out_dir"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise TypeError(f"{name} must be a non-empty string, got {getattr(self, name)!r}")
        if self.storage is not None and (not isinstance(self.storage, str) or "://" not in self.storage):
            raise ValueError(
                f"storage must be an Optuna storage URL such as 'sqlite:///search.db', got {self.storage!r}"
            )
        if not isinstance(self.test, bool):
            raise TypeError(f"test must be true or false, got {self.test!r}")


@dataclass(frozen=True)
class Param:
    """One setting that varies: a float or int range, or a list of choices."""

    table: str
    key: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] | None = None

    @property
    def name(self) -> str:
        return f"{self.table}.{self.key}"

    @property
    def is_int(self) -> bool:
        return self.choices is None and all(isinstance(v, int) for v in (self.low, self.high, self.step or 1))

    @classmethod
    def from_toml(cls, table: str, key: str, spec: Any) -> Param:
        where = f"[space.{table}] {key}"
        if not isinstance(spec, Mapping):
            raise ValueError(f"{where} must be a table such as {{ low = 1e-4, high = 1e-2, log = true }}")
        unknown = sorted(set(spec) - {"low", "high", "log", "step", "choices"})
        if unknown:
            raise ValueError(f"{where} has unknown key(s) {unknown}; use low/high/log/step or choices")
        if "choices" in spec:
            if set(spec) != {"choices"} or not isinstance(spec["choices"], list) or not spec["choices"]:
                raise ValueError(f"{where}: choices must be a non-empty list, alone")
            return cls(table, key, choices=tuple(_hashable(c) for c in spec["choices"]))
        if "low" not in spec or "high" not in spec:
            raise ValueError(f"{where} needs low and high (or choices)")
        low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
        for name, value in (("low", low), ("high", high), ("step", step)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"{where}: {name} must be a number, got {value!r}")
        if not low < high:
            raise ValueError(f"{where}: low must be below high, got {low} and {high}")
        if not isinstance(log, bool) or (log and (low <= 0 or step is not None)):
            raise ValueError(f"{where}: log = true needs low > 0 and no step")
        if step is not None and step <= 0:
            raise ValueError(f"{where}: step must be positive, got {step}")
        return cls(table, key, low=low, high=high, log=log, step=step)

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.choices is not None:
            index = trial.suggest_categorical(self.name, list(range(len(self.choices))))
            return _plain(self.choices[index])
        if self.is_int:
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)  # type: ignore[arg-type]
        return trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step, log=self.log)  # type: ignore[arg-type]

    @property
    def ends(self) -> tuple[Any, Any]:
        """The lowest and highest value the parameter takes (choices: the first and last)."""
        if self.choices is not None:
            return _plain(self.choices[0]), _plain(self.choices[-1])
        return self.low, self.high

    def position(self, value: Any) -> float:
        """Where ``value`` lies in the range, 0..1 (choices: its index share); for the test fitness."""
        if self.choices is not None:
            return self.choices.index(_hashable(value)) / max(1, len(self.choices) - 1)
        low, high, v = float(self.low), float(self.high), float(value)  # type: ignore[arg-type]
        if self.log:
            low, high, v = math.log(low), math.log(high), math.log(v)
        return (v - low) / (high - low)


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@dataclass
class SearchSpec:
    """A search file read: its settings, the fixed ``train`` config and the settings that vary."""

    settings: SearchSettings
    base: Config
    space: list[Param]

    def config(self, params: Mapping[str, Any]) -> Config:
        """The ``train`` config of a trial: ``base`` with ``params`` (``"table.key" -> value``) set."""
        tables = {name: dict(self.base.get(name, {})) for name in _TRAIN_TABLES}
        for name, value in params.items():
            table, _, key = name.partition(".")
            tables[table][key] = value
        return tables


def load_search(path: str | os.PathLike[str], **overrides: Any) -> SearchSpec:
    """Read a search file (see the module docstring); ``overrides`` replace ``[search]`` settings.

    Everything a trial would refuse is refused here, naming the file and the table: the settings of every
    trial's end of each range and of every choice, and the agent spec of a ``score_vs:SPEC`` fitness
    (against the game of each of those trials).
    """
    from rbtrainer.recipes import check_train_tables, read_toml

    data = read_toml(path)
    unknown = sorted(set(data) - {"search", "space", *_TRAIN_TABLES})
    if unknown:
        raise ValueError(f"--config {path}: unknown table(s) {unknown}; use search, space, {', '.join(_TRAIN_TABLES)}")
    try:
        settings = SearchSettings(**{**data.get("search", {}), **overrides})
    except TypeError as err:
        raise ValueError(f"--config {path}: [search] {err}") from None
    space: list[Param] = []
    for table, entries in data.get("space", {}).items():
        if table not in ("trainer", "dqn", "schedule", "env") or not isinstance(entries, Mapping):
            raise ValueError(f"--config {path}: [space.{table}] must name a table of {list(_TRAIN_TABLES)}")
        space += [Param.from_toml(table, key, spec) for key, spec in entries.items()]
    if not space:
        raise ValueError(f"--config {path}: [space] names no setting to search")
    train_file = {name: data[name] for name in _TRAIN_TABLES if name in data}
    spec = SearchSpec(settings, {name: dict(t) for name, t in train_file.items()}, space)
    # every trial's settings are train settings (both ends of each range, every choice), and every agent
    # spec the file names plays the game of each of those trials
    configs = [spec.config({p.name: p.ends[end] for p in space}) for end in (0, -1)]
    configs += [spec.config({p.name: _plain(choice)}) for p in space for choice in p.choices or ()]
    for config in configs:
        check_train_tables(config, f"--config {path}")
    envs = [config["env"] for config in configs]
    _check_agent_specs(spec.settings, envs, f"--config {path}")
    return spec


def _check_agent_specs(settings: SearchSettings, envs: list[dict[str, Any]], where: str) -> None:
    """Every agent spec of the search (the ``score_vs:SPEC`` fitness) names an agent that plays the game of
    every ``[env]`` table a trial can have, so a bad spec is found when the file loads, not in trial 0."""
    from rbtrainer.evaluation import agent_from_spec
    from rbtrainer.trainer import DecentralizedTrainer

    kind, _, agent = settings.fitness.partition(":")
    if kind != "score_vs":
        return
    seen: list[dict[str, Any]] = []
    for env in envs:
        if env in seen:
            continue
        seen.append(env)
        try:
            trainer = DecentralizedTrainer(env, progress_bar=False)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: [env] {env}: {err}") from None
        with trainer:
            try:
                agent_from_spec(agent, trainer, seed=0)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{where}: [search] fitness = {settings.fitness!r}: {err}") from None


@dataclass
class SearchResult:
    """What a search found."""

    best_value: float
    best_params: dict[str, Any]
    best_config: Config
    config_path: str
    """The best config as TOML (``rbtrainer train --config`` accepts it)."""
    plot_path: str
    """Fitness over trials."""
    trials: list[tuple[int, str, float | None]] = field(default_factory=list)
    """(number, state, value) of every trial of the study."""


class _Reporter(EpochStopCallback):
    """Reports the fitness at each test round to Optuna; asks training to stop when the trial is pruned."""

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial, self.pruned = trial, False
        #: the trial's fitness measure at a test round (set by :func:`train_trial`; None: the reward metric)
        self.measure: Callable[[TrainingContext], float] | None = None
        self.rounds = 0
        """Test rounds reported so far."""

    def should_stop(self, reward_metric: float, context: TrainingContext) -> bool:
        value = reward_metric if self.measure is None else self.measure(context)
        # The step is the round's scheduled episode count, the same in every trial with this test_freq:
        # a round runs once a phase has passed it, at an episode count that differs from trial to trial,
        # and pruners such as the median pruner compare trials only at equal steps.
        self.trial.report(value, step=self.rounds * context.trainer.config.test_freq)
        self.rounds += 1
        self.pruned = self.trial.should_prune()
        return self.pruned


def _score_vs(trainer: DecentralizedTrainer, agent: Agent, spec: str, games: int, seed: int) -> float:
    from rbtrainer.evaluation import agent_from_spec, tournament

    opponent = agent_from_spec(spec, trainer, seed=seed)
    return float(
        tournament(trainer, {"learner": agent, "opponent": opponent}, games, seed=seed).entrant("learner").score
    )


def train_trial(
    config: Config, settings: SearchSettings, reporter: _Reporter | None = None
) -> tuple[TrainStats, float]:
    """Train ``config`` as ``rbtrainer train`` would (its :class:`~rbtrainer.recipes.Recipe`, no files
    written); returns its stats and fitness measure."""
    from rbtrainer.recipes import Recipe

    recipe = Recipe.from_tables(config, "trial", trainer={"progress_bar": False})
    with recipe.build() as run:
        trainer, agents = run.trainer, run.agents
        seed = trainer.seed  # the config's seed (the agents' seed too)
        spec = settings.fitness.partition(":")[2]

        def measure(context: TrainingContext) -> float:
            if not spec:
                return context.stats.reward_metric_history[-1]
            return _score_vs(trainer, agents[0], spec, settings.fitness_games, seed)

        if reporter is not None:
            reporter.measure = measure
            trainer.callbacks = TrainerCallbacks(epoch_stop_callback=reporter)
        stats = run.train(plot=False)
        final = (
            stats.best_reward_metric if not spec else _score_vs(trainer, agents[0], spec, settings.fitness_games, seed)
        )
    return stats, final


def _test_fitness(spec: SearchSpec, params: Mapping[str, Any], trial: optuna.Trial) -> float:
    """A cheap fitness from the settings alone: best at 0.3 of every range, with intermediate reports."""
    distance = sum((p.position(params[p.name]) - 0.3) ** 2 for p in spec.space)
    for step in range(1, 5):
        trial.report(-distance * (1 + 1 / step), step=step)
        if trial.should_prune():
            raise _optuna().TrialPruned()
    return -distance


def _objective(spec: SearchSpec, fitness_fn: FitnessFn | None, prune_fn: PruneFn | None) -> Callable[[Any], float]:
    optuna = _optuna()

    def objective(trial: Any) -> float:  # an optuna.Trial
        params = {p.name: p.suggest(trial) for p in spec.space}
        config = spec.config(params)
        config["trainer"]["seed"] = spec.settings.seed + trial.number  # written with the best config: reproducible
        if prune_fn is not None:
            verdict = prune_fn(config)
            if not isinstance(verdict, (bool, np.bool_)):
                raise TypeError(f"prune_fn must return True or False, got {verdict!r}")
            if verdict:
                trial.set_user_attr("pruned_before_training", True)
                return -math.inf
        if spec.settings.test:
            return _test_fitness(spec, params, trial)
        reporter = _Reporter(trial)
        stats, measured = train_trial(config, spec.settings, reporter)
        if reporter.pruned:
            raise optuna.TrialPruned()
        value = measured if fitness_fn is None else fitness_fn(config, stats)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"fitness_fn must return a number, got {value!r}")
        return float(value)

    return objective


def _study(settings: SearchSettings, storage: str | None) -> optuna.Study:
    optuna = _optuna()
    sampler = (
        optuna.samplers.TPESampler(seed=settings.seed)
        if settings.sampler == "tpe"
        else optuna.samplers.RandomSampler(seed=settings.seed)
    )
    pruner = {
        "none": optuna.pruners.NopPruner,
        "median": optuna.pruners.MedianPruner,
        "halving": optuna.pruners.SuccessiveHalvingPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
    }[settings.pruner]()
    return optuna.create_study(
        study_name=settings.study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="maximize",
        load_if_exists=True,
    )


def _default_params(spec: SearchSpec) -> dict[str, Any]:
    """The searched settings as the file (or the config classes' defaults) sets them, where in the space."""
    from rbtrainer.agents import DQNConfig
    from rbtrainer.recipes import ScheduleConfig
    from rbtrainer.trainer import TrainerConfig

    classes: dict[str, Any] = {"trainer": TrainerConfig, "dqn": DQNConfig, "schedule": ScheduleConfig}
    out: dict[str, Any] = {}
    for p in spec.space:
        table = spec.base.get(p.table, {})
        if p.key in table:
            value = table[p.key]
        elif p.table in classes:
            value = {f.name: f.default for f in dataclasses.fields(classes[p.table])}.get(p.key)
        else:
            continue
        if p.choices is not None:
            if _hashable(value) in p.choices:
                out[p.name] = p.choices.index(_hashable(value))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and p.low <= value <= p.high:  # type: ignore[operator]
            out[p.name] = value
    return out


def _worker(spec: SearchSpec, storage: str, trials: int, job: int) -> None:
    """One process of a parallel search (its own sampler seed, the shared storage)."""
    settings = dataclasses.replace(spec.settings, seed=spec.settings.seed + 7919 * job)
    _study(settings, storage).optimize(_objective(spec, None, None), n_trials=trials)


def run_search(spec: SearchSpec, fitness_fn: FitnessFn | None = None, prune_fn: PruneFn | None = None) -> SearchResult:
    """Run the search; returns the best trial, writes ``best.toml`` and ``fitness.png`` under ``out_dir``.

    ``fitness_fn(config, stats) -> float`` replaces the ``[search] fitness`` measure;
    ``prune_fn(config) -> bool`` rejects configs before training (they score ``-inf``). Both run
    in this process only, so they need ``jobs = 1``.
    """
    optuna = _optuna()
    settings = spec.settings
    if settings.jobs > 1 and (fitness_fn is not None or prune_fn is not None):
        raise ValueError("fitness_fn and prune_fn run in this process only: use jobs = 1 with them")
    os.makedirs(settings.out_dir, exist_ok=True)
    storage = settings.storage
    if settings.jobs > 1 and storage is None:
        storage = f"sqlite:///{os.path.abspath(os.path.join(settings.out_dir, 'study.db'))}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _study(settings, storage)
    enqueued = not study.trials
    if enqueued:  # trial 0 of a new study: the file's own settings, so the best is never worse
        study.enqueue_trial(_default_params(spec))
    if settings.jobs == 1:
        study.optimize(_objective(spec, fitness_fn, prune_fn), n_trials=settings.trials)
    else:
        trials = settings.trials
        if enqueued:
            # Optuna's RDB storage can hand one waiting (enqueued) trial to two processes that start
            # at once: both run it and the study ends a trial short. The enqueued trial runs here,
            # before the processes start (tests/test_search.py, the parallel SQLite study).
            study.optimize(_objective(spec, None, None), n_trials=1)
            trials -= 1
        shares = [trials // settings.jobs + (j < trials % settings.jobs) for j in range(settings.jobs)]
        context = multiprocessing.get_context("spawn")
        workers = [context.Process(target=_worker, args=(spec, storage, n, j)) for j, n in enumerate(shares) if n]
        for process in workers:
            process.start()
        for process in workers:
            process.join()
        failed = [p.exitcode for p in workers if p.exitcode != 0]
        if failed:
            raise RuntimeError(f"{len(failed)} search process(es) failed (exit codes {failed}); see their output")
        study = _study(settings, storage)
    return _result(spec, study)


def _result(spec: SearchSpec, study: optuna.Study) -> SearchResult:
    import tomli_w

    from rbtrainer.files import atomic_write
    from rbtrainer.plotting import plot_search

    optuna = _optuna()
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"no trial of study {spec.settings.study_name!r} completed (all pruned or failed)")
    best = max(complete, key=lambda t: t.value if t.value is not None else -math.inf)
    params = {p.name: _plain(p.choices[best.params[p.name]]) if p.choices else best.params[p.name] for p in spec.space}
    config = spec.config(params)
    config["trainer"]["seed"] = spec.settings.seed + best.number  # the seed the trial trained with
    path = os.path.join(spec.settings.out_dir, "best.toml")
    with atomic_write(path) as handle:
        handle.write(
            f"# best trial {best.number} of study {spec.settings.study_name!r}: fitness {best.value}\n".encode()
        )
        handle.write(tomli_w.dumps({name: table for name, table in config.items() if table}).encode())
    trials = [(t.number, t.state.name, t.value) for t in study.trials]
    last_reported = {  # where a pruned trial stood when Optuna pruned it: its last reported value
        t.number: t.intermediate_values[max(t.intermediate_values)]
        for t in study.trials
        if t.state == optuna.trial.TrialState.PRUNED and t.intermediate_values
    }
    plot = plot_search(
        os.path.join(spec.settings.out_dir, "fitness.png"), trials, spec.settings.study_name, last_reported
    )
    return SearchResult(float(best.value if best.value is not None else -math.inf), params, config, path, plot, trials)
