"""Checkpoints: strict and partial loading, loads that fail without side effects, metadata that
always loads back, damaged files, stale temporary files, and ``rbtrainer test`` on another game."""

from __future__ import annotations

import collections
import copy
import dataclasses
import enum
import os
import pickle
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import RecordingLearner

from rbtrainer import DecentralizedTrainer, RandomAgent, dqn_agent, ppo_agent
from rbtrainer.callbacks import EpsilonSchedule
from rbtrainer.checkpoint import Checkpoint, LoadResult, load_agents, read_checkpoint, save_agents
from rbtrainer.cli import main
from rbtrainer.files import atomic_write

ROOT = Path(__file__).resolve().parents[1]
FIRST_LAYER = "algorithm.policy.model.model.model.0.weight"
TARGET_FIRST_LAYER = "algorithm.model_old.module.model.model.0.weight"


def _robot_learner(num_robots: int, seed: int = 0, **kwargs: Any):
    """A DQN for a robot-game seat with ``num_robots`` robots (3 values per robot, 5 actions)."""
    space = gym.spaces.Box(0.0, 1.0, shape=(3 * num_robots,), dtype=np.float32)
    return dqn_agent(space, gym.spaces.Discrete(5), seed=seed, hidden_sizes=(16, 16), **kwargs)


def _tensors(learner) -> dict[str, torch.Tensor]:
    """The learner's tensors, named as load reports name them."""
    state = learner.state_dict()["algorithm"]
    return {f"algorithm.{k}": v.clone() for k, v in state.items() if isinstance(v, torch.Tensor)}


