"""Reliability, round two (issue 35): faults that used to pass silently or fail far from their cause.

* NaN / inf rewards and observations from a game are a :class:`~rbtrainer.envs.GameError` naming the
  game, the seat and the step, raised before anything reaches a learner's memory (both engine paths);
* ``matrix_game`` refuses non-finite payoffs; ``torch_threads`` is bounded by the machine;
* :class:`~rbtrainer.agents.fixed.ScriptedAgent` refuses actions that are not integers;
* a search file's ``score_vs:`` agent spec is checked when the file loads;
* resuming with learners of other network shapes names the learner, the parameter and both shapes;
* a checkpoint or training-state write that fails (full disk, a second signal) raises what failed,
  and the CLI ends in one line with status 1 (full disk) or 128 + the signal's number.
"""

from __future__ import annotations

import errno
import io
import math
import os
import re
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import RecordingLearner

from games.matrix_game import MatrixGameEnv
from games.tictactoe import TicTacToeEnv
from rbtrainer import DecentralizedTrainer, RandomAgent, dqn_agent
from rbtrainer import files as files_module
from rbtrainer.agents.fixed import ScriptedAgent
from rbtrainer.checkpoint import save_agents
from rbtrainer.cli import main
from rbtrainer.envs import BatchGamePool, GameError, game_factory, make_pool
from rbtrainer.files import WriteError, save_torch
from rbtrainer.params import TrainerConfig
from rbtrainer.rollout import RolloutEngine
from rbtrainer.seating import Seating, SeatPlan

# --------------------------------------------------------------------------------------------
# 1. non-finite rewards and observations
# --------------------------------------------------------------------------------------------


class PoisonedTicTacToe(TicTacToeEnv):
    """Tic-tac-toe that reports ``value`` as the reward of ``player_1`` (seat 0, X) or as every feature of
    the observations right after move ``at`` of every game."""

    def __init__(self, at: int = 3, what: str = "reward", value: float = math.nan) -> None:
        super().__init__()
        self.at, self.what, self.value = at, what, value
        self.moves = 0

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        super().reset(seed, options)
        self.moves = 0

    def step(self, action: int | None) -> None:
        super().step(action)
        if action is None:
            return
        self.moves += 1
        if self.what == "reward" and self.moves == self.at:
            self.rewards["player_1"] = self.value

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        seen = super().observe(agent)
        if self.what == "observation" and self.moves == self.at:
            seen = {**seen, "observation": np.full(seen["observation"].shape, self.value, dtype=np.float32)}
        return seen


