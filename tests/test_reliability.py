"""Reliability, round two (issue 35): faults that used to pass silently or fail far from their cause.

* NaN / inf rewards and observations from a game are a :class:`~rbtrainer.envs.GameError` naming the
  game, the seat and the step, raised before anything reaches a learner's memory (both engine paths);
* ``matrix_game`` refuses non-finite payoffs; ``torch_threads`` is bounded by the machine;
* :class:`~rbtrainer.agents.fixed.ScriptedAgent` refuses actions that are not integers;
* a search file's ``score_vs:`` agent spec is checked when the file loads;
* resuming with learners of other network shapes names the learner, the parameter and both shapes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from games.matrix_game import MatrixGameEnv
from rbtrainer import DecentralizedTrainer, dqn_agent
from rbtrainer.agents.fixed import ScriptedAgent
from rbtrainer.params import TrainerConfig

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
    assert "training state of learner 'dqn'" in message
    assert "(16, 18)" in message and "(24, 18)" in message  # the first layer's weight: saved, then this learner's
    assert "hidden_sizes" in message