def _same(a: Any, b: Any) -> bool:
    """Deep equality of two state dicts (tensors compared exactly)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _step_optimizer(learner) -> None:
    """One Adam step on a dummy loss, so the optimiser has moments to save and to lose."""
    loss = sum((p**2).sum() for p in learner.policy.model.parameters())
    learner.algorithm._optimizers[0].step(loss)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# ------------------------------------------------------------------------------ strict loads
def test_strict_round_trip_restores_networks_and_optimisers(tmp_path):
    source = _robot_learner(3, seed=1)
    _step_optimizer(source)
    path = save_agents(tmp_path / "a.pt", [source, source, RandomAgent()], {"note": "x"})
    target = _robot_learner(3, seed=2)
    result = load_agents(path, [target, target, RandomAgent()])
    assert isinstance(result, LoadResult)
    assert (
        result == {"note": "x"} and result["note"] == "x" and dict(result) == {"note": "x"}
    )  # the metadata, as before
    assert result.skipped == () and result.overlapped == () and result.fresh_optimizers == ()
    assert result.checkpoint_seats == (0, 0, -1)
    assert _same(target.state_dict(), source.state_dict())  # weights and Adam moments alike


def test_failed_load_leaves_every_learner_untouched(tmp_path):
    fits, other = _robot_learner(3, seed=1), _robot_learner(3, seed=2)
    _step_optimizer(fits)
    _step_optimizer(other)
    path = save_agents(tmp_path / "a.pt", [fits, other])
    # the first learner fits, the second was built for 4 robots: nothing may be loaded
    first, second = _robot_learner(3, seed=3), _robot_learner(4, seed=4)
    before = [copy.deepcopy(first.state_dict()), copy.deepcopy(second.state_dict())]
    with pytest.raises(ValueError) as info:
        load_agents(path, [first, second])
    message = str(info.value)
    assert "learner 1 ('dqn')" in message and FIRST_LAYER in message
    assert "shape (16, 9) in the checkpoint, shape (16, 12) in the learner" in message
    assert "left unchanged" in message and "strict=False" in message
    assert _same(first.state_dict(), before[0]) and _same(second.state_dict(), before[1])


def test_kind_mismatch_is_found_before_anything_loads(tmp_path):
    space, actions = gym.spaces.Box(0.0, 1.0, shape=(9,), dtype=np.float32), gym.spaces.Discrete(5)
    dqn, ppo = _robot_learner(3, seed=1), ppo_agent(space, actions, seed=2)
    path = save_agents(tmp_path / "a.pt", [dqn, ppo])
    first, second = _robot_learner(3, seed=3), _robot_learner(3, seed=4)
    before = copy.deepcopy(first.state_dict())
    with pytest.raises(ValueError, match="checkpoint holds a OnPolicyLearner as learner 1"):
        load_agents(path, [first, second])
    assert _same(first.state_dict(), before)


def test_a_load_failing_midway_restores_the_learners_loaded_so_far(tmp_path, monkeypatch):
    path = save_agents(tmp_path / "a.pt", [_robot_learner(3, seed=1), _robot_learner(3, seed=2)])
    first, second = _robot_learner(3, seed=3), _robot_learner(3, seed=4)
    before = copy.deepcopy(first.state_dict())

    def broken(state: dict[str, Any], strict: bool = True) -> None:
        raise RuntimeError("device lost")

    monkeypatch.setattr(second, "load_state_dict", broken)
    with pytest.raises(RuntimeError, match="device lost"):
        load_agents(path, [first, second])
    assert _same(first.state_dict(), before)


def test_load_arguments_are_checked(tmp_path):
    path = save_agents(tmp_path / "a.pt", [_robot_learner(3)])
    with pytest.raises(ValueError, match="overlap=True needs strict=False"):
        load_agents(path, [_robot_learner(3)], overlap=True)
    with pytest.raises(TypeError, match="strict and overlap must be bools"):
        load_agents(path, [_robot_learner(3)], strict="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no learner"):
        load_agents(path, [RandomAgent()])


# ----------------------------------------------------------------------------- partial loads
def test_partial_load_skips_tensors_of_other_shapes_and_reports_them(tmp_path):
    source = _robot_learner(3, seed=1)
    _step_optimizer(source)
    path = save_agents(tmp_path / "three.pt", [source] * 3, {"robots": 3})
    target = _robot_learner(4, seed=2)
    before = _tensors(target)
    with pytest.raises(ValueError, match="seat layout differs"):
        load_agents(path, [target] * 4)
    result = load_agents(path, [target] * 4, strict=False)  # 4 seats: the layout may differ
    assert result == {"robots": 3} and result.checkpoint_seats == (0, 0, 0)
    assert {(s.name, s.checkpoint_shape, s.learner_shape) for s in result.skipped} == {
        (FIRST_LAYER, (16, 9), (16, 12)),
        (TARGET_FIRST_LAYER, (16, 9), (16, 12)),
    }
    assert all(s.learner == 0 and s.learner_name == "dqn" for s in result.skipped)
    assert "shape (16, 9) in the checkpoint, shape (16, 12) in the learner" in str(result.skipped[0])
    assert result.fresh_optimizers == (0,)  # its Adam state stays fresh
    after, saved = _tensors(target), _tensors(source)
    for name, value in after.items():
        expected = before[name] if name in (FIRST_LAYER, TARGET_FIRST_LAYER) else saved[name]
        assert torch.equal(value, expected), name
    assert target.state_dict()["algorithm"]["_optimizers"][0]["state"] == {}


def test_partial_load_with_overlap_copies_the_shared_block(tmp_path):
    source = _robot_learner(3, seed=1)
    path = save_agents(tmp_path / "three.pt", [source])
    target = _robot_learner(4, seed=2)
    before, saved = _tensors(target), _tensors(source)
    result = load_agents(path, [target], strict=False, overlap=True)
    assert result.skipped == () and result.fresh_optimizers == (0,)
    assert {(s.name, s.checkpoint_shape, s.learner_shape) for s in result.overlapped} == {
        (FIRST_LAYER, (16, 9), (16, 12)),
        (TARGET_FIRST_LAYER, (16, 9), (16, 12)),
    }
    weight = _tensors(target)[FIRST_LAYER]
    assert torch.equal(weight[:, :9], saved[FIRST_LAYER]) and torch.equal(weight[:, 9:], before[FIRST_LAYER][:, 9:])
    # a checkpoint of the same shapes loads exactly, optimiser included
    same = _robot_learner(3, seed=5)
    result = load_agents(path, [same], strict=False, overlap=True)
    assert result.skipped == result.overlapped == () and result.fresh_optimizers == ()
    assert _same(same.state_dict(), source.state_dict())


def test_partial_load_still_needs_matching_learner_counts_and_kinds(tmp_path):
    path = save_agents(tmp_path / "a.pt", [_robot_learner(3, seed=1)])
    with pytest.raises(ValueError, match="agents hold 2 distinct learners but the checkpoint"):
        load_agents(path, [_robot_learner(3), _robot_learner(3)], strict=False)
    space = gym.spaces.Box(0.0, 1.0, shape=(9,), dtype=np.float32)
    with pytest.raises(ValueError, match="checkpoint holds a OffPolicyLearner"):
        load_agents(path, [ppo_agent(space, gym.spaces.Discrete(5), seed=0)], strict=False)


ROBOTS_3 = {"robot_colors": ["r", "b", "gr"], "max_step": 100, "required_mail": 2}
ROBOTS_4 = {**ROBOTS_3, "robot_colors": ["r", "b", "gr", "y"]}
LEARNING = {
    "num_train_envs": 8,
    "num_test_envs": 8,
    "episodes_per_test": 64,
    "test_freq": 10**6,  # no test rounds while training: only the final comparison
    "update_freq": 100,
    "update_per_step": 0.25,
    "progress_bar": False,
}
TRANSFER_MARGIN = 0.5


def _train_self_play(trainer: DecentralizedTrainer, learner, start_epsilon: float, episodes: int) -> float:
    trainer.train_fn = EpsilonSchedule(learners=[learner], start=start_epsilon, end=0.05, episodes=episodes // 2)
    trainer.train([learner] * trainer.num_seats, [True] * trainer.num_seats, plot=False)
    return trainer.test([learner] * trainer.num_seats).reward_metric


@pytest.mark.learning
def test_agents_trained_with_3_robots_give_a_head_start_with_4(tmp_path):
    """A 3-robot DQN loaded into a 4-robot learner (strict=False, overlap=True) beats a fresh learner
    after the same 30 training episodes, by >= TRANSFER_MARGIN reward points."""
    three = DecentralizedTrainer(ROBOTS_3, episodes_per_train=120, seed=0, plot_dir=tmp_path, **LEARNING)
    source = dqn_agent(
        three.observation_space(0), three.action_space(0), seed=1, hidden_sizes=(64, 64), n_step=3, lr=3e-3
    )
    trained = _train_self_play(three, source, 1.0, 120)
    random = three.test([RandomAgent(seed=s) for s in range(3)]).reward_metric
    assert trained >= random + 3.0, f"the 3-robot source did not learn: {trained:.2f} vs random {random:.2f}"
    path = save_agents(tmp_path / "three_robots.pt", [source] * 3)

    scores = {}
    for kind in ("fresh", "loaded"):
        four = DecentralizedTrainer(ROBOTS_4, episodes_per_train=30, seed=10, plot_dir=tmp_path, **LEARNING)
        learner = dqn_agent(
            four.observation_space(0), four.action_space(0), seed=2, hidden_sizes=(64, 64), n_step=3, lr=1e-3
        )
        if kind == "loaded":
            plain = load_agents(path, [learner] * 4, strict=False)
            assert {(s.name, s.checkpoint_shape, s.learner_shape) for s in plain.skipped} == {
                (FIRST_LAYER, (64, 9), (64, 12)),
                (TARGET_FIRST_LAYER, (64, 9), (64, 12)),
            }
            # plain partial loading gives the input layer a fresh start; overlap keeps the columns
            # of the robot itself and of two others, which read the same values with 4 robots
            result = load_agents(path, [learner] * 4, strict=False, overlap=True)
            assert {s.name for s in result.overlapped} == {FIRST_LAYER, TARGET_FIRST_LAYER}
        scores[kind] = _train_self_play(four, learner, 0.3, 30)
    assert scores["loaded"] >= scores["fresh"] + TRANSFER_MARGIN, scores


# ------------------------------------------------------------------------------------ metadata
class Colour(enum.Enum):
    RED = "r"


class Name(str):
    pass


@dataclasses.dataclass
class Settings:
    lr: float = 0.1


Pair = collections.namedtuple("Pair", "a b")


def _accepted_metadata() -> dict[str, Any]:
    return {
        "none": None,
        "flags": [True, False],
        "numbers": (3, 2.5, -1, 10**30),
        "text": "s",
        "raw": b"\x00\x01",
        "tensor": torch.arange(3.0),
        "nested": {"a": {1: "int key", 2.5: "float key", None: "none key"}, "list": [[1, 2], (3, 4)]},
        "np_int": np.int64(3),
        "np_float": np.float32(1.5),
        "np_bool": np.bool_(True),
        "np_str": np.str_("w"),
        "path": Path("runs") / "a",
        "np_key": {np.int64(7): "seven"},
        "ordered": collections.OrderedDict(b=1, a=2),
        "proxy": types.MappingProxyType({"x": 1}),
    }


def test_accepted_metadata_round_trips_and_is_not_modified(tmp_path):
    metadata = _accepted_metadata()
    path = save_agents(tmp_path / "a.pt", [_robot_learner(3)], metadata)
    untouched = _accepted_metadata()
    assert all(_same(metadata[k], untouched[k]) for k in untouched) and type(metadata["np_int"]) is np.int64
    loaded = dict(load_agents(path, [_robot_learner(3)]))
    expected = {
        **{k: untouched[k] for k in ("none", "flags", "numbers", "text", "raw", "tensor", "nested")},
        "np_int": 3,
        "np_float": 1.5,
        "np_bool": True,
        "np_str": "w",
        "path": os.path.join("runs", "a"),
        "np_key": {7: "seven"},
        "ordered": {"b": 1, "a": 2},
        "proxy": {"x": 1},
    }
    assert _same(loaded, expected)
    for key, kind in (("np_int", int), ("np_float", float), ("np_bool", bool), ("np_str", str), ("path", str)):
        assert type(loaded[key]) is kind, key
    assert type(loaded["numbers"]) is tuple and type(loaded["nested"]["list"][1]) is tuple


def _cycle() -> list[Any]:
    items: list[Any] = [1]
    items.append(items)
    return items


@pytest.mark.parametrize(
    ("metadata", "where", "fix"),
    [
        ({"scores": np.zeros(3)}, "metadata['scores'] is a numpy.ndarray", "value.tolist()"),
        ({"run": {"seen": {1, 2}}}, "metadata['run']['seen'] is a builtins.set", "sorted(value)"),
        ({"frozen": frozenset({1})}, "metadata['frozen'] is a builtins.frozenset", "sorted(value)"),
        ({"colour": Colour.RED}, "metadata['colour'] is a test_checkpoint.Colour", "value.value"),
        ({"cfg": Settings()}, "metadata['cfg'] is a test_checkpoint.Settings", "dataclasses.asdict(value)"),
        ({"pair": Pair(1, 2)}, "metadata['pair'] is a test_checkpoint.Pair", "value._asdict()"),
        ({"name": Name("x")}, "metadata['name'] is a test_checkpoint.Name", "str(value)"),
        ({"list": [1, object()]}, "metadata['list'][1] is a builtins.object", "convert it"),
        ({"when": np.datetime64("2024-01-01")}, "metadata['when'] is a numpy.datetime64", "convert it"),
        ({"fn": len}, "metadata['fn'] is a builtins.builtin_function_or_method", "convert it"),
        ({"table": {(1, 2): "x"}}, "metadata['table'] has the key (1, 2) of type tuple", "str(key)"),
        ({"loop": _cycle()}, "metadata['loop'][1] contains itself", "trees of values"),
        ({"paths": {Path("a"): 1, "a": 2}}, "metadata['paths'] has the keys PosixPath('a') and 'a'", "distinct"),
        ([("a", 1)], "metadata must be a mapping", "dict"),
    ],
)
def test_metadata_that_would_not_load_is_refused_before_writing(tmp_path, metadata, where, fix):
    if os.name != "posix" and "PosixPath" in where:
        pytest.skip("path repr differs off POSIX")
    target = tmp_path / "a.pt"
    with pytest.raises(TypeError) as info:
        save_agents(target, [_robot_learner(3)], metadata)
    assert where in str(info.value) and fix in str(info.value)
    assert list(tmp_path.iterdir()) == []  # neither the checkpoint nor a temporary file


class NumpyStateLearner(RecordingLearner):
    """A learner whose state holds a NumPy scalar, which torch.load(weights_only=True) refuses."""

    def state_dict(self) -> dict[str, Any]:
        return {"updates": np.int64(3)}


def test_learner_states_are_checked_too(tmp_path):
    with pytest.raises(TypeError, match=r"state_dict\(\) of learner 0 \('recorder'\)\['updates'\]"):
        save_agents(tmp_path / "a.pt", [NumpyStateLearner()])
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------- damaged files
def _half_checkpoint(path: Path) -> bytes:
    data = Path(save_agents(path.with_name("whole.pt"), [_robot_learner(3)])).read_bytes()
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("empty", "is empty (0 bytes)"),
        ("random bytes", "cannot be read: it is truncated, damaged or not a file written by save_agents"),
        ("half a checkpoint", "cannot be read: it is truncated, damaged or not a file written by save_agents"),
        ("a pickle of something else", "cannot be read: it is truncated, damaged or not a file written by"),
        ("a torch file of another dict", "is not an rbtrainer checkpoint (format 1, written by save_agents)"),
        ("a torch file of a list", "is not an rbtrainer checkpoint"),
        ("a damaged checkpoint", "is a damaged rbtrainer checkpoint: it has no valid seat -> learner map"),
    ],
)
@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")  # torch, on the foreign pickle
def test_damaged_files_give_an_error_naming_the_file(tmp_path, kind, message):
    path = tmp_path / "agents.pt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(37))
    elif kind == "half a checkpoint":
        path.write_bytes(_half_checkpoint(path))
    elif kind == "a pickle of something else":
        path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    elif kind == "a torch file of another dict":
        torch.save({"weights": torch.zeros(2)}, path)
    elif kind == "a torch file of a list":
        torch.save([torch.zeros(2)], path)
    else:
        payload = torch.load(save_agents(path, [_robot_learner(3)]), weights_only=True)
        payload["seat_to_learner"] = [5]
        torch.save(payload, path)
    learner = _robot_learner(3)
    before = copy.deepcopy(learner.state_dict())
    for reader in (read_checkpoint, lambda p: load_agents(p, [learner])):
        with pytest.raises(ValueError) as info:
            reader(path)
        assert str(path) in str(info.value) and message in str(info.value)
        assert "weights_only=False" not in str(info.value)  # never advise an unsafe load
    assert _same(learner.state_dict(), before)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_checkpoint(tmp_path / "nothing.pt")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        read_checkpoint(tmp_path)


# ---------------------------------------------------------------------------- stale temporaries
_KILLED_WRITER = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("rbtrainer_files", sys.argv[1])
files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(files)
with files.atomic_write(sys.argv[2]) as handle:
    handle.write(b"half a file")
    handle.flush()
    print(handle.name, flush=True)
    time.sleep(120)
"""


