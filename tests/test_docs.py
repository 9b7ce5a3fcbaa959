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
        exec(compile(shrunk_python(block.source), block.where, "exec"), namespace)  # noqa: S102 - the docs' own code
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
