"""Rollout workers (``rollout_workers=N``): blocks of games and copies of the agents played where the games are.

* One worker gives exactly the statistics, memories and weights of the in-process engine (it takes
  the agents' own generators); two give the same ones again with the same seed, on every transport.
* With agents that draw nothing at random, two workers give the in-process engine's statistics,
  memory rows and weights: the merge puts transitions and episodes back in one engine's order.
* A planning learner's search targets come back from the workers; training states resume on workers.
* A game that raises, a worker that dies and an agent's bad action are reported naming the worker,
  and leave no process behind; a league is refused.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import (
    SMALL_ROBOT_GAME,
    RecordingLearner,
    ray_skip_reason,
    statistics_without_timings,
    stop_and_resume,
    write_control,
)
from test_pool_failures import FlakyGame
from test_pool_timeouts import HANG_BOUND, StuckGame

from rbtrainer import (
    DecentralizedTrainer,
    DQNConfig,
    EnvGroup,
    League,
    LeagueConfig,
    RandomAgent,
    ScriptedAgent,
    dqn_agent,
)
from rbtrainer.agents.planning import planning_agent, rules_from_game
from rbtrainer.config import PlanningConfig
from rbtrainer.envs import GameError

RUN = {
    "num_train_envs": 6,
    "num_test_envs": 4,
    "episodes_per_train": 36,
    "episodes_per_test": 8,
    "test_freq": 12,
    "update_freq": 64,
    "seed": 3,
    "progress_bar": False,
}


def robots(workers: int, backend: str = "dummy", epsilon: float = 0.3, **kw: Any) -> tuple[Any, ...]:
    """Self-play DQN on a short robot game; returns (trainer, learner, statistics, test result)."""
    trainer = DecentralizedTrainer(SMALL_ROBOT_GAME, **{**RUN, **kw}, backend=backend, rollout_workers=workers)
    with trainer:
        config = DQNConfig(buffer_size=2048, n_step=2, target_update_freq=20)
        learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=config, seed=4)
        learner.epsilon = epsilon
        stats = trainer.train([learner, learner], [True, True], plot=False)
        test = trainer.test([learner, RandomAgent(seed=9) if epsilon else learner])
    return trainer, learner, stats, test


def same_memories_and_weights(a: Any, b: Any) -> None:
    memory, other = a.memory, b.memory
    assert len(memory) > 0
    np.testing.assert_array_equal(memory._lengths, other._lengths)
    for key in ("act", "rew", "terminated", "truncated"):
        np.testing.assert_array_equal(memory._meta[key], other._meta[key])
    np.testing.assert_array_equal(memory._meta["obs"].obs, other._meta["obs"].obs)
    for mine, theirs in zip(a.policy.parameters(), b.policy.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)


def same_statistics(a: tuple[Any, ...], b: tuple[Any, ...]) -> None:
    """Same statistics (compared as text: a league's curve holds NaN where no game was played) and test result."""
    assert repr(statistics_without_timings(a[2])) == repr(statistics_without_timings(b[2]))
    assert repr({k: v for k, v in vars(a[3]).items() if k != "test_time"}) == repr(
        {k: v for k, v in vars(b[3]).items() if k != "test_time"}
    )


def test_one_worker_plays_exactly_as_the_engine_in_this_process() -> None:
    here, one = robots(0), robots(1)
    same_statistics(one, here)
    same_memories_and_weights(one[1], here[1])


def test_two_workers_give_the_same_statistics_with_the_same_seed() -> None:
    first, again = robots(2), robots(2)
    same_statistics(first, again)
    same_memories_and_weights(first[1], again[1])
    assert first[2].collected_steps == robots(0)[2].collected_steps  # a phase is the same ticks of every env


def test_two_workers_put_what_deterministic_agents_played_back_in_one_engines_order() -> None:
    """epsilon 0 and a greedy test opponent: nothing is drawn at random while acting, so the split is invisible."""
    here, two = robots(0, epsilon=0.0), robots(2, epsilon=0.0)
    same_statistics(two, here)
    same_memories_and_weights(two[1], here[1])


def test_overlapped_updates_on_one_worker_are_those_in_this_process() -> None:
    """The update runs while the workers collect; the actors' copies travel without the learner they follow."""
    here, one = robots(0, overlap=True), robots(1, overlap=True)
    same_statistics(one, here)
    same_memories_and_weights(one[1], here[1])


def test_worker_processes_play_as_workers_in_this_process() -> None:
    local, processes = robots(2), robots(2, backend="subproc")
    same_statistics(processes, local)
    same_memories_and_weights(processes[1], local[1])


@pytest.mark.skipif(ray_skip_reason() is not None, reason=str(ray_skip_reason()))
def test_ray_actors_play_as_workers_in_this_process() -> None:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        actors = robots(2, backend="ray")
        league = league_run(2, "ray")
    finally:
        ray.shutdown()
    local = robots(2)
    same_statistics(actors, local)
    same_memories_and_weights(actors[1], local[1])
    same_statistics(league, league_run(2))


def planner(workers: int) -> tuple[Any, Any]:
    run = {**RUN, "episodes_per_train": 12, "test_freq": 6, "update_per_step": 0.05, "batch_size": 16, "panel": False}
    trainer = DecentralizedTrainer({"game": "tictactoe"}, **run, rollout_workers=workers)
    config = PlanningConfig(simulations=8, play_simulations=8, channels=8, blocks=1, hidden=16, buffer_size=512)
    with trainer:
        learner = planning_agent(rules_from_game(trainer.make_game), trainer.observation_space(0),
                                 trainer.action_space(0), config=config, seed=2)  # fmt: skip
        stats = trainer.train([learner, learner], [True, True], plot=False)
    return learner, stats


def test_an_agent_only_a_later_worker_seats_does_not_replay_its_randomness() -> None:
    """Worker 0 never plays the random agent here; its copy in worker 1 still draws new numbers every round."""
    trainer = DecentralizedTrainer({"game": "tictactoe"}, **{**RUN, "episodes_per_test": 16}, rollout_workers=2)
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=1)
    groups = [EnvGroup("self", [learner, learner]), EnvGroup("random", [RandomAgent(seed=2), learner])]
    with trainer:
        first, second = trainer.test(groups), trainer.test(groups)
    assert trainer.config.num_test_envs == 4  # the random agent sits in envs 2-3: worker 1's block
    assert not np.array_equal(first.groups["random"].rewards, second.groups["random"].rewards) or (
        first.groups["random"].mean_episode_length != second.groups["random"].mean_episode_length
    )