@pytest.mark.skipif(os.name != "posix", reason="kill -9 and advisory locks are POSIX")
def test_next_write_removes_stale_temporaries_of_that_target_only(tmp_path):
    target = tmp_path / "agents.pt"
    precious = tmp_path / "precious.bin"
    precious.write_bytes(b"keep")
    keep = [
        ".other.pt.0123abcd.tmp",  # another target
        ".agents.pt.0123abcd.tmp.bak",
        "agents.pt.0123abcd.tmp",  # no leading dot
        ".agents.pt.0123ABCD.tmp",  # not lowercase hex
        ".agents.pt.0123abc.tmp",  # 7 digits
        ".agents.pt.tmp",
        ".xagents.pt.0123abcd.tmp",
        ".agents.pt.0123abcd.0123abcd.tmp",
    ]
    for name in keep:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / ".agents.pt.feedface.tmp").symlink_to(precious)  # matches, but links are never touched
    keep.append(".agents.pt.feedface.tmp")
    (tmp_path / ".agents.pt.deadbeef.tmp").write_bytes(b"stale")  # an old interrupted write
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(ROOT / "rbtrainer" / "files.py"), str(target)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        live = Path(writer.stdout.readline().strip())  # type: ignore[union-attr]
        assert live.parent == tmp_path and live.exists()
        with atomic_write(target) as handle:  # a live writer's temporary file is kept
            handle.write(b"one")
        assert live.exists() and not (tmp_path / ".agents.pt.deadbeef.tmp").exists()
    finally:
        writer.kill()  # SIGKILL: no clean-up in the writer
        writer.wait()
    assert live.exists()
    with atomic_write(target) as handle:
        handle.write(b"two")
    assert not live.exists()
    assert target.read_bytes() == b"two" and precious.read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*keep, "agents.pt", "precious.bin"])


