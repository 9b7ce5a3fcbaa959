"""The docs tell the truth: every code block of the README and of docs/ runs (budgets shrunk where a
block says so, see tests/docs_snippets.py), and every page rendered from benchmark JSON equals a
fresh rendering of its JSON."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import matplotlib
import pytest
from docs_snippets import PAGES, ROOT, Block, bash_commands, blocks, shrunk_python

matplotlib.use("Agg")

RUN_PAGES = [page for page in PAGES if any(block.runs for block in blocks(page))]


def test_every_block_runs_or_says_why_not() -> None:
    for page in PAGES:
        for block in blocks(page):
            if block.runs and block.language == "bash":
                bash_commands(block.source)  # raises on a line that is not an rbtrainer command
            if block.runs and block.language == "python":
                compile(shrunk_python(block.source), block.where, "exec")


def _run(block: Block, namespace: dict[str, object]) -> None:
    from rbtrainer.cli import main

    if block.language == "python":
        exec(compile(shrunk_python(block.source), block.where, "exec"), namespace)  # the docs' own code
        return
    for command in bash_commands(block.source):
        status = main(shlex.split(command))
        assert status == 0, f"{block.where}: rbtrainer {command} exited with {status}"


@pytest.mark.parametrize("page", RUN_PAGES, ids=[str(p.relative_to(ROOT)) for p in RUN_PAGES])
def test_the_code_blocks_of_a_page_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("COLUMNS", "100")
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in blocks(page):
        if block.runs:
            try:
                _run(block, namespace)
            except SystemExit as exit_:
                pytest.fail(f"{block.where}: exited with {exit_.code}")
    assert sys.path[0] == str(ROOT) and os.getcwd() == str(tmp_path)  # nothing moved us


def test_the_rendered_pages_equal_their_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """README.md's results table and docs/results.md, docs/performance.md are benchmarks/render.py's
    rendering of benchmarks/data/*.json (after new data: python benchmarks/render.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("render", ROOT / "benchmarks" / "render.py")
    assert spec is not None and spec.loader is not None
    render = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "render", render)  # its dataclasses look their module up
    spec.loader.exec_module(render)
    assert [str(path.relative_to(ROOT)) for path in render.stale()] == []


def test_the_docs_build_with_strict_checks(tmp_path: Path) -> None:
    """``mkdocs build --strict``: no broken link, missing page or unreadable docstring (the docs extra)."""
    pytest.importorskip("mkdocs", reason='the docs extra is not installed: pip install -e ".[docs]"')
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "games" / "robot_delivery" / "index.html").exists()
    assert (tmp_path / "site" / "cli" / "index.html").exists()
