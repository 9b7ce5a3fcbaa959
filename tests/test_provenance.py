"""What benchmarks write beside their figures, and how they write them."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from rbtrainer.provenance import (
    benchmark_parser,
    cpu_model,
    median_range,
    provenance,
    table_of,
    write_figures,
)

ROOT = Path(__file__).resolve().parent.parent


def test_median_range_and_write_figures(tmp_path: Path) -> None:
    assert median_range([3.0, 1.0, 2.0, 10.0]) == {"median": 2.5, "min": 1.0, "max": 10.0}
    origin = provenance(ROOT)
    path = tmp_path / "figures.json"
    write_figures(path, origin, {"rows": [{"a": 1}]})
    written = json.loads(path.read_text())
    assert written["rows"] == [{"a": 1}] and written["git"] == origin["git"] and set(origin) <= set(written)
    assert [p.name for p in tmp_path.iterdir()] == ["figures.json"]  # no temporary file left beside it


def test_the_machine_names_its_cpu_model_and_the_vector_unit_torch_uses() -> None:
    machine = provenance(ROOT)["machine"]
    assert isinstance(machine["cpu"], str) and machine["cpu"].strip() and machine["cpu"] == cpu_model()
    assert machine["cpu_capability"] == torch.backends.cpu.get_cpu_capability()  # e.g. "AVX2", "AVX512"


def test_a_benchmark_parser_renders_the_table_of_a_file_it_wrote(tmp_path: Path) -> None:
    parser = benchmark_parser("A benchmark.", "train nothing")
    parser.add_argument("--repeats", type=int, default=3)
    path = tmp_path / "figures.json"
    write_figures(path, provenance(ROOT), {"rows": [{"a": 1}, {"a": 2}]})
    args = parser.parse_args(["--render", str(path)])
    assert (args.render, args.json, args.repeats) == (str(path), None, 3)
    assert "train nothing" in " ".join(parser.format_help().split())
    assert table_of(args.render, lambda rows: "|".join(str(row["a"]) for row in rows)) == "1|2"