def test_stale_temporaries_of_names_with_pattern_characters(tmp_path):
    (tmp_path / ".run[1]+.pt.0123abcd.tmp").write_bytes(b"stale")
    (tmp_path / ".run1+.pt.0123abcd.tmp").write_bytes(b"other")
    (tmp_path / ".run[1].pt.0123abcd.tmp").write_bytes(b"other")
    with atomic_write(tmp_path / "run[1]+.pt") as handle:
        handle.write(b"x")
    assert _leftovers(tmp_path) == [".run1+.pt.0123abcd.tmp", ".run[1].pt.0123abcd.tmp"]


# ------------------------------------------------------------------------- rbtrainer test (CLI)
TEST_FLAGS = ["--num-test-envs", "3", "--episodes-per-test", "3"]


def _cli_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rbtrainer {argv[0]}: error: ") and err.count("\n") == 1
    return err


def test_cli_test_names_the_game_of_the_checkpoint(tmp_path, capsys):
    robots = tmp_path / "robots.pt"
    save_agents(robots, [_robot_learner(3)] * 3, {"env": ROBOTS_3, "dqn": {"hidden_sizes": (16, 16)}})
    err = _cli_error(["test", "--checkpoint", str(robots), "--env", "game=tictactoe", *TEST_FLAGS], capsys)
    assert f"checkpoint {robots} holds agents trained on 'robot_delivery'" in err and "not on 'tictactoe'" in err
    assert "robot_colors" in err and "unexpected" not in err  # the checkpoint's arguments, named as such

    ttt = DecentralizedTrainer({"game": "tictactoe"}, progress_bar=False)
    learner = dqn_agent(ttt.observation_space(0), ttt.action_space(0), hidden_sizes=(8,), seed=0)
    board = tmp_path / "ttt.pt"
    save_agents(board, [learner, learner], {"env": {"game": "tictactoe"}, "dqn": {"hidden_sizes": (8,)}})
    err = _cli_error(["test", "--checkpoint", str(board), "--env", "game=connect_four", *TEST_FLAGS], capsys)
    assert "trained on 'tictactoe'" in err and "not on 'connect_four'" in err and "size mismatch" not in err
    # the same game with other arguments: the message says what the checkpoint was trained on
    err = _cli_error(["test", "--checkpoint", str(robots), "--env", "robot_colors=['r', 'b']", *TEST_FLAGS], capsys)
    assert "was trained on 'robot_delivery' with env {'robot_colors': ['r', 'b', 'gr']" in err
    assert "do not fit 'robot_delivery'" in err and "use the game arguments it was trained with" in err


