"""Hyper-parameter search on Optuna: search files, pruning, test mode, parallel processes, the CLI."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from rbtrainer.cli import main
from rbtrainer.recipes import read_tables
from rbtrainer.search import Param, SearchSettings, load_search, run_search, train_trial

pytest.importorskip("optuna")

ROOT = Path(__file__).resolve().parents[1]
TICTACTOE = ROOT / "configs" / "search_tictactoe.toml"

TEST_SEARCH = """
[search]
trials = {trials}
test = true
seed = 3
{extra}
[env]
game = "tictactoe"

[dqn]
hidden_sizes = [16]

[space.dqn]
lr = {{ low = 1e-4, high = 1e-2, log = true }}
hidden_sizes = {{ choices = [[16], [32, 32]] }}
[space.trainer]
batch_size = {{ low = 16, high = 128, step = 16 }}
"""


def search_file(tmp_path: Path, trials: int = 12, extra: str = 'pruner = "hyperband"') -> Path:
    path = tmp_path / "search.toml"
    path.write_text(TEST_SEARCH.format(trials=trials, extra=extra))
    return path


def test_test_mode_runs_a_search_end_to_end_in_seconds(tmp_path) -> None:
    spec = load_search(search_file(tmp_path), out_dir=str(tmp_path / "out"))
    result = run_search(spec)
    states = [state for _, state, _ in result.trials]
    assert len(states) == 12 and states.count("COMPLETE") >= 2
    assert result.best_value == max(v for _, s, v in result.trials if s == "COMPLETE")
    # trial 0 is the file's own settings (hidden [16]; lr and batch_size from DQNConfig / TrainerConfig)
    assert result.trials[0][1] == "COMPLETE"
    written = read_tables(result.config_path)  # a config 'rbtrainer train --config' accepts
    assert written["dqn"]["lr"] == pytest.approx(result.best_params["dqn.lr"])
    assert list(written["dqn"]["hidden_sizes"]) == result.best_params["dqn.hidden_sizes"]
    assert written["trainer"]["batch_size"] % 16 == 0 and Path(result.plot_path).stat().st_size > 0


def test_prune_fn_scores_minus_inf_without_training_and_fitness_fn(tmp_path) -> None:
    trained: list[float] = []

    def fitness(config, stats) -> float:
        trained.append(config["trainer"]["batch_size"])
        return -config["dqn"]["lr"]

    spec = load_search(search_file(tmp_path, trials=6, extra='pruner = "none"'), out_dir=str(tmp_path / "out"))
    spec.settings.test = False
    spec.base["trainer"] = {"episodes_per_train": 4, "test_freq": 4, "num_train_envs": 2, "num_test_envs": 2,
                            "episodes_per_test": 2, "update_freq": 8}  # fmt: skip
    result = run_search(spec, prune_fn=lambda config: config["trainer"]["batch_size"] > 64, fitness_fn=fitness)
    values = [value for _, state, value in result.trials if state == "COMPLETE"]
    assert len(values) == 6
    rejected = values.count(-math.inf)
    assert 0 < rejected < 6 and len(trained) == 6 - rejected and all(size <= 64 for size in trained)
    assert result.best_config["trainer"]["batch_size"] <= 64 and result.best_value == -result.best_params["dqn.lr"]
    with pytest.raises(TypeError, match="prune_fn must return True or False"):
        run_search(load_search(search_file(tmp_path, trials=1), study_name="x"), prune_fn=lambda config: "no")


def test_a_real_search_of_tictactoe_dqn_with_pruning(tmp_path) -> None:
    spec = load_search(TICTACTOE, out_dir=str(tmp_path))
    result = run_search(spec)
    states = [state for _, state, _ in result.trials]
    assert len(states) == 8 and "PRUNED" in states
    default = result.trials[0]
    assert default[1] == "COMPLETE" and result.best_value >= default[2]  # never worse than the file's settings
    # the written best config trains again to the same fitness (its seed is in it)
    config = read_tables(result.config_path)
    config["env"] = dict(spec.base["env"])
    _, again = train_trial(config, spec.settings)
    assert again == pytest.approx(result.best_value)


def test_parallel_processes_share_one_sqlite_study(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    spec = load_search(search_file(tmp_path, trials=6), jobs=2, storage=storage, out_dir=str(tmp_path / "out"))
    result = run_search(spec)
    assert len(result.trials) == 6
    # a second run (another machine, say) adds its trials to the same study
    again = run_search(load_search(search_file(tmp_path, trials=4), storage=storage, out_dir=str(tmp_path / "o2")))
    assert len(again.trials) == 10 and again.best_value >= result.best_value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[space.dqn]\nlr = 3\n", r"\[space.dqn\] lr must be a table"),
        ("[space.dqn]\nlr = { low = 1, high = 0.1 }\n", "low must be below high"),
        ("[space.dqn]\nlr = { low = 0, high = 0.1, log = true }\n", "log = true needs low > 0"),
        ("[space.dqn]\nlr = { low = 0.1, high = 0.2, size = 3 }\n", r"unknown key\(s\) \['size'\]"),
        ("[space.dqn]\nbogus = { low = 0.1, high = 0.2 }\n", r"\[dqn\] has unknown key\(s\) \['bogus'\]"),
        ("[space.dqn]\nlr = { low = 2.0, high = 3.0 }\n", r"\[dqn\] lr must be in"),
        ("[space.dqn]\nlr = { low = 1e-4, high = 3.0 }\n", r"\[dqn\] lr must be in .* got 3\.0"),
        ("[space.dqn]\nhidden_sizes = { choices = [[16], [0]] }\n", r"hidden_sizes\[0\] must be a positive int"),
        ("[space.dqn]\n", r"\[space\] names no setting"),
        ("[searching]\n", r"unknown table\(s\) \['searching'\]"),
        ('[search]\npruner = "fast"\n[space.dqn]\nlr = { low = 1e-4, high = 1e-2 }\n', "pruner must be one of"),
        ('[search]\nstorage = "db.sqlite"\n[space.dqn]\nlr = { low = 1e-4, high = 1e-2 }\n', "storage must be"),
        ("[search]\ntrials = 0\n[space.dqn]\nlr = { low = 1e-4, high = 1e-2 }\n", "trials must be a positive int"),
    ],
)
def test_bad_search_files(tmp_path, text, message) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_search(path)


def test_missing_optuna_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r"needs Optuna: pip install 'rbtrainer\[search\]'"):
        run_search(load_search(search_file(tmp_path), out_dir=str(tmp_path)))


def test_cli_search(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = search_file(tmp_path)
    assert main(["search", "--config", str(path), "--trials", "5", "--out-dir", "found"]) == 0
    out = capsys.readouterr().out
    assert "5 trials:" in out and "best config: found/best.toml" in out
    with pytest.raises(SystemExit) as info:
        main(["search", "--config", str(tmp_path / "missing.toml")])
    assert info.value.code == 2 and "cannot read it" in capsys.readouterr().err


@pytest.mark.parametrize("config", sorted((ROOT / "configs").glob("search_*.toml")), ids=lambda p: p.name)
def test_example_search_configs_run_in_test_mode(config, tmp_path) -> None:
    result = run_search(load_search(config, test=True, trials=3, out_dir=str(tmp_path)))
    assert len(result.trials) == 3 and read_tables(result.config_path)["env"] == load_search(config).base["env"]


def test_param_positions_and_settings() -> None:
    assert Param("dqn", "lr", low=1e-4, high=1e-2, log=True).position(1e-3) == pytest.approx(0.5)
    assert Param.from_toml("trainer", "batch_size", {"low": 16, "high": 64, "step": 16}).is_int
    with pytest.raises(ValueError, match="fitness must be"):
        SearchSettings(fitness="elo")


def test_the_figure_draws_pruned_trials_where_optuna_pruned_them(tmp_path, monkeypatch) -> None:
    """A pruned trial is drawn at the last value it reported (not at an invented fitness); one that reported
    nothing is counted in the title."""
    import rbtrainer.plotting as plotting

    seen: dict[str, object] = {}
    real = plotting.plot_search

    def recording(path, trials, name, last_reported=None):
        seen.update(trials=trials, last_reported=last_reported)
        return real(path, trials, name, last_reported)

    monkeypatch.setattr(plotting, "plot_search", recording)
    result = run_search(load_search(search_file(tmp_path), out_dir=str(tmp_path)))
    pruned = {n for n, state, _ in result.trials if state == "PRUNED"}
    reported = seen["last_reported"]
    assert pruned and isinstance(reported, dict) and set(reported) == pruned
    assert all(math.isfinite(v) and v < 0 for v in reported.values())  # the test fitness is minus a distance

    trials = [(0, "COMPLETE", -0.5), (1, "PRUNED", None), (2, "COMPLETE", -0.2), (3, "PRUNED", None)]
    axes = plotting.search_figure(trials, "s", {1: -0.9}).axes[0]
    marks = {c.get_label(): c.get_offsets().tolist() for c in axes.collections}
    assert marks == {"completed trial": [[0, -0.5], [2, -0.2]], "pruned (its last reported value)": [[1, -0.9]]}
    assert axes.get_title() == "search 's': 4 trials, 1 pruned before any report (not drawn)"


def test_trials_report_at_the_same_steps_so_the_median_pruner_can_compare_them() -> None:
    """A round runs once a phase has passed its scheduled episode count, at an episode count that
    differs between trials; the reports are made at the scheduled count, equal in every trial."""
    import optuna

    from rbtrainer.search import _Reporter

    config = {
        "env": {"game": "tictactoe"},
        "trainer": {"num_train_envs": 3, "num_test_envs": 2, "episodes_per_train": 30, "episodes_per_test": 2,
                    "test_freq": 10, "update_freq": 24, "seed": 0},
        "dqn": {"hidden_sizes": [16]},
    }  # fmt: skip
    study = optuna.create_study(direction="maximize")
    steps = []
    for batch_size in (16, 32):
        trial = study.ask()
        config["trainer"]["batch_size"] = batch_size
        stats, _ = train_trial(config, SearchSettings(), _Reporter(trial))
        steps.append(sorted(study.trials[trial.number].intermediate_values))
        assert stats.test_episodes[1:] != [10, 20, 30]  # the rounds themselves ran later than scheduled
    assert steps[0] == steps[1] == list(range(0, 10 * len(steps[0]), 10)) and len(steps[0]) >= 3
