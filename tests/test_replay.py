"""Playing, recording and replaying single games (``rbtrainer.replay``) and ``rbtrainer play``."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os

import numpy as np
import pytest

from games.robot_delivery.board import DEFAULT_LAYOUT
from rbtrainer.agents import RandomAgent, ScriptedAgent
from rbtrainer.agents.base import Agent
from rbtrainer.cli import main
from rbtrainer.evaluation.baselines import TicTacToeMinimax
from rbtrainer.replay import (
    RECORD_FORMAT,
    RECORD_VERSION,
    GameRecord,
    PlayedGame,
    ReplayAgent,
    ReplayDivergedError,
    play_game,
    replay_game,
)

GAMES = {
    "tictactoe": {"game": "tictactoe"},
    "connect_four": {"game": "connect_four"},
    # three seats, several steps per turn (drawn by the seeded game), truncated at max_step
    "robot_delivery": {"game": "robot_delivery", "robot_colors": ["r", "b", "gr"], "random_num_steps": True,
                       "max_step": 80},
    "matrix_game": {"game": "matrix_game", "preset": "rock_paper_scissors", "num_rounds": 6},
}  # fmt: skip


def _random_game(name: str, seed: int = 3, **kwargs: object) -> PlayedGame:
    env_args = GAMES[name]
    seats = 3 if name == "robot_delivery" else 2
    agents = [RandomAgent(seed=seed * 10 + k) for k in range(seats)]
    return play_game(agents, env_args, seed=seed, **kwargs)  # type: ignore[arg-type]


def _assert_same_trace(a: PlayedGame, b: PlayedGame) -> None:
    assert len(a.trace) == len(b.trace) > 0
    for x, y in zip(a.trace, b.trace):
        assert x.seat == y.seat
        assert np.array_equal(x.observation, y.observation) and x.observation.dtype == y.observation.dtype
        assert np.array_equal(x.action_mask, y.action_mask)
        assert (x.reward, x.terminated, x.truncated) == (y.reward, y.terminated, y.truncated)


@pytest.mark.parametrize("name", sorted(GAMES))
def test_replay_from_file_reproduces_the_game(name: str, tmp_path) -> None:
    original = _random_game(name, trace=True)
    record = original.record
    assert record.game == name and record.result == original.result and record.seed == 3
    assert len(record.actions) == original.result.length > 0
    path = record.save(tmp_path / "game.json")
    assert os.listdir(tmp_path) == ["game.json"]  # written atomically: no temporary file left
    loaded = GameRecord.load(path)
    assert loaded == record and loaded.source == path
    replayed = replay_game(loaded, trace=True)
    assert replayed.result == original.result
    _assert_same_trace(original, replayed)  # every observation, mask, reward and termination


def test_several_steps_per_turn_are_recorded_per_step() -> None:
    record = _random_game("robot_delivery").record
    actors = [next(s for s, a in enumerate(row) if a >= 0) for row in record.actions]
    assert all(sum(a >= 0 for a in row) == 1 for row in record.actions)  # turn-based: one actor per step
    assert any(x == y for x, y in itertools.pairwise(actors))  # some robot moved twice in a row
    assert sum(len(record.seat_actions(s)) for s in range(3)) == len(record.actions)


def test_record_file_layout(tmp_path) -> None:
    played = play_game([TicTacToeMinimax(seed=1), RandomAgent(seed=2)], {"game": "tictactoe"}, seed=7)
    with open(played.record.save(tmp_path / "r.json")) as handle:
        data = json.load(handle)
    assert data["format"] == RECORD_FORMAT and data["version"] == RECORD_VERSION
    assert data["game"] == "tictactoe" and data["env_args"] == {} and data["seed"] == 7
    assert data["seats"] == ["player_1", "player_2"] and data["agents"] == ["minimax", "random"]
    assert all(len(row) == 2 for row in data["actions"]) and data["masked_out"] == []
    assert data["result"]["length"] == len(data["actions"])


def test_replayed_frames_match_and_make_a_gif(tmp_path) -> None:
    original = _random_game("tictactoe", render=True)
    replayed = replay_game(original.record, render=True)
    assert len(replayed.frames) == original.result.length + 1  # the empty board, then every move
    assert all(np.array_equal(a, b) for a, b in zip(original.frames, replayed.frames))
    path = replayed.save_gif(tmp_path / "game.gif")
    assert os.path.getsize(path) > 0
    with pytest.raises(ValueError, match="render=True"):
        replay_game(original.record).save_gif(tmp_path / "none.gif")


def test_the_callers_arguments_are_not_mutated() -> None:
    env_args = {"game": "robot_delivery", "robot_colors": ("r", "b"), "max_step": 10}
    before = dict(env_args)
    agents = [RandomAgent(seed=0), RandomAgent(seed=1)]
    played = play_game(agents, env_args, seed=0)
    assert env_args == before and played.record.env_args == {"robot_colors": ["r", "b"], "max_step": 10}


def test_masked_out_actions_are_recorded_and_replayed() -> None:
    """An agent that ignores its mask (the robot game turns such a move into a pass) replays too."""

    def worst(obs: np.ndarray, mask: np.ndarray) -> int:
        return int(np.argmin(mask))

    agents = [ScriptedAgent(worst), RandomAgent(seed=1)]
    played = play_game(agents, {"game": "robot_delivery", "max_step": 30}, seed=2, trace=True)
    assert played.record.masked_out  # recorded as such
    _assert_same_trace(played, replay_game(played.record, trace=True))
    replayers = [played.record.replay_agent(0), played.record.replay_agent("b1")]
    again = play_game(replayers, played.record.env_args_with_game, seed=2)
    assert again.record.actions == played.record.actions


# ---------------------------------------------------------------------------------- ReplayAgent
def test_replay_agents_fill_the_seats() -> None:
    record = play_game([TicTacToeMinimax(seed=1), RandomAgent(seed=2)], {"game": "tictactoe"}, seed=0).record
    agents = [record.replay_agent(0), record.replay_agent("player_2")]
    again = play_game(agents, record.env_args_with_game, seed=record.seed)
    assert again.record.actions == record.actions and again.result == record.result
    assert all(a.remaining == 0 for a in agents)
    # the same opponent, seeded the same, plays the same game against the recorded seat
    agents[0].rewind()
    assert play_game([agents[0], RandomAgent(seed=2)], {"game": "tictactoe"}, seed=0).record.actions == record.actions


def test_replay_agent_reports_divergence() -> None:
    first_free = ScriptedAgent(lambda obs, mask: int(np.argmax(mask)))
    with pytest.raises(ReplayDivergedError, match=r"move 2: the recorded action 0 is illegal here \(legal actions"):
        play_game([ReplayAgent([4, 0, 8]), first_free], {"game": "tictactoe"}, seed=0)  # player_2 took square 0
    with pytest.raises(ReplayDivergedError, match="all 1 recorded actions are played, but the game asks for another"):
        play_game([ReplayAgent([4], name="short"), first_free], {"game": "tictactoe"}, seed=0)


def test_replay_agent_api() -> None:
    agent = ReplayAgent([1, 2, 3])
    mask = np.ones((2, 4), dtype=np.int8)
    assert agent.act(np.zeros((2, 1)), mask, np.zeros(2, bool)).tolist() == [1, 2]
    assert agent.remaining == 1 and isinstance(agent, Agent)
    agent.rewind()
    assert agent.remaining == 3
    import gymnasium as gym

    with pytest.raises(ValueError, match=r"recorded actions \[3\] are outside this seat's 3 actions"):
        agent.check_spaces(gym.spaces.Box(0, 1, (1,)), gym.spaces.Discrete(3))
    with pytest.raises(TypeError, match="actions must be a sequence of ints"):
        ReplayAgent(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative ints"):
        ReplayAgent([1, -1])


# ----------------------------------------------------------------------------- divergence, input
def _ttt_record() -> GameRecord:
    return play_game([RandomAgent(seed=5), RandomAgent(seed=6)], {"game": "tictactoe"}, seed=0).record


def test_a_tampered_record_diverges() -> None:
    record = _ttt_record()
    rows = record.actions
    taken = rows[0][0]
    bad = (rows[0], (-1, taken), *rows[2:])  # player_2 plays the square player_1 took
    with pytest.raises(ReplayDivergedError, match=rf"step 1, player_2: the recorded action {taken} is illegal"):
        replay_game(dataclasses.replace(record, actions=bad))
    with pytest.raises(ReplayDivergedError, match=r"goes on after all \d+ recorded steps"):
        replay_game(dataclasses.replace(record, actions=rows[:-1], result=None))
    with pytest.raises(ReplayDivergedError, match="at step 1 the game asks \\['player_2'\\] to act"):
        replay_game(dataclasses.replace(record, actions=(rows[0], rows[0], *rows[2:])))
    other = dataclasses.replace(record.result, winner="nobody")
    with pytest.raises(ReplayDivergedError, match="ended differently from the recorded game"):
        replay_game(dataclasses.replace(record, result=other))


def _write(tmp_path, data: object) -> str:
    path = tmp_path / "record.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("not json {", r"not an rbtrainer game record \(not JSON"),
        ([1, 2], r'not an rbtrainer game record \(no "format"'),
        ({"format": "something-else"}, r'not an rbtrainer game record \(no "format"'),
        ({"version": 2}, "version 2 is not supported; this rbtrainer reads version 1"),
        ({"game": "chess"}, "unknown game 'chess'"),
        ({"seats": ["player_1", "player_2", "player_3"]}, r"actions\[0\] has 2 entries but the record has 3 seats"),
        ({"seed": "zero"}, "seed must be a non-negative int"),
        ({"actions": [[-1, -1]]}, r"actions\[0\] has no acting seat"),
        ({"result": {"winner": 1}}, "result must be an object with winner, returns and length"),
        ({"extra": 1}, r"unknown entries \['extra'\]"),
    ],
)
def test_bad_record_files(change: object, message: str, tmp_path) -> None:
    data = {**_ttt_record().to_json(), **change} if isinstance(change, dict) else change
    path = _write(tmp_path, data)
    with pytest.raises(ValueError, match=message) as info:
        GameRecord.load(path)
    assert str(info.value).startswith(path)  # the message names the file


def test_records_from_another_game_or_seat_layout(tmp_path) -> None:
    record = _ttt_record()
    path = record.save(tmp_path / "ttt.json")
    loaded = GameRecord.load(path)
    with pytest.raises(ValueError, match=f"{path}: the record is a tictactoe game.*asks for game='connect_four'"):
        loaded.check_env_args({"game": "connect_four"}, what="--env")
    loaded.check_env_args({"game": "tictactoe"})
    # a connect-four record whose seats are tic-tac-toe's: the game has other seats
    data = {**record.to_json(), "game": "connect_four"}
    with pytest.raises(ValueError, match=r"has 2 seats \['player_1', 'player_2'\], but connect_four .* \['player_0'"):
        replay_game(GameRecord.load(_write(tmp_path, data)))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        GameRecord.load(tmp_path / "missing.json")


def test_play_game_bad_input() -> None:
    two = [RandomAgent(seed=0), RandomAgent(seed=1)]
    with pytest.raises(ValueError, match=r"has 2 seats \['player_1', 'player_2'\]; give one agent per seat, got 3"):
        play_game([*two, RandomAgent()], {"game": "tictactoe"})
    with pytest.raises(TypeError, match="not an rbtrainer Agent"):
        play_game([two[0], "random"], {"game": "tictactoe"})  # type: ignore[list-item]
    with pytest.raises(ValueError, match="cannot draw frames"):
        play_game(two, {"game": "matrix_game"}, render=True)
    with pytest.raises(ValueError, match="leave out render_mode"):
        play_game(two, {"game": "tictactoe", "render_mode": "ansi"})
    with pytest.raises(ValueError, match="unknown game 'chess'"):
        play_game(two, {"game": "chess"})
    with pytest.raises(ValueError, match=r"env_args: unknown argument\(s\) \['size'\]"):
        play_game(two, {"game": "tictactoe", "size": 4})


def test_records_of_non_json_arguments_play_but_do_not_save(tmp_path) -> None:
    env_args = {"game": "robot_delivery", "layout": DEFAULT_LAYOUT, "max_step": 10}
    played = play_game([RandomAgent(seed=0), RandomAgent(seed=1)], env_args, seed=1)
    assert replay_game(played.record).result == played.result
    with pytest.raises(ValueError, match=r"env_args\['layout'\] = .* cannot be written to a game record"):
        played.record.save(tmp_path / "x.json")


# ------------------------------------------------------------------------------ rbtrainer play
def test_play_record_and_replay_on_the_command_line(tmp_path, capsys) -> None:
    gif, rec = tmp_path / "game.gif", tmp_path / "game.json"
    argv = ["play", "--env", "game=tictactoe", "--agents", "minimax", "random", "--seed", "2"]
    assert main([*argv, "--gif", str(gif), "--record", str(rec)]) == 0
    out = capsys.readouterr().out
    assert "tictactoe, seed 2: player_1 minimax, player_2 random" in out
    result_line = next(line for line in out.splitlines() if line.startswith("winner:"))
    assert "length:" in result_line and "returns: player_1" in result_line
    assert gif.stat().st_size > 0 and GameRecord.load(rec).agents == ("minimax", "random")
    gif2 = tmp_path / "replay.gif"
    assert main(["play", "--replay", str(rec), "--gif", str(gif2), "--fps", "5"]) == 0
    out = capsys.readouterr().out
    assert f"replayed {rec}" in out and result_line in out and gif2.stat().st_size > 0
    assert main(["play", "--env", "game=tictactoe", "--agents", "random"]) == 0  # one spec fills every seat
    assert "player_1 random, player_2 random" in capsys.readouterr().out


def test_play_a_checkpoint(tmp_path, capsys) -> None:
    from rbtrainer.agents import DQNConfig, dqn_agent
    from rbtrainer.checkpoint import save_agents
    from rbtrainer.trainer import DecentralizedTrainer

    config = DQNConfig(hidden_sizes=(8,))
    trainer = DecentralizedTrainer({"game": "tictactoe"}, num_train_envs=1, num_test_envs=1)
    learner = dqn_agent(trainer.observation_space(0), trainer.action_space(0), config=config, seed=0)
    path = save_agents(tmp_path / "ttt.pt", [learner, learner], {"env": {"game": "tictactoe"}, "dqn": vars(config)})
    assert main(["play", "--checkpoint", path, "--record", str(tmp_path / "g.json")]) == 0
    out = capsys.readouterr().out
    assert "tictactoe, seed 0: player_1 ttt.pt, player_2 ttt.pt" in out and "winner:" in out
    assert main(["play", "--replay", str(tmp_path / "g.json")]) == 0  # the learner played deterministically
    capsys.readouterr()
    # in --agents, without --env: the game the first checkpoint among the specs records, as eval plays
    assert main(["play", "--agents", "random", path]) == 0
    assert "tictactoe, seed 0: player_1 random, player_2 ttt.pt" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["play", "--checkpoint", path, "--env", "game=connect_four"])
    assert info.value.code == 2 and "trained on 'tictactoe'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "game=tictactoe"], "say who plays: --agents"),
        (["--env", "game=tictactoe", "--agents", "random", "random", "random"], "give one spec per seat"),
        (["--env", "game=tictactoe", "--agents", "wizard"], "unknown agent spec 'wizard'"),
        (["--env", "game=matrix_game", "--agents", "random", "--gif", "x.gif"], "cannot draw frames"),
        (["--env", "game=tictactoe", "--agents", "random", "--fps", "0"], "fps must be"),
        (["--agents", "random", "--checkpoint", "x.pt"], "give either --checkpoint"),
        (["--replay", "RECORD", "--agents", "random"], "--replay plays the recorded moves"),
        (["--replay", "RECORD", "--env", "game=connect_four"], "the record is a tictactoe game"),
        (["--replay", "RECORD", "--seed", "9"], "recorded with seed 0, not 9"),
        (["--replay", "no-such-record.json"], "does not exist"),
        (["--replay", "NOT_A_RECORD"], "notes.json: not an rbtrainer game record"),
    ],
)
def test_play_bad_input_exits_2(argv: list[str], message: str, tmp_path, capsys) -> None:
    record = _ttt_record().save(tmp_path / "ttt.json")
    (tmp_path / "notes.json").write_text('{"hello": 1}')
    argv = [{"RECORD": record, "NOT_A_RECORD": str(tmp_path / "notes.json")}.get(a, a) for a in argv]
    with pytest.raises(SystemExit) as info:
        main(["play", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("rbtrainer play: error: ") and err.count("\n") == 1 and message in err
