"""``benchmarks/robot_race.py``: trip lengths from the robot game's board and move rules, and the scripted
rival's games against A* (the script loaded as a module, in this process)."""

from __future__ import annotations

import pytest
from benchmark_scripts import benchmark_fixture

from games.robot_delivery.board import DEFAULT_LAYOUT, board_for

race = benchmark_fixture("robot_race")


def test_trip_lengths_follow_the_move_rules(race):
    board = board_for(DEFAULT_LAYOUT)
    rows = {tuple(r["pick_up_cell"]): r for r in race.trip_lengths(board)}
    assert sorted(rows) == [(2, 7), (4, 7), (6, 7)]
    # (2,7) -> (1,7) -> pocket (0,7), open to mail 1 -> delivery cell (0,6)
    assert rows[(2, 7)]["to_delivery"][0] == 3
    # the board is its own mirror image: the outer pick-up cells see the same trips, to other mails
    assert sorted(rows[(2, 7)]["to_delivery"]) == sorted(rows[(6, 7)]["to_delivery"])
    # the pocket rule: (0,7) opens to mail 1 only (its yellow neighbour takes 1), from a floor cell
    pocket, beside = board.cell(0, 7), board.cell(1, 7)
    assert race._moves(board, beside, 1, pocket) == 1
    with pytest.raises(ValueError, match="no path"):
        race._moves(board, beside, 2, pocket)
    # without mail no delivery cell opens; coming straight from one, a pocket does
    with pytest.raises(ValueError, match="no path"):
        race._moves(board, beside, 0, board.delivery_cell[1])
    assert race._moves(board, board.delivery_cell[1], 0, pocket) == 1


def test_the_rival_plays_every_seat_order_against_astar(race):
    row = race.rival_games(3, 1)
    assert row["games"] == 6 and row["wins"] + row["draws"] + row["losses"] == 6
    assert "| 3 | 6 |" in race.table([row])
