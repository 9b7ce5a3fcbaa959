"""Rule-book conformance of the robot-delivery game (spec §5-§11, §13, §18)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from games.robot_delivery import AStarAgent, GameOverError, RobotDeliveryEnv
from games.robot_delivery.board import DEFAULT_LAYOUT, BoardLayout, board_for
from games.robot_delivery.rules import RobotDeliveryConfig


def two_robot_game(
    with_battery: bool = False,
    r1: tuple[int, int] = (4, 4),
    b1: tuple[int, int] = (6, 6),
    mail: int = 0,
    stand_count: int = 0,
    energy: float | None = None,
    **kwargs: object,
) -> RobotDeliveryEnv:
    """A reset 2-player game with r1 and b1 put where a test needs them."""
    env = RobotDeliveryEnv(robot_colors=["r", "b"], with_battery=with_battery, **kwargs)  # type: ignore[arg-type]
    env.reset(seed=0)
    game = env.game
    if game.position[0] == game.board.cell(*b1):
        game.place(0, *r1)
        game.place(1, *b1)
    else:
        game.place(1, *b1)
        game.place(0, *r1)
    game.place(0, *r1, mail=mail, stand_count=stand_count)
    if energy is not None:
        game.set_energy(0, energy)
    return env


def mask_of(env: RobotDeliveryEnv, agent: str = "r1") -> list[int]:
    return env.observe(agent)["action_mask"].tolist()


# §18 conformance table: (battery, r1 position, mail, stand_count, energy, b1 position, mask)
CONFORMANCE = [
    (False, (4, 4), 0, 0, None, (6, 6), [1, 1, 1, 1, 1]),
    (False, (1, 0), 0, 0, None, (6, 6), [0, 0, 1, 0, 0]),
    (False, (1, 0), 4, 0, None, (6, 6), [0, 0, 1, 0, 1]),
    (False, (2, 6), 0, 0, None, (6, 6), [1, 1, 1, 1, 1]),
    (False, (2, 6), 5, 0, None, (6, 6), [1, 1, 0, 1, 1]),
    (False, (2, 7), 5, 0, None, (6, 6), [0, 1, 0, 1, 1]),
    (False, (2, 7), 5, 0, None, (3, 7), [0, 1, 0, 1, 0]),
    (False, (1, 7), 1, 0, None, (6, 6), [1, 1, 0, 1, 0]),
    (False, (1, 7), 2, 0, None, (6, 6), [1, 1, 0, 0, 0]),
    (False, (1, 3), 3, 0, None, (6, 6), [1, 1, 1, 1, 1]),
    (False, (0, 2), 0, 0, None, (6, 6), [0, 1, 1, 0, 1]),
    (False, (0, 3), 0, 0, None, (6, 6), [0, 0, 0, 0, 1]),
    (False, (4, 4), 0, 5, None, (6, 6), [0, 1, 1, 1, 1]),
    (False, (4, 4), 0, 5, None, (4, 3), [0, 0, 1, 1, 1]),
    (True, (0, 0), 0, 0, 6.9, (6, 6), [1, 0, 0, 0, 0]),
    (True, (0, 0), 0, 0, 7.0000000000000036, (6, 6), [1, 0, 1, 0, 1]),
    (True, (0, 0), 0, 0, 8.5, (6, 6), [0, 0, 1, 0, 1]),
    (True, (1, 0), 0, 0, 4.0, (6, 6), [1, 0, 1, 1, 0]),
    (True, (1, 0), 0, 0, 4.0000000000000036, (6, 6), [0, 0, 1, 0, 0]),
    (True, (4, 4), 0, 0, 0.0, (6, 6), [1, 0, 0, 0, 0]),
    (True, (4, 4), 0, 5, 0.0, (6, 6), [0, 0, 0, 0, 0]),
    (True, (4, 4), 0, 0, 1e-15, (6, 6), [1, 1, 1, 1, 1]),
]


@pytest.mark.parametrize(("battery", "r1", "mail", "stand", "energy", "b1", "expected"), CONFORMANCE)
def test_conformance_masks(battery, r1, mail, stand, energy, b1, expected):
    env = two_robot_game(with_battery=battery, r1=r1, b1=b1, mail=mail, stand_count=stand, energy=energy)
    assert mask_of(env) == expected


def test_mask_dtype_and_space():
    env = two_robot_game()
    obs = env.observe("r1")
    assert obs["action_mask"].dtype == np.int8
    assert env.observation_space("r1").contains(obs)


def test_observation_example_without_battery():
    env = two_robot_game(r1=(4, 4), b1=(6, 6))
    obs = env.observe("r1")["observation"]
    assert obs.dtype == np.float32
    np.testing.assert_array_equal(obs, np.array([0.5, 0.5, 0.0, 0.75, 0.75, 0.0], dtype=np.float32))


def test_observation_example_with_battery():
    env = two_robot_game(with_battery=True, r1=(0, 0), b1=(6, 6), energy=6.9)
    obs = env.observe("r1")["observation"]
    expected = np.array([0, 0, 0, np.float32(0.7), 0.75, 0.75, 0, 1.0], dtype=np.float32)
    np.testing.assert_array_equal(obs, expected)
    assert obs[3] == np.float32(0.699999988)


def test_observation_puts_observer_first_then_agent_order():
    env = RobotDeliveryEnv(robot_colors=["r", "b"], num_robots_per_player=2)
    env.reset(seed=3)
    game = env.game
    feats = {name: game.observation(k)[:3] for k, name in enumerate(env.possible_agents)}
    view = env.observe("b1")["observation"].reshape(4, 3)
    for row, name in zip(view, ["b1", "r1", "r2", "b2"]):
        np.testing.assert_array_equal(row, feats[name])


def test_pick_up_then_mail_regenerates_when_leaving():
    env = two_robot_game(r1=(2, 6))
    game = env.game
    green = game.board.cell(2, 7)
    waiting = game.green_mail[green]
    env.step(2)  # r1 moves down onto green (2,7)
    assert env.rewards["r1"] == pytest.approx(1.0)
    assert game.mail[0] == waiting
    assert game.green_mail[green] == waiting  # nothing new while the robot sits there
    env.step(0)  # b1 stands
    draws_before = game._rng.getstate()
    env.step(1)  # r1 leaves upwards
    assert game._rng.getstate() != draws_before  # a new mail was drawn on departure
    assert game.green_mail[green] in range(1, 10)
    assert game.mail[0] == waiting


def test_delivery_scores_and_wins():
    env = two_robot_game(r1=(1, 6), mail=1, required_mail=1)
    env.step(3)  # left onto yellow (0,6) which accepts mail 1
    game = env.game
    assert env.rewards["r1"] == pytest.approx(5.0)
    assert game.mail[0] == 0 and game.delivered[0] == 1
    assert env.scores == {"r": 1, "b": 0}
    assert env.winner == "r"
    assert all(env.terminations.values()) and not any(env.truncations.values())
    assert env.infos["b1"] == {"winner": "r", "game_clock": 1}


def test_delivery_without_win_keeps_playing():
    env = two_robot_game(r1=(1, 6), mail=1, required_mail=2)
    env.step(3)
    assert env.scores["r"] == 1
    assert not any(env.terminations.values())
    assert env.agent_selection == "b1"


def test_required_mail_is_validated_and_changeable():
    env = two_robot_game()
    env.required_mail = 7
    assert env.game.required_mail == 7
    with pytest.raises(ValueError, match="required_mail"):
        env.required_mail = 0


def test_truncation_at_max_step_is_a_draw():
    env = two_robot_game(max_step=3)
    for _ in range(3):
        assert not any(env.truncations.values())
        env.step(0)
    assert all(env.truncations.values())
    assert not any(env.terminations.values())
    assert env.winner is None
    assert env.infos["r1"]["winner"] is None


def test_win_on_last_step_sets_both_flags():
    env = two_robot_game(r1=(1, 6), mail=1, required_mail=1, max_step=1)
    env.step(3)
    assert env.terminations["r1"] and env.truncations["r1"]
    assert env.winner == "r"


@pytest.mark.parametrize("action", [0, 3])
def test_illegal_action_is_a_pass(action):
    env = two_robot_game(r1=(0, 3))  # pocket cell: only "right" is legal
    game = env.game
    before = (list(game.position), list(game.stand_count), game.clock)
    env.step(action)
    assert env.rewards["r1"] == pytest.approx(-0.1)
    assert (list(game.position), list(game.stand_count), game.clock) == before
    assert game.num_steps == 1
    assert env.agent_selection == "b1"


def test_invalid_action_values_raise_and_change_nothing():
    env = two_robot_game()
    with pytest.raises(ValueError, match=r"0\.\.4"):
        env.step(5)
    with pytest.raises(ValueError, match=r"0\.\.4"):
        env.step(-1)
    with pytest.raises(TypeError, match="integer"):
        env.step(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="None"):
        env.step(None)
    assert env.game.num_steps == 0 and env.agent_selection == "r1"
    env.step(np.int64(1))  # NumPy integers are fine
    assert env.game.num_steps == 1


def test_stand_rewards_and_counter():
    env = two_robot_game(r1=(4, 4))
    env.step(0)
    assert env.rewards["r1"] == pytest.approx(-0.1)
    assert env.game.stand_count[0] == 1
    env.step(0)
    env.step(1)  # r1 moves: counter cleared
    assert env.game.stand_count[0] == 0
    assert env.game.clock == 1


def test_stand_count_cleared_by_reset():
    env = two_robot_game(r1=(4, 4), stand_count=4)
    env.reset(seed=1)
    assert env.game.stand_count == [0, 0]


def test_battery_table_moving_only():
    """§8: displayed battery after k moves from a full battery (0.2 per move, 0.1 once E <= 2)."""
    table = {0: 10, 5: 10, 6: 9, 10: 9, 11: 8, 15: 8, 16: 7, 20: 7, 21: 6, 25: 6, 26: 5, 30: 5}
    table.update({31: 4, 35: 4, 36: 3, 40: 3, 41: 2, 49: 2, 50: 1, 59: 1, 60: 0})
    env = two_robot_game(with_battery=True, r1=(3, 3), b1=(6, 6), max_step=10_000)
    game = env.game
    levels = {0: game.level[0]}
    for k in range(1, 61):
        env.step(4 if k % 2 else 3)  # r1 walks right/left between (3,3) and (4,3)
        levels[k] = game.level[0]
        env.step(0)  # b1 stands (or passes once it may not stand)
    for k, expected in table.items():
        assert levels[k] == expected, f"after {k} moves"
    assert game.energy[0] == 0.0
    assert mask_of(env)[1:] == [0, 0, 0, 0]  # stranded: no move is legal at B = 0


def test_battery_drift_values():
    env = two_robot_game(with_battery=True, r1=(3, 3), max_step=10_000)
    game = env.game
    energies = []
    for k in range(1, 60):
        env.step(4 if k % 2 else 3)
        energies.append(game.energy[0])
        env.step(0)
    assert energies[4] == 9.000000000000004  # after 5 moves
    assert energies[39] == 2.0000000000000018  # after 40 moves: still > 2, next move costs 0.2
    assert 0 < energies[58] < 1e-14  # after 59 moves
    assert game.level[0] == 1


def test_charging_on_blue_and_bystander_charging():
    env = two_robot_game(with_battery=True, r1=(0, 0), b1=(4, 4), energy=3.0000000000000027)
    game = env.game
    env.step(0)  # r1 stands on blue: charges itself, reward 0
    assert env.rewards["r1"] == 0.0
    assert game.energy[0] == 4.000000000000003 and game.level[0] == 5
    env.step(1)  # b1 makes a legal move: bystander r1 on blue charges
    assert game.energy[0] == 5.000000000000003
    env.step(0)  # r1 charges again
    env.step(0)  # b1 stands: bystanders get nothing
    assert game.energy[0] == 6.000000000000003
    game.set_energy(0, 9.7)
    env.step(1)  # r1 tries to leave the board upwards: an illegal pass
    env.step(2)  # b1 moves: the bystander charge is clamped at the capacity
    assert game.energy[0] == 10.0 and game.level[0] == 10


def test_arriving_on_blue_rewards_but_does_not_charge():
    env = two_robot_game(with_battery=True, r1=(1, 0), energy=3.5)
    game = env.game
    env.step(3)  # left onto blue (0,0)
    assert env.rewards["r1"] == pytest.approx(1.0)
    assert game.energy[0] == 3.5 - 0.2
    assert game.position[0] == game.board.cell(0, 0)


def test_without_battery_energy_never_changes():
    env = two_robot_game(with_battery=False, r1=(3, 3))
    for k in range(20):
        env.step(4 if k % 2 == 0 else 3)
        env.step(0)
    assert env.game.energy[0] == 10.0 and env.game.level[0] == 10
    assert env.observe("r1")["observation"].shape == (6,)


def test_turn_order_by_player_then_robot():
    env = RobotDeliveryEnv(robot_colors=["r", "b"], num_robots_per_player=2)
    env.reset(seed=0)
    order = []
    for _ in range(8):
        order.append(env.agent_selection)
        env.step(0)
    assert order == ["r1", "r2", "b1", "b2"] * 2


def test_random_steps_per_turn_are_one_to_five():
    env = RobotDeliveryEnv(robot_colors=["r", "b", "gr"], random_num_steps=True, max_step=5000)
    env.reset(seed=11)
    runs = []
    current, length = env.agent_selection, 0
    for _ in range(3000):
        if env.agent_selection != current:
            runs.append(length)
            current, length = env.agent_selection, 0
        length += 1
        env.step(0)
    counts = Counter(runs)
    assert set(counts) == {1, 2, 3, 4, 5}
    assert min(counts.values()) > len(runs) / 10  # roughly uniform


def test_placement_is_distinct_white_cells_and_seeded():
    env = RobotDeliveryEnv(robot_colors=["a", "b", "c", "d", "e"], num_robots_per_player=5)
    env.reset(seed=5)
    board = env.game.board
    cells = list(env.game.position)
    assert len(set(cells)) == 25 and set(cells) == set(board.white_cells)
    env.reset(seed=5)
    assert env.game.position == cells
    env.reset(seed=6)
    assert env.game.position != cells


def test_mails_are_drawn_from_one_to_nine():
    env = RobotDeliveryEnv()
    seen = set()
    for seed in range(30):
        env.reset(seed=seed)
        seen.update(env.game.green_mail.values())
    assert seen == set(range(1, 10))


def test_agents_and_spaces():
    env = RobotDeliveryEnv(robot_colors=["r", "b", "gr"], num_robots_per_player=2, with_battery=True)
    assert env.possible_agents == ["r1", "r2", "b1", "b2", "gr1", "gr2"]
    assert env.observation_space("gr2")["observation"].shape == (24,)
    assert env.action_space("r1").n == 5


def test_step_before_reset_and_after_end():
    env = RobotDeliveryEnv()
    with pytest.raises(GameOverError, match="reset"):
        env.step(0)
    with pytest.raises(GameOverError, match="reset"):
        env.game.step(0)
    env = two_robot_game(max_step=1)
    env.step(0)
    with pytest.raises(GameOverError, match="reset"):
        env.game.step(0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"robot_colors": ["r"]}, ValueError, "at least 2"),
        ({"robot_colors": ["r", "r"]}, ValueError, "distinct"),
        ({"robot_colors": "rb"}, TypeError, "list of player strings"),
        ({"robot_colors": ["r", 3]}, TypeError, "non-empty strings"),
        ({"robot_colors": ["a", "b", "c", "d", "e"], "num_robots_per_player": 6}, ValueError, "white start cells"),
        ({"num_robots_per_player": 0}, ValueError, "num_robots_per_player"),
        ({"required_mail": 0}, ValueError, "required_mail"),
        ({"required_mail": 2.5}, TypeError, "required_mail"),
        ({"max_step": 0}, ValueError, "max_step"),
        ({"with_battery": "yes"}, TypeError, "with_battery"),
        ({"random_num_steps": 1}, TypeError, "random_num_steps"),
        ({"render_mode": "human"}, ValueError, "render_mode"),
        ({"colors_map": "colors.csv"}, ValueError, "together"),
        ({"layout": "board"}, TypeError, "layout"),
        ({"layout": {"colors": []}}, ValueError, "layout dict"),
    ],
)
def test_invalid_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        RobotDeliveryEnv(**kwargs)


def test_layout_from_csv_matches_builtin(tmp_path):
    colors = tmp_path / "colors_map.csv"
    targets = tmp_path / "targets_map.csv"
    colors.write_text("\n".join(",".join(row) for row in DEFAULT_LAYOUT.colors) + "\n")
    targets.write_text("\n".join(",".join(map(str, row)) for row in DEFAULT_LAYOUT.targets) + "\n")
    assert BoardLayout.from_csv(colors, targets) == DEFAULT_LAYOUT
    env = RobotDeliveryEnv(colors_map=colors, targets_map=targets)
    assert env.config.layout == DEFAULT_LAYOUT


@pytest.mark.parametrize(
    ("colors", "targets", "match"),
    [
        (["w,g", "g"], ["0,0", "0,0"], "square"),
        (["w,x", "gr,y"], ["0,0", "0,1"], "unknown code"),
        (["w,g", "gr,y"], ["0,0", "0,0"], "mail number >= 1"),
        (["w,g", "gr,y"], ["1,0", "0,1"], "only yellow"),
        (["y,g", "gr,y"], ["1,0", "0,1"], "two yellow"),
        (["g,g", "gr,y"], ["0,0", "0,1"], "white start"),
    ],
)
def test_invalid_layouts(colors, targets, match):
    with pytest.raises(ValueError, match=match):
        BoardLayout.from_rows(colors, targets)


def test_small_custom_layout_plays():
    layout = {"colors": ["w,w,g", "g,g,g", "gr,g,y"], "targets": ["0,0,0", "0,0,0", "0,0,1"]}
    env = RobotDeliveryEnv(layout=layout, required_mail=1)
    env.reset(seed=0)
    assert env.game.board.mail_numbers == (1,)
    obs = env.observe("r1")["observation"]
    assert obs.max() <= 1.0 and obs.min() >= 0.0


def test_board_facts():
    board = board_for(DEFAULT_LAYOUT)
    pockets = {board.xy(c) for c in range(board.num_cells) if board.yellow_red_count[c] == 2 and board.color[c] != 5}
    assert pockets == {(3, 0), (5, 0), (0, 3), (0, 5), (0, 7), (8, 3), (8, 5), (8, 7)}
    assert len(board.white_cells) == 25 and len(board.green_cells) == 3 and len(board.blue_cells) == 2
    assert board.neighbour_targets[board.cell(0, 7)] == frozenset({1})
    assert board.neighbour_targets[board.cell(3, 0)] == frozenset({4, 7})


def test_config_properties():
    config = RobotDeliveryConfig(robot_colors=("r", "b"), num_robots_per_player=2)
    assert config.agent_names == ["r1", "r2", "b1", "b2"]
    assert config.num_robots == 4 and config.features_per_robot == 3


def test_rgb_array_render_and_gif(tmp_path):
    from rbtrainer.plotting import save_gif

    env = RobotDeliveryEnv(with_battery=True, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame is not None and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 5  # an actual picture, not a blank canvas
    path = save_gif([frame, frame], tmp_path / "game.gif")
    assert (tmp_path / "game.gif").stat().st_size > 0 and path.endswith("game.gif")
    assert RobotDeliveryEnv().render() is None


def play_astar(seed: int, with_battery: bool, required_mail: int, players: list[str], per_player: int, max_step: int):
    env = RobotDeliveryEnv(
        robot_colors=players,
        num_robots_per_player=per_player,
        with_battery=with_battery,
        required_mail=required_mail,
        max_step=max_step,
    )
    agent = AStarAgent(env.config.num_robots, with_battery=with_battery, seed=seed)
    env.reset(seed=seed)
    while not env.game.game_over:
        obs = env.observe(env.agent_selection)
        env.step(agent.act(obs["observation"], obs["action_mask"]))
    return env


@pytest.mark.parametrize(("with_battery", "required_mail"), [(False, 4), (True, 6)])
def test_astar_two_robot_games_end_with_a_winner(with_battery, required_mail):
    lengths = []
    for seed in range(20):
        env = play_astar(seed, with_battery, required_mail, ["r", "b"], 1, 500)
        assert env.winner is not None, f"seed {seed}: no winner after {env.num_steps} steps"
        assert not env.game.truncated
        lengths.append(env.num_steps)
    # §15.5: about 96 steps without battery (4 mails), about 231 with battery (6 mails)
    expected = 96 if not with_battery else 231
    assert 0.6 * expected < np.mean(lengths) < 1.4 * expected


def test_astar_eight_robots_with_battery_finish():
    for seed in range(3):
        env = play_astar(seed, True, 6, ["r", "b", "gr", "p"], 2, 1000)
        assert env.winner is not None


def test_astar_rejects_wrong_observation_size():
    agent = AStarAgent(3)
    with pytest.raises(ValueError, match="num_robots"):
        agent.act(np.zeros(6, dtype=np.float32))
    with pytest.raises(ValueError, match="num_robots"):
        AStarAgent(0)


def test_astar_falls_back_to_a_legal_action():
    agent = AStarAgent(2, seed=0)
    # r1 at (4,4) heading for a green cell; pretend only "stand" and "left" are legal
    obs = np.array([0.5, 0.5, 0.0, 0.75, 0.75, 0.0], dtype=np.float32)
    action = agent.act(obs, np.array([0, 0, 0, 1, 0], dtype=np.int8))
    assert action == 3
    assert agent.act(obs, np.zeros(5, dtype=np.int8)) in range(5)
    assert math.isfinite(agent.act(obs))


def test_station_mail_is_appended_to_every_observation_when_asked():
    plain = RobotDeliveryEnv(robot_colors=["r", "b", "gr"])
    env = RobotDeliveryEnv(robot_colors=["r", "b", "gr"], observe_station_mail=True)
    assert env.observation_space("r1")["observation"].shape == (3 * 3 + 3,)
    assert plain.observation_space("r1")["observation"].shape == (3 * 3,)
    plain.reset(seed=5)
    env.reset(seed=5)
    greens = env.game.board.green_cells
    for agent in env.possible_agents:
        view = env.observe(agent)["observation"]
        np.testing.assert_array_equal(view[:9], plain.observe(agent)["observation"])  # the rule book's view first
        expected = np.array([env.game.green_mail[c] / 9 for c in greens], dtype=np.float32)
        np.testing.assert_array_equal(view[9:], expected)
        assert env.observation_space(agent)["observation"].contains(view)
    # a robot that leaves a green cell puts a fresh mail there: the view follows
    game = env.game
    x, y = game.board.xy(greens[0])
    for seed in range(50):  # a game whose redraw changes the number, so that a stale view would show
        env.reset(seed=seed)
        game.place(0, x, y)
        before = game.green_mail[greens[0]]
        env.step(next(a for a in range(1, 5) if game.legal_mask(0)[a]))
        if game.green_mail[greens[0]] != before:
            break
    assert game.green_mail[greens[0]] != before
    assert env.observe("b1")["observation"][9] == np.float32(game.green_mail[greens[0]] / 9)


def test_astar_reads_past_the_station_mail_and_plays_the_same():
    """With the station mails in view the rule book's A* makes the same moves as without them."""
    for seed in range(4):
        games = []
        for extra in (False, True):
            env = RobotDeliveryEnv(robot_colors=["r", "b"], observe_station_mail=extra)
            agent = AStarAgent(2, seed=seed, station_mail=extra)
            env.reset(seed=seed)
            moves = []
            while not env.game.game_over:
                obs = env.observe(env.agent_selection)
                moves.append(agent.act(obs["observation"], obs["action_mask"]))
                env.step(moves[-1])
            games.append((moves, env.winner))
        assert games[0] == games[1]
    with pytest.raises(ValueError, match="observe_station_mail"):
        AStarAgent(2, station_mail=True).act(np.zeros(6, dtype=np.float32))
    with pytest.raises(TypeError, match="observe_station_mail"):
        RobotDeliveryEnv(observe_station_mail="yes")
