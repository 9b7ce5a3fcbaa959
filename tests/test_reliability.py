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

import pytest

from games.matrix_game import MatrixGameEnv
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