def test_a_planning_learner_gets_its_search_targets_back_from_the_workers() -> None:
    here, one = planner(0), planner(1)
    assert statistics_without_timings(one[1]) == statistics_without_timings(here[1])
    assert list(one[0]._targets) == list(here[0]._targets) and len(here[0]._targets) > 0
    for mine, theirs in zip(one[0].network.parameters(), here[0].network.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)


def test_a_run_on_workers_resumes_exactly(tmp_path: Path) -> None:
    def build(**kw: Any) -> tuple[Any, list[Any]]:
        trainer = DecentralizedTrainer(SMALL_ROBOT_GAME, **{**RUN, **kw}, rollout_workers=2)
        learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), seed=4, buffer_size=2048)
        return trainer, [learner, learner]

    whole, stopped, resumed = stop_and_resume(build, [True, True], lambda p: p.episodes >= 12, tmp_path / "s")
    assert stopped.interrupted and stopped.collected_episodes < whole.collected_episodes
    assert statistics_without_timings(resumed) == statistics_without_timings(whole)


def flaky(control: Path, backend: str, workers: int = 2) -> DecentralizedTrainer:
    return DecentralizedTrainer(env_fn=FlakyGame, env_args={"control": str(control)},
                                **{**RUN, "num_train_envs": 4}, backend=backend, rollout_workers=workers)  # fmt: skip


