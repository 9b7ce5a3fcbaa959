"""Step-wise training (``trainer.start(...)``, ``TrainingRun.step()``; ``train()`` is that loop),
callback objects with a training context, and the progress bar setting."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from conftest import RecordingLearner

from rbtrainer import (
    DecentralizedTrainer,
    EpochStopCallback,
    EpochTestCallback,
    EpochTrainCallback,
    RandomAgent,
    TrainerCallbacks,
    TrainingContext,
    dqn_agent,
)
from rbtrainer.callbacks import EpsilonSchedule, RewardThreshold
from rbtrainer.run.loop import TrainingRun
from rbtrainer.run.stats import Progress

TINY: dict[str, Any] = {
    "num_train_envs": 4,
    "num_test_envs": 2,
    "episodes_per_train": 40,
    "episodes_per_test": 4,
    "test_freq": 10,
    "update_freq": 32,
    "batch_size": 16,
    "update_per_step": 0.25,
    "progress_bar": False,
}
TIMES = ("training_time", "test_time", "plot_path", "state_path")


def comparable(stats: Any) -> dict[str, Any]:
    fields = dataclasses.asdict(stats)
    return {k: v for k, v in fields.items() if k not in TIMES}


def setup(tmp_path, **extra: Any) -> tuple[DecentralizedTrainer, list[Any]]:
    trainer = DecentralizedTrainer({"game": "tictactoe"}, seed=3, plot_dir=str(tmp_path), **{**TINY, **extra})
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), hidden_sizes=(32,), seed=5)
    trainer.train_fn = EpsilonSchedule(learners=[learner], start=1.0, end=0.1, episodes=30)
    trainer.reward_metric = lambda rewards: float(np.mean(rewards[:, 0]))  # the learner's return
    return trainer, [learner, RandomAgent(seed=7)]


def test_stepping_to_the_end_gives_train_s_statistics(tmp_path) -> None:
    trainer, agents = setup(tmp_path)
    with trainer:
        expected = trainer.train(agents, [True, False], plot=False)
    trainer, agents = setup(tmp_path)
    progress: list[Progress] = []
    with trainer, trainer.start(agents, [True, False], plot=False) as run:
        assert isinstance(run, TrainingRun) and not run.done
        while not run.done:
            progress.append(run.step())
    assert comparable(run.stats) == comparable(expected)
    assert expected.gradient_steps > 0 and len(expected.reward_metric_history) >= 4
    # progress: monotone counters, a test round at the first step and wherever the history grew
    assert [p.episodes for p in progress] == sorted(p.episodes for p in progress)
    assert progress[0].tested and progress[-1].done and not any(p.done for p in progress[:-1])
    second_round = expected.test_episodes[1] == progress[0].episodes  # the first step may also reach a test point
    assert progress[0].reward_metric == expected.reward_metric_history[int(second_round)]
    by_episode = dict(zip(expected.test_episodes, expected.reward_metric_history))
    later = [(p.episodes, p.reward_metric) for p in progress[1:] if p.tested]
    assert later == [(e, by_episode[e]) for e in expected.test_episodes[-len(later) :]]
    assert len(set(expected.reward_metric_history)) > 1  # the values compared are not all alike
    assert progress[-1].fraction == 1.0 and progress[-1].episodes == expected.collected_episodes
    assert not run.stats.interrupted


def test_iterating_and_own_code_between_steps(tmp_path) -> None:
    trainer = DecentralizedTrainer({"game": "tictactoe"}, seed=0, plot_dir=str(tmp_path), **TINY)
    learner = RecordingLearner()
    seen: list[int] = []
    with trainer, trainer.start([learner, RandomAgent()], [True, False]) as run:
        for progress in run:
            seen.append(progress.episodes)
            learner.fn = (lambda o, m: int(np.flatnonzero(m)[0])) if progress.episodes > 20 else None
    assert seen[-1] >= TINY["episodes_per_train"] and run.done and run.closed
    assert run.stats.plot_path is not None and (tmp_path / "tictactoe_training.png").exists()
    with pytest.raises(RuntimeError, match="this training run is closed"):
        run.step()


def test_step_after_done_and_close_twice(tmp_path) -> None:
    trainer = DecentralizedTrainer({"game": "tictactoe"}, seed=0, **TINY)
    with trainer:
        run = trainer.start([RecordingLearner(), RandomAgent()], [True, False], plot=False)
        for _ in run:
            pass
        with pytest.raises(RuntimeError, match=r"this training run is done \(check run.done before step\(\)\)"):
            run.step()
        stats = run.close()
        assert run.close() is stats and not stats.interrupted


def test_closing_early_ends_the_run_as_a_stop_request(tmp_path) -> None:
    state = tmp_path / "run.state"
    last: list[int] = []
    trainer = DecentralizedTrainer({"game": "tictactoe"}, seed=0, state_path=str(state), **TINY)
    trainer.save_last_fn = lambda: last.append(1)
    with trainer:
        run = trainer.start([RecordingLearner(), RandomAgent()], [True, False], plot=False)
        run.step()
        stats = run.close()
    assert stats.interrupted and stats.collected_episodes < TINY["episodes_per_train"]
    assert stats.state_path == str(state) and state.exists() and last == [1]


def test_an_error_in_a_step_fires_save_last_and_plots_nothing(tmp_path) -> None:
    last: list[int] = []
    trainer = DecentralizedTrainer({"game": "tictactoe"}, seed=0, plot_dir=str(tmp_path), **TINY)
    trainer.save_last_fn = lambda: last.append(1)

    def failing(episodes: int, steps: int) -> None:
        if episodes > 15:
            raise KeyError("hook failed")

    trainer.train_fn = failing
    with trainer, pytest.raises(KeyError, match="hook failed"):
        trainer.train([RecordingLearner(), RandomAgent()], [True, False])
    assert last == [1] and not list(tmp_path.iterdir())


def test_start_checks_its_arguments_before_anything_runs() -> None:
    with DecentralizedTrainer({"game": "tictactoe"}, seed=0, **TINY) as trainer:
        with pytest.raises(ValueError, match="learning_mask has 1 entries"):
            trainer.start([RecordingLearner(), RandomAgent()], [True])
        with pytest.raises(TypeError, match="plot must be True or False"):
            trainer.start([RecordingLearner(), RandomAgent()], [True, False], plot="yes")


# --------------------------------------------------------------------------------------------
# callback objects
# --------------------------------------------------------------------------------------------


class Recorder(EpochTrainCallback, EpochTestCallback):
    """Train and test callback at once, recording what it saw."""

    def __init__(self, kind: str, log: list[tuple[str, int, int, int]]) -> None:
        self.kind, self.log, self.setups = kind, log, 0

    def setup(self, context: TrainingContext) -> None:
        self.setups += 1
        assert context.episodes == 0 and isinstance(context.trainer, DecentralizedTrainer)

    def callback(self, episodes: int, env_steps: int, context: TrainingContext) -> None:
        assert context.stats.collected_episodes == episodes and context.env_steps == env_steps
        self.log.append((self.kind, episodes, env_steps, len(context.stats.reward_metric_history)))


class StopAfterTests(EpochStopCallback):
    def __init__(self, tests: int) -> None:
        self.tests = tests

    def should_stop(self, reward_metric: float, context: TrainingContext) -> bool:
        return len(context.stats.reward_metric_history) >= self.tests


def test_callbacks_fire_after_the_plain_hooks_with_a_context() -> None:
    log: list[tuple[str, int, int, int]] = []
    train_cb, test_cb = Recorder("train callback", log), Recorder("test callback", log)
    trainer = DecentralizedTrainer(
        {"game": "tictactoe"},
        seed=0,
        train_fn=lambda e, s: log.append(("train_fn", e, s, -1)),
        test_fn=lambda e, s: log.append(("test_fn", e, s, -1)),
        callbacks=TrainerCallbacks(train_cb, test_cb, StopAfterTests(3)),
        **TINY,
    )
    learner = RecordingLearner()
    with trainer:
        stats = trainer.train([learner, RandomAgent()], [True, False], plot=False)
    assert stats.stopped_early and len(stats.reward_metric_history) == 3
    assert train_cb.setups == test_cb.setups == 1
    kinds = [entry[0] for entry in log]
    assert kinds[:4] == ["test_fn", "test callback", "train_fn", "train callback"]
    for plain, callback in zip(log[::2], log[1::2]):  # each callback right after its plain hook
        assert callback[0] == plain[0].replace("_fn", " callback") and callback[1:3] == plain[1:3]
    assert [entry[3] for entry in log if entry[0] == "test callback"] == [0, 1, 2]  # before each round


def test_reward_threshold_from_the_game_or_a_clear_error() -> None:
    from games.tictactoe import env as tictactoe

    def with_threshold():
        game = tictactoe()
        game.unwrapped.metadata = {**game.unwrapped.metadata, "reward_threshold": -5.0}
        return game

    trainer = DecentralizedTrainer(env_fn=with_threshold, seed=0, **TINY)
    trainer.callbacks = TrainerCallbacks(epoch_stop_callback=RewardThreshold(None))
    with trainer:
        stats = trainer.train([RecordingLearner(), RandomAgent()], [True, False], plot=False)
    assert stats.stopped_early and len(stats.reward_metric_history) == 2  # any metric reaches -5
    assert trainer.callbacks.epoch_stop_callback.threshold == -5.0
    played: list[int] = []
    trainer = DecentralizedTrainer({"game": "tictactoe"}, seed=0, train_fn=lambda e, s: played.append(e), **TINY)
    for where in ("callbacks", "stop_fn"):
        if where == "callbacks":
            trainer.callbacks = TrainerCallbacks(epoch_stop_callback=RewardThreshold())
        else:
            trainer.callbacks, trainer.stop_fn = None, RewardThreshold(None)
        with pytest.raises(
            ValueError, match=r"RewardThreshold\(None\) takes the game's metadata\['reward_threshold'\]"
        ):
            trainer.train([RecordingLearner(), RandomAgent()], [True, False], plot=False)
    assert not played
    trainer.close()


def test_bad_callbacks_are_refused() -> None:
    with pytest.raises(TypeError, match="epoch_stop_callback must be an EpochStopCallback"):
        TrainerCallbacks(epoch_stop_callback=lambda metric, context: True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"callbacks must be an rbtrainer\.epoch_callbacks\.TrainerCallbacks"):
        DecentralizedTrainer({"game": "tictactoe"}, callbacks=[StopAfterTests(1)], **TINY)  # type: ignore[arg-type]
    with DecentralizedTrainer({"game": "tictactoe"}, seed=0, **TINY) as trainer:
        trainer.callbacks = TrainerCallbacks()
        trainer.callbacks.epoch_train_callback = StopAfterTests(1)  # type: ignore[assignment]
        with pytest.raises(TypeError, match="epoch_train_callback must be an EpochTrainCallback"):
            trainer.train([RecordingLearner(), RandomAgent()], [True, False], plot=False)
        trainer.callbacks = TrainerCallbacks(epoch_stop_callback=_Answers("yes"))
        with pytest.raises(TypeError, match=r"epoch_stop_callback\.should_stop must return True or False, got 'yes'"):
            trainer.train([RecordingLearner(), RandomAgent()], [True, False], plot=False)
    with pytest.raises(ValueError, match="threshold must be finite"):
        RewardThreshold(math.inf)


class _Answers(EpochStopCallback):
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def should_stop(self, reward_metric: float, context: TrainingContext) -> Any:
        return self.answer


@pytest.mark.parametrize(("setting", "tty", "shown"), [(None, False, False), (None, True, True), (False, True, False)])
def test_progress_bar_none_shows_only_on_a_terminal(monkeypatch, setting, tty, shown) -> None:
    import sys

    import rbtrainer.run.loop as training_run

    seen: list[bool] = []

    class Bar:
        def __init__(self, *args: Any, disable: bool, **kwargs: Any) -> None:
            seen.append(not disable)
            self.n = 0

        def update(self, n: int) -> None:
            self.n += n

        def set_postfix(self, **kwargs: Any) -> None: ...

        def close(self) -> None: ...

    monkeypatch.setattr(training_run, "tqdm", Bar)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
    trainer = DecentralizedTrainer({"game": "tictactoe"}, seed=0, **{**TINY, "progress_bar": setting})
    with trainer:
        trainer.train([RecordingLearner(), RandomAgent()], [True, False], plot=False)
    assert seen == [shown]


HEADLESS = """
import sys
from rbtrainer import DecentralizedTrainer, RandomAgent, dqn_agent
from rbtrainer.evaluation import tournament
from rbtrainer.plotting import plot_crossplay

trainer = DecentralizedTrainer({"game": "tictactoe"}, seed=0, num_train_envs=2, num_test_envs=2,
    episodes_per_train=4, episodes_per_test=2, test_freq=2, progress_bar=False, plot_dir=sys.argv[1])
learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), hidden_sizes=(8,), seed=0)
stats = trainer.train([learner, RandomAgent()], [True, False])
result = tournament(trainer, {"dqn": learner, "random": RandomAgent()}, 2, seed=0)
plot_crossplay(sys.argv[1] + "/cross.png", result.names, result.score_matrix, [0.0, 0.0], title="x")
display = sorted(m for m in sys.modules if m.split(".")[0] in ("pygame", "tkinter", "_tkinter", "PyQt5", "PySide6")
    or m == "matplotlib.pyplot")
print(stats.plot_path, display)
"""


def test_headless_no_display_library_is_imported(tmp_path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", HEADLESS, str(tmp_path)], capture_output=True, text=True, timeout=180, check=True
    )
    plot, display = done.stdout.strip().split(" ", 1)
    assert plot.endswith("tictactoe_training.png") and display == "[]"