def test_cli_test_with_a_damaged_checkpoint(tmp_path, capsys):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    err = _cli_error(["test", "--checkpoint", str(empty), *TEST_FLAGS], capsys)
    assert f"checkpoint '{empty}' is empty" in err


# ------------------------------------------------------------------------- Checkpoint (the reader)
def test_checkpoint_reader_answers_game_env_metadata_and_agents(tmp_path):
    learner = _robot_learner(3)
    dqn = {"hidden_sizes": (16, 16)}
    path = save_agents(tmp_path / "robots.pt", [learner, RandomAgent(), learner], {"env": ROBOTS_3, "dqn": dqn})
    saved = Checkpoint.read(path)
    assert saved.path == path and saved.seat_to_learner == (0, -1, 0) and saved.num_learners == 1
    assert saved.game == "robot_delivery" and saved.env_args == ROBOTS_3  # no "game": the default game
    assert saved.metadata["dqn"] == dqn
    # the recorded arguments updated by the caller's; another game is refused, naming both
    assert saved.env_args_for({"max_step": 7}) == {**ROBOTS_3, "max_step": 7}
    with pytest.raises(ValueError, match=r"trained on 'robot_delivery' \(env \{'robot_colors'.*'tictactoe'; hint"):
        saved.env_args_for({"game": "tictactoe"}, hint="; hint")
    saved.check_game("robot_delivery")
    space = gym.spaces.Box(0.0, 1.0, shape=(9,), dtype=np.float32)
    with pytest.raises(ValueError, match=r"has no learner for seat\(s\) \['b1'\]"):
        saved.agents(["r1", "b1", "gr1"], [space] * 3, [gym.spaces.Discrete(5)] * 3)
    with pytest.raises(ValueError, match=r"holds agents for 3 seats, but the game has 2 seats"):
        saved.check_seats(["r1", "b1"])
    rebuilt = saved.learner(space, gym.spaces.Discrete(5))
    assert _same(rebuilt.state_dict()["algorithm"], learner.state_dict()["algorithm"])

    both = save_agents(tmp_path / "both.pt", [learner, learner], {"env": {"game": "tictactoe"}, "dqn": dqn})
    agents = Checkpoint.read(both).agents(["a", "b"], [space] * 2, [gym.spaces.Discrete(5)] * 2)
    assert agents[0] is agents[1]  # one object per saved learner
    assert Checkpoint.read(both).game == "tictactoe"


def test_checkpoint_reader_without_a_recorded_game(tmp_path):
    learner = _robot_learner(3)
    bare = Checkpoint.read(save_agents(tmp_path / "bare.pt", [learner]))
    assert bare.game is None and bare.env_args is None and bare.metadata == {}
    bare.check_game("connect_four")  # a checkpoint that records no game fits every game
    assert bare.env_args_for({"game": "tictactoe"}) == {"game": "tictactoe"}
    odd = Checkpoint.read(save_agents(tmp_path / "odd.pt", [learner], {"env": "robots"}))
    with pytest.raises(ValueError, match="its metadata 'env' is not a table of game arguments"):
        _ = odd.game