def children() -> set[int]:
    """The pids of this process's live children (Linux: read from /proc)."""
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        pids.update(int(pid) for pid in (task / "children").read_text().split())
    return pids


@pytest.mark.parametrize("backend", ["dummy", "subproc"])
def test_a_game_raising_in_a_worker_names_the_worker_and_the_env(control: Path, backend: str) -> None:
    write_control(control, on="step", how="raise", seed=None, step=2)
    before = children()
    trainer = flaky(control, backend)
    agents = [ScriptedAgent(lambda o, m: 0), ScriptedAgent(lambda o, m: 1)]
    with pytest.raises(GameError) as caught:
        trainer.test(agents)
    err = caught.value
    assert str(err).startswith("rollout worker 0 (")
    assert "envs 0-1 (its envs 0-1): env 0: the game raised test_pool_failures.GameBroke during step" in str(err)
    assert err.env_ids == (0,) and err.operation == "step"
    assert "flaky game broke at its step 2" in err.worker_traceback
    assert children() <= before
    if backend == "dummy":  # healthy again: the trainer builds fresh workers
        write_control(control)
        assert len(trainer.test(agents).rewards) == RUN["episodes_per_test"]
    trainer.close()


def test_a_worker_process_that_dies_is_reported_and_none_is_left(control: Path) -> None:
    write_control(control, on="step", how="exit", seed=None, step=3)
    before = children()
    trainer = flaky(control, "subproc")
    with pytest.raises(GameError, match=r"^rollout worker 0 \(pid \d+\), envs 0-1 \(its envs 0-1\) died: "
                       r"the process exited with code 3") as caught:  # fmt: skip
        trainer.test([RandomAgent(seed=1), RandomAgent(seed=2)])
    assert caught.value.worker_exited and caught.value.env_ids == (0, 1)
    assert children() <= before
    trainer.close()


def test_a_killed_worker_process_is_reported(control: Path) -> None:
    trainer = flaky(control, "subproc", workers=1)
    agents = [RandomAgent(seed=1), RandomAgent(seed=2)]
    trainer.test(agents)
    victim = max(children())
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(GameError, match="killed by signal 9"):
        trainer.test(agents)
    trainer.close()


def test_a_worker_stuck_in_a_game_is_ended_after_step_timeout(control: Path) -> None:
    write_control(control, **{"in": "step", "seed": None})
    before = children()
    trainer = DecentralizedTrainer(env_fn=StuckGame, env_args={"control": str(control)}, **RUN,
                                   backend="subproc", rollout_workers=2, step_timeout=2.0)  # fmt: skip
    began = time.monotonic()
    with pytest.raises(GameError, match=r"^rollout worker 0 .*no tick of its games finished within step_timeout=2 s"):
        trainer.test([RandomAgent(seed=1), RandomAgent(seed=2)])
    write_control(control)
    trainer.close()
    assert time.monotonic() - began < HANG_BOUND
    assert children() <= before


def test_an_agents_bad_action_in_a_worker_keeps_its_error_type(control: Path) -> None:
    trainer = flaky(control, "dummy")
    with trainer, pytest.raises(ValueError, match=r"^rollout worker 0 .*: agent 'bad': act returned action 7 "):
        trainer.test([ScriptedAgent(lambda o, m: 7, name="bad"), RandomAgent(seed=2)])


class Interrupted(RandomAgent):
    """Acts at random, except that its first act raises KeyboardInterrupt (Ctrl-C while a worker plays)."""

    interrupt = True

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        if Interrupted.interrupt:
            Interrupted.interrupt = False
            raise KeyboardInterrupt
        return super().act(obs, mask, explore)


def test_an_interrupt_while_the_workers_play_closes_them(control: Path) -> None:
    trainer = flaky(control, "dummy")
    agents = [Interrupted(seed=1), RandomAgent(seed=2)]
    with trainer:
        with pytest.raises(KeyboardInterrupt):
            trainer.test(agents)
        assert trainer._test_engine is not None and trainer._test_engine.closed
        assert len(trainer.test(agents).rewards) == RUN["episodes_per_test"]  # fresh workers


