"""The code blocks of the docs and the README, as the tests run them.

Every fenced ``python`` or ``bash`` block of ``README.md`` and ``docs/**/*.md`` is run by
``tests/test_docs.py``, unless its first line is ``# not run: <reason>``:

* The ``python`` blocks of one page run in order in one namespace (a block may use what an earlier
  block of the page defined), in a fresh temporary working directory, with the repository root on
  ``sys.path``.
* In a ``bash`` block, each line that starts with ``rbtrainer`` runs through
  ``rbtrainer.cli.main`` in the same working directory; other lines must not be there (setup
  commands go in a ``# not run:`` block).
* Budgets shrink: a line ending in ``# tests: ...`` is changed before it runs. In Python,
  ``# tests: name=value, other=value`` replaces the keyword arguments ``name=...`` and
  ``other=...`` of that line; in bash, ``# tests: --flag value ...`` appends those flags (the
  last value of a repeated flag wins).

``python -m tests.docs_snippets PAGE`` prints the blocks of PAGE as the tests run them.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])

_FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
_SHRINK = re.compile(r"\s*# tests: (.*)$")
_NOT_RUN = re.compile(r"^# not run: \S")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    source: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def runs(self) -> bool:
        return not _NOT_RUN.match(self.source)


def blocks(page: Path) -> list[Block]:
    """The ``python`` and ``bash`` blocks of ``page`` (others, e.g. ``toml`` or ``text``, are data)."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        language = match.group(1)
        if language in ("python", "bash"):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(page, line, language, match.group(2)))
    return found


def shrunk_python(source: str) -> str:
    """``source`` with the keyword arguments its ``# tests:`` comments name replaced."""
    out = []
    for line in source.splitlines():
        match = _SHRINK.search(line)
        if match:
            line = line[: match.start()]
            for pair in match.group(1).split(","):
                name, value = (part.strip() for part in pair.split("=", 1))
                line, count = re.subn(rf"\b{re.escape(name)}=[^,)]+", f"{name}={value}", line)
                if count == 0:
                    raise ValueError(f"'# tests: {name}=...' names no keyword argument {name}= in {line!r}")
        out.append(line)
    return "\n".join(out) + "\n"


def bash_commands(source: str) -> list[str]:
    """The ``rbtrainer`` command lines of a bash block, with their ``# tests:`` flags appended."""
    commands = []
    for line in source.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _SHRINK.search(line)
        extra = ""
        if match:
            line, extra = line[: match.start()], " " + match.group(1)
        if not line.startswith("rbtrainer"):
            raise ValueError(f"bash blocks run rbtrainer commands only; mark this one '# not run: <why>': {line!r}")
        commands.append(line.removeprefix("rbtrainer").strip() + extra)
    return commands


if __name__ == "__main__":  # pragma: no cover - a reading aid
    for block in blocks(Path(sys.argv[1]).resolve()):
        print(f"--- {block.where} ({block.language}{'' if block.runs else ', not run'})")
        print(shrunk_python(block.source) if block.language == "python" else "\n".join(bash_commands(block.source)))
