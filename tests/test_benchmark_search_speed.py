"""``benchmarks/search_speed.py``: one case measured on a shipped network (the script loaded as a module,
in this process), and its table's seconds per search."""

from __future__ import annotations

import pytest
from benchmark_scripts import benchmark_fixture

speed = benchmark_fixture("search_speed")


def test_one_root_is_one_games_move_and_its_table_says_how_long_it_took(speed):
    row = speed.measure("tictactoe", "pretrained/tictactoe_planning.pt", 1, 16, (0, 4), repeats=2)
    assert (row["roots"], row["simulations"], row["pieces"]) == (1, 16, [0, 4])
    plain = row["plain"]
    assert 0 < plain["min"] <= plain["median"] <= plain["max"]
    assert 0 <= row["proven_share"] <= 1 and row["solver_share"] > 0
    cells = speed.table([row]).splitlines()[2].split(" | ")
    assert cells[1] == "1 x 16" and float(cells[4]) == pytest.approx(16 / plain["median"], abs=5e-4)