def league_run(workers: int, backend: str = "dummy") -> tuple[Any, ...]:
    """A DQN learner's league on tic-tac-toe (snapshots join during the run); (trainer, learner, statistics,
    test result)."""
    trainer = DecentralizedTrainer({"game": "tictactoe"}, **RUN, backend=backend, rollout_workers=workers)
    with trainer:
        config = DQNConfig(hidden_sizes=(32,), buffer_size=4096, target_update_freq=20)
        learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=config, seed=1)
        learner.epsilon = 0.3
        league = League(learner, [RandomAgent(seed=3, name="random")], LeagueConfig(snapshot_every=8, seed=5))
        stats = trainer.train(league, [True, True], plot=False)
        test = trainer.test([learner, RandomAgent(seed=9)])
    assert len(stats.league.snapshots) >= 3 and stats.collected_episodes >= 36
    return trainer, learner, stats, test


def test_a_league_on_one_worker_plays_exactly_as_in_this_process() -> None:
    ours, theirs = league_run(1), league_run(0)
    same_statistics(ours, theirs)
    same_memories_and_weights(ours[1], theirs[1])


def test_a_league_on_two_worker_processes_plays_as_on_two_workers_in_this_process() -> None:
    same_statistics(league_run(2, "subproc"), league_run(2))  # the snapshots travel to the processes


class ThreadsSeen(RecordingLearner):
    """Records torch's CPU thread count when it acts and when it updates."""

    def __init__(self) -> None:
        super().__init__(name="threads")
        self.acting: set[int] = set()
        self.updating: set[int] = set()

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        self.acting.add(torch.get_num_threads())
        return super().act(obs, mask, explore)

    def update(self, batch_size: int, gradient_steps: int) -> int:
        self.updating.add(torch.get_num_threads())
        return 0


def test_updates_run_on_update_threads_and_everything_else_on_torch_threads() -> None:
    before = torch.get_num_threads()
    learner = ThreadsSeen()
    with DecentralizedTrainer({"game": "tictactoe"}, **RUN, torch_threads=1, update_threads=2) as trainer:
        trainer.train([learner, learner], [True, True], plot=False)
    assert learner.updating == {2} and learner.acting == {1}
    assert torch.get_num_threads() == before  # both put back
    with pytest.raises(ValueError, match=r"update_threads=2 does not apply with overlap=True"):
        DecentralizedTrainer({"game": "tictactoe"}, update_threads=2, overlap=True)
    with pytest.raises(ValueError, match=r"update_threads must be at most"):
        DecentralizedTrainer({"game": "tictactoe"}, update_threads=10**9)


def test_rollout_workers_is_checked() -> None:
    with pytest.raises(ValueError, match="rollout_workers"):
        DecentralizedTrainer({"game": "tictactoe"}, rollout_workers=-1)


def test_the_command_line_trains_and_evaluates_on_rollout_workers(
    tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    from rbtrainer.cli import main

    monkeypatch.chdir(tmp_path)
    checkpoint = tmp_path / "ttt.pt"
    tiny = ["--num-train-envs", "4", "--num-test-envs", "4", "--episodes-per-train", "12", "--episodes-per-test", "4",
            "--test-freq", "6", "--update-freq", "32", "--no-progress-bar", "--hidden-sizes", "16",
            "--buffer-size", "500"]  # fmt: skip
    argv = ["train", "--env", "game=tictactoe", *tiny, "--rollout-workers", "2", "--checkpoint", str(checkpoint)]
    assert main([*argv, "--plot-dir", str(tmp_path)]) == 0
    assert checkpoint.exists() and "trained" in capsys.readouterr().out
    argv = ["eval", "--env", "game=tictactoe", "--agents", str(checkpoint), "random", "--games", "2"]
    assert main([*argv, "--rollout-workers", "2", "--num-test-envs", "4", "--plot-dir", str(tmp_path)]) == 0
    assert "tictactoe: 4 games" in capsys.readouterr().out