def first_legal(obs: np.ndarray, mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def engine_and_plan(pool: Any, num_seats: int, **engine_kw: Any) -> tuple[RolloutEngine, SeatPlan, RecordingLearner]:
    """An engine on ``pool`` and a plan with one recording learner in every seat, storing every seat."""
    engine = RolloutEngine(pool, num_seats, **engine_kw)
    engine.start([100 + i for i in range(pool.num_envs)])
    learner = RecordingLearner(fn=first_legal)
    agents = tuple([learner] * num_seats)
    flags = np.zeros(num_seats, bool)
    plan = SeatPlan([Seating("all", agents, 1.0, flags, flags)], [pool.num_envs])
    plan.streams.add(learner, [(env, seat) for env in range(pool.num_envs) for seat in range(num_seats)])
    return engine, plan, learner


def stored_values(learner: RecordingLearner) -> list[np.ndarray]:
    return [call[key] for call in learner.stored for key in ("rew", "obs", "obs_next")]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_reward_is_a_game_error_and_never_reaches_a_memory(value: float) -> None:
    pool = make_pool(lambda: PoisonedTicTacToe(at=3, value=value), 2, "dummy")
    engine, plan, learner = engine_and_plan(pool, 2)
    engine.run(plan, max_steps=4, store=True)  # two moves per env: stored, all finite
    assert learner.stored_count > 0
    with pytest.raises(GameError) as caught:
        engine.run(plan, max_steps=40, store=True)
    message = str(caught.value)
    assert "'tictactoe_v0'" in message and "env 0" in message and "seat 'player_1'" in message
    assert f"reward {value}" in message and "step 3 of its game 0" in message
    assert caught.value.env_ids == (0,) and caught.value.operation == "step" and not caught.value.worker_exited
    assert pool.closed  # like any game failure: the trainer builds a fresh pool
    assert all(np.isfinite(values).all() for values in stored_values(learner))


def test_a_non_finite_observation_is_a_game_error_naming_the_seat_that_saw_it() -> None:
    pool = make_pool(lambda: PoisonedTicTacToe(at=2, what="observation"), 1, "dummy")
    engine, plan, learner = engine_and_plan(pool, 2)
    with pytest.raises(GameError, match=r"seat 'player_1' \(seat 0\).*observation .*nan.* after step 2 of its game 0"):
        engine.run(plan, max_steps=40, store=True)
    assert learner.stored == []


@pytest.mark.parametrize(
    ("at", "steps", "seat"),
    [(2, 2, "'player_1' \\(seat 0\\)"), (7, 40, "'player_\\d' \\(seat \\d\\)")],
    ids=["seen-only-as-obs_next-in-the-last-tick", "final-view-at-the-end-of-a-game"],
)
def test_views_that_only_close_transitions_are_checked_too(at: int, steps: int, seat: str) -> None:
    """A view never acted on still ends up as ``obs_next``: after the last tick of a collection phase,
    or as a seat's final view of a game (first legal moves: X wins with its fourth move, step 7)."""
    pool = make_pool(lambda: PoisonedTicTacToe(at=at, what="observation"), 1, "dummy")
    engine, plan, learner = engine_and_plan(pool, 2)
    with pytest.raises(GameError, match=rf"seat {seat}: .*observation holding nan after step {at} of its game 0"):
        engine.run(plan, max_steps=steps, store=True)
    assert learner.stored == []


def test_check_finite_false_lets_the_values_through() -> None:
    pool = make_pool(lambda: PoisonedTicTacToe(at=3), 1, "dummy")
    engine, plan, learner = engine_and_plan(pool, 2, check_finite=False)
    engine.run(plan, max_steps=20, store=True)
    assert any(np.isnan(call["rew"]).any() for call in learner.stored)


def test_a_non_finite_reward_on_the_batch_path_is_a_game_error(monkeypatch: pytest.MonkeyPatch) -> None:
    game = {"robot_colors": ["r", "b"], "max_step": 60}
    pool = make_pool(game_factory(game, None), 3, "dummy", batch=True)
    assert isinstance(pool, BatchGamePool)
    play, calls = pool.game.play, []

    def poisoned_play(games: np.ndarray, actions: np.ndarray) -> np.ndarray:
        rewards = np.array(play(games, actions), dtype=np.float64)
        calls.append(len(games))
        if len(calls) == 5:
            rewards[1, 0] = math.inf  # env 1, seat 0, at its 5th step
        return rewards

    monkeypatch.setattr(pool.game, "play", poisoned_play)
    engine, plan, learner = engine_and_plan(pool, 2)
    with pytest.raises(GameError, match=r"env 1 of game 'robot_delivery\w*'.*seat 'r1' \(seat 0\).*reward inf.*step 5"):
        engine.run(plan, max_steps=200, store=True)
    assert learner.stored == [] and pool.closed


def test_test_rounds_blame_the_game_not_the_reward_metric() -> None:
    trainer = DecentralizedTrainer(None, env_fn=PoisonedTicTacToe, num_test_envs=2, episodes_per_test=4, seed=1)
    with pytest.raises(GameError, match=r"game 'tictactoe_v0'.*reward nan"):
        trainer.test([RandomAgent(seed=1), RandomAgent(seed=2)])


def test_check_finite_is_a_checked_setting_the_trainer_passes_on() -> None:
    assert TrainerConfig().check_finite is True and TrainerConfig(check_finite=False).check_finite is False
    with pytest.raises(TypeError, match="check_finite must be True or False"):
        TrainerConfig(check_finite="no")  # type: ignore[arg-type]
    trainer = DecentralizedTrainer(
        None, env_fn=PoisonedTicTacToe, num_test_envs=2, episodes_per_test=4, seed=1, check_finite=False
    )
    with pytest.raises(ValueError, match="reward_metric returned nan"):  # unchecked: the NaN reaches the metric
        trainer.test([RandomAgent(seed=1), RandomAgent(seed=2)])


# --------------------------------------------------------------------------------------------
# 2. matrix_game payoffs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_matrix_game_refuses_non_finite_payoffs(bad: float) -> None:
    payoffs = [[(1, 1), (0, 2)], [(2, 0), (0, bad)]]
    with pytest.raises(ValueError, match=rf"payoffs\[1\]\[1\] = \(0.0, {bad}\).*finite"):
        MatrixGameEnv(payoffs=payoffs)


# --------------------------------------------------------------------------------------------
# 3. torch_threads
# --------------------------------------------------------------------------------------------


def test_torch_threads_is_bounded_by_the_machine() -> None:
    cores = os.cpu_count() or 1
    with pytest.raises(ValueError, match=rf"torch_threads must be at most .*{cores} CPU cores.*got 1,000,000,000"):
        TrainerConfig(torch_threads=10**9)
    assert TrainerConfig(torch_threads=cores).torch_threads == cores


# --------------------------------------------------------------------------------------------
# 4. ScriptedAgent
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("returned", [2.7, None, "1", True, math.nan, np.float32(0.5)], ids=repr)
def test_scripted_agent_refuses_actions_that_are_not_integers(returned: Any) -> None:
    agent = ScriptedAgent(lambda obs, mask: returned, name="mine")
    with pytest.raises(TypeError, match=r"agent 'mine': its script returned .* for row 0; .*integer action"):
        agent.act(np.zeros((2, 3), np.float32), np.ones((2, 4), np.int8), np.zeros(2, bool))


def test_scripted_agent_takes_ints_and_whole_floats() -> None:
    answers = iter([1, np.int64(2), 3.0, np.float64(0.0)])
    agent = ScriptedAgent(lambda obs, mask: next(answers))
    acted = agent.act(np.zeros((4, 3), np.float32), np.ones((4, 4), np.int8), np.zeros(4, bool))
    assert acted.tolist() == [1, 2, 3, 0] and acted.dtype == np.int64


# --------------------------------------------------------------------------------------------
# 5. search files: agent specs checked when the file loads
# --------------------------------------------------------------------------------------------

SEARCH = """
[search]
trials = 2
test = true
fitness = "score_vs:{spec}"
[env]
game = "tictactoe"
[space.dqn]
lr = {{ low = 1e-4, high = 1e-2, log = true }}
"""


@pytest.mark.parametrize(
    ("spec", "why"),
    [("nosuchbot", "unknown agent spec 'nosuchbot'"), ("strong", "cannot play seat"), ("negamax:x", "must be an int")],
)
def test_search_files_check_their_agent_specs_when_they_load(tmp_path: Path, spec: str, why: str) -> None:
    pytest.importorskip("optuna")
    from rbtrainer.search import load_search

    path = tmp_path / "search.toml"
    path.write_text(SEARCH.format(spec=spec))
    with pytest.raises(ValueError, match=rf"search.toml: \[search\] fitness = 'score_vs:{spec}'.*{why}"):
        load_search(path)
    path.write_text(SEARCH.format(spec="minimax"))
    assert load_search(path).settings.fitness == "score_vs:minimax"


# --------------------------------------------------------------------------------------------
# 6. resume with other network shapes
# --------------------------------------------------------------------------------------------


def test_resume_with_other_network_shapes_names_the_learner_and_both_shapes(tmp_path: Path) -> None:
    state = tmp_path / "run.state"
    settings = {"num_train_envs": 2, "num_test_envs": 2, "episodes_per_train": 20, "episodes_per_test": 2,
                "test_freq": 4, "update_freq": 16, "batch_size": 8, "progress_bar": False, "seed": 3}  # fmt: skip

    def run(hidden: tuple[int, ...], **kw: Any) -> tuple[DecentralizedTrainer, list[Any]]:
        trainer = DecentralizedTrainer({"game": "tictactoe"}, **settings, **kw)
        learner = dqn_agent(
            trainer.observation_space(0), trainer.action_space(0), seed=1, hidden_sizes=hidden, buffer_size=256
        )
        return trainer, [learner, learner]

    trainer, agents = run((16,), state_path=state)
    trainer.test_fn = lambda episodes, steps: trainer.request_stop()
    assert trainer.train(agents, [True, True], plot=False).interrupted
    trainer, agents = run((24,))
    with pytest.raises(ValueError) as caught:
        trainer.train(agents, [True, True], plot=False, resume=state)
    message = str(caught.value)
    assert message.startswith(f"{state}: ") and "training state of learner 'dqn'" in message
    assert "(16, 18)" in message and "(24, 18)" in message  # the first layer's weight: saved, then this learner's
    assert "hidden_sizes" in message


# --------------------------------------------------------------------------------------------
# 7. a failing checkpoint or state write: one line, the right exit status, earlier files intact
# --------------------------------------------------------------------------------------------


class FailingFile(io.BytesIO):
    """A file whose ``write`` raises ``error`` once ``after`` bytes are written."""

    def __init__(self, error: BaseException, after: int = 100) -> None:
        super().__init__()
        self.error, self.after = error, after

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self.after:
            raise self.error
        return super().write(data)


@pytest.mark.parametrize(
    "error", [OSError(errno.ENOSPC, "No space left on device"), SystemExit(143), KeyboardInterrupt()]
)
def test_save_torch_raises_what_the_write_raised_not_torchs_runtime_error(error: BaseException) -> None:
    with pytest.raises(type(error)) as caught:
        save_torch({"weights": torch.zeros(10_000)}, FailingFile(error))
    assert caught.value is error


def _fail_writes_of(monkeypatch: pytest.MonkeyPatch, suffix: str, error: BaseException) -> None:
    """Every ``save_torch`` into a temporary file of a name ending ``suffix`` fails with ``error``."""
    original = files_module._RecordingWriter.write

    def write(self: Any, data: bytes) -> int:
        if re.fullmatch(rf"\..*{re.escape(suffix)}\.[0-9a-f]{{8}}\.tmp", os.path.basename(self.handle.name)):
            self.error = error
            raise error
        return original(self, data)

    monkeypatch.setattr(files_module._RecordingWriter, "write", write)


def test_a_full_disk_during_a_checkpoint_write_is_a_write_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "agents.pt"
    path.write_bytes(b"the earlier checkpoint")
    _fail_writes_of(monkeypatch, "agents.pt", OSError(errno.ENOSPC, "No space left on device"))
    learner = dqn_agent(TicTacToeEnv().observation_space("player_1"), TicTacToeEnv().action_space("player_1"))
    with pytest.raises(WriteError) as caught:
        save_agents(path, [learner])
    assert (
        str(caught.value) == f"could not write {path}: No space left on device (the earlier file, if any, is unchanged)"
    )
    assert caught.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"the earlier checkpoint" and os.listdir(tmp_path) == ["agents.pt"]


CLI_RUN = [
    "train", "--env", "game=tictactoe", "--num-train-envs", "3", "--num-test-envs", "3", "--episodes-per-train",
    "12", "--episodes-per-test", "6", "--test-freq", "6", "--update-freq", "32", "--no-progress-bar",
    "--hidden-sizes", "16", "--buffer-size", "500",
]  # fmt: skip


def test_a_full_disk_during_a_state_write_ends_the_cli_in_one_line_with_status_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _fail_writes_of(monkeypatch, ".state", OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(SystemExit) as caught:
        main([*CLI_RUN, "--checkpoint", "c.pt", "--plot-dir", str(tmp_path)])
    assert caught.value.code == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [
        "rbtrainer train: error: could not write c.state: No space left on device "
        "(the earlier file, if any, is unchanged)"
    ]
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_a_second_signal_during_a_state_write_exits_with_the_signals_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI's handler raises ``SystemExit(128 + signum)`` on a second SIGTERM; inside torch's write it
    used to become ``RuntimeError: ... unexpected pos`` (a traceback, status 1)."""
    monkeypatch.chdir(tmp_path)
    _fail_writes_of(monkeypatch, ".state", SystemExit(128 + signal.SIGTERM))
    with pytest.raises(SystemExit) as caught:
        main([*CLI_RUN, "--checkpoint", "c.pt", "--plot-dir", str(tmp_path)])
    assert caught.value.code == 128 + signal.SIGTERM
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
