"""MkDocs hooks: the pages made from the code at build time.

* ``games/index.md`` and one page per registered game: its summary, its module's docstring, its
  constructor arguments and (for games that draw themselves) a picture of a seeded game in
  progress, drawn by the game's own ``render()``;
* ``cli.md``: the ``--help`` of ``rbtrainer`` and of each command, as the installed CLI prints it.

Nothing here is committed as a page, so these pages cannot drift from the code.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import os
import re
from typing import Any

import numpy as np
from matplotlib.image import imsave
from mkdocs.structure.files import File, Files

# reST roles and literals of the docstrings, as Markdown
_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc):`~?([\w.]+)`")
_LITERAL = re.compile(r"``(.+?)``")

_API = {"aec": "AEC (turn-based)", "parallel": "Parallel (simultaneous moves)"}

PICTURE_MOVES = {"tictactoe": 5, "connect_four": 14, "robot_delivery": 40}
"""Random legal moves played (seed 0) before the picture of a game is drawn."""


def _markdown(docstring: str) -> str:
    text = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", inspect.cleandoc(docstring))
    return _LITERAL.sub(lambda m: f"`{m.group(1)}`", text)


def _picture(name: str) -> bytes | None:
    import games

    if "rgb_array" not in getattr(games.make(name, raw=True), "metadata", {}).get("render_modes", []):
        return None
    env = games.make(name, raw=True, render_mode="rgb_array")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(PICTURE_MOVES.get(name, 10)):
        if not env.agents:
            break
        obs, _, terminated, truncated, _ = env.last()
        env.step(None if terminated or truncated else int(rng.choice(np.flatnonzero(obs["action_mask"]))))
    frame = env.render()
    env.close()
    buffer = io.BytesIO()
    imsave(buffer, np.asarray(frame), format="png")
    return buffer.getvalue()


def _arguments(name: str) -> str:
    import games

    rows = ["| argument | default |", "|---|---|"]
    for parameter in games.parameters(name).values():
        if parameter.name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        default = "required" if parameter.default is parameter.empty else f"`{parameter.default!r}`"
        rows.append(f"| `{parameter.name}` | {default} |")
    return "\n".join(rows)


def _game_page(name: str, picture: bool) -> str:
    import games

    entry = games.spec(name)
    module = importlib.import_module(entry.module)
    package = importlib.import_module(entry.module.rsplit(".", 1)[0]) if entry.module.count(".") > 1 else None
    text = package.__doc__ if package is not None and len(package.__doc__ or "") > len(module.__doc__ or "") else None
    lines = [
        f"# {name}",
        "",
        f"{entry.summary[0].upper()}{entry.summary[1:]}: a PettingZoo {_API[entry.api]} game, built by "
        f'`games.make({name!r}, ...)` or, for the trainer, `DecentralizedTrainer({{"game": {name!r}, ...}})`.',
        "",
    ]
    if picture:
        lines += [f"![A seeded {name} game in progress]({name}.png)", ""]
    lines += [_markdown(text or module.__doc__ or ""), "", "## Arguments", "", _arguments(name), ""]
    cls = getattr(module, entry.cls)
    if cls.__doc__ and cls.__doc__ != module.__doc__:
        lines += [f"## `{entry.cls}`", "", _markdown(cls.__doc__), ""]
    shared = {base.__module__ for base in cls.__mro__[1:] if base.__module__.startswith("games.")} - {entry.module}
    for name_ in sorted(shared):  # the conventions a game takes from a shared base, e.g. games.two_player
        lines += [f"## Shared conventions (`{name_}`)", "", _markdown(importlib.import_module(name_).__doc__ or ""), ""]
    return "\n".join(lines)


def _games_index(names: list[str]) -> str:
    import games

    rows = ["| game | API | what |", "|---|---|---|"]
    for name in names:
        entry = games.spec(name)
        rows.append(f"| [`{name}`]({name}.md) | {_API[entry.api]} | {entry.summary} |")
    intro = _markdown(games.__doc__ or "")
    return "\n".join(["# Games", "", intro, "", *rows, ""])


def _help(argv: list[str]) -> str:
    from rbtrainer.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(argv)
    return out.getvalue().rstrip()


def _cli_page() -> str:
    from rbtrainer.cli import COMMANDS

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        parts = [
            "# CLI reference",
            "",
            "The `--help` of `rbtrainer` and of each of its commands, as the installed command prints it "
            "(generated when the docs are built).",
            "",
            "```text",
            _help(["--help"]),
            "```",
        ]
        for command in COMMANDS:
            parts += ["", f"## rbtrainer {command}", "", "```text", _help([command, "--help"]), "```"]
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return "\n".join(parts) + "\n"


def on_files(files: Files, config: Any) -> Files:
    import games

    names = games.names()
    files.append(File.generated(config, "games/index.md", content=_games_index(names)))
    for name in names:
        picture = _picture(name)
        if picture is not None:
            files.append(File.generated(config, f"games/{name}.png", content=picture))
        files.append(File.generated(config, f"games/{name}.md", content=_game_page(name, picture is not None)))
    files.append(File.generated(config, "cli.md", content=_cli_page()))
    return files
