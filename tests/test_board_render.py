"""The ``rgb_array`` renderers of tic-tac-toe and connect four (``games.board_render``)."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from pettingzoo.test import api_test, render_test

from games import connect_four, tictactoe
from games.board_render import CONNECT_FOUR_STYLE, TICTACTOE_STYLE, BoardStyle, draw_grid_board

GAMES = {"tictactoe": (tictactoe, (3, 3), [4, 0, 8]), "connect_four": (connect_four, (6, 7), [3, 3, 4])}


def _is_image(frame: object) -> bool:
    return isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8


@pytest.mark.parametrize("name", sorted(GAMES))
def test_rgb_array_frames(name: str) -> None:
    module, _, moves = GAMES[name]
    env = module.env(render_mode="rgb_array")
    assert env.metadata["render_modes"] == ["ansi", "rgb_array"]
    env.reset()
    frames = [env.render()]
    for move in moves:
        env.step(move)
        frames.append(env.render())
    assert all(_is_image(f) for f in frames)
    assert len({f.shape for f in frames}) == 1  # every frame of a game has the same size
    assert len(np.unique(frames[0].reshape(-1, 3), axis=0)) > 5  # a picture, not a blank canvas
    for before, after in itertools.pairwise(frames):
        assert not np.array_equal(before, after)  # every move shows
    env.reset()
    assert np.array_equal(env.render(), frames[0])  # reset draws the empty board again


@pytest.mark.parametrize("name", sorted(GAMES))
def test_render_modes_with_pettingzoo_checks(name: str) -> None:
    module = GAMES[name][0]
    # render_test builds the env with render_mode="human" once, only to read the metadata
    render_test(lambda render_mode=None: module.env(render_mode=None if render_mode == "human" else render_mode))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warnings api_test gives these games are checked in test_classic_games
        api_test(module.env(render_mode="rgb_array"), num_cycles=50)


def test_ansi_is_kept() -> None:
    env = tictactoe.env(render_mode="ansi")
    env.reset()
    env.step(4)
    assert env.render() == "...\n.X.\n..."


def test_status_line_follows_the_game() -> None:
    env = tictactoe.env(render_mode="rgb_array")
    env.reset()
    for move in (0, 3, 1, 4):
        env.step(move)
    to_move = env.render()
    env.step(2)  # player_1 wins
    won = env.render()
    # the status line (top rows) changes from "player_1 (X) to move" to "player_1 (X) wins"
    assert not np.array_equal(to_move[:28], won[:28])


def test_draw_grid_board_checks_its_input() -> None:
    image = draw_grid_board(np.zeros((2, 5), dtype=int), CONNECT_FOUR_STYLE, "status", last_move=None)
    assert _is_image(image) and image.shape[:2] == (2 * 60 + 28, 5 * 60)
    with pytest.raises(ValueError, match="grid must be a 2-d array of 0"):
        draw_grid_board(np.full((3, 3), 3), TICTACTOE_STYLE)
    with pytest.raises(ValueError, match="pieces must be 'marks' or 'discs'"):
        BoardStyle(
            pieces="stones",
            cell_px=40,
            board_color="w",
            line_color="k",
            empty_color="w",
            piece_colors=("r", "b"),
            last_move_color="y",
        )
