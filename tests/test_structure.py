"""The layout rules of ``DESIGN.md``, checked on the source text (AST only: nothing is imported).

* No module reads another module's private names: no ``from x import _name`` and no
  ``obj._name`` (nor ``getattr(obj, "_name")``) unless ``obj`` is ``self``, ``cls`` or
  ``super()``. The one exception is the module that reads Tianshou's internals (below).
* No import cycle among the project's modules, counting imports at module level and inside
  functions (not those under ``if TYPE_CHECKING:``).
* ``rbtrainer/trainer.py`` stays under 450 lines and no class in ``rbtrainer/`` or ``games/``
  is longer than 400 lines.

Scanned: ``rbtrainer/``, ``games/`` and ``benchmarks/``.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("rbtrainer", "games", "benchmarks")

PRIVATE_ACCESS_ALLOWED = {
    # rbtrainer reads Tianshou's replay-buffer and algorithm internals (no public API gives them)
    # here and only here, behind a check of the installed Tianshou version.
    "rbtrainer/agents/tianshou_internals.py",
}
"""Modules (paths from the repository root) that may read other modules' private names."""

PUBLIC_UNDERSCORE_ATTRIBUTES = {"_replace", "_asdict", "_fields", "_make", "_field_defaults"}
"""Attributes named with an underscore that are public API (``collections.namedtuple``'s)."""

LIBRARY_PRIVATE_READS = {
    # Ray's ActorHandle has no public accessor of its id; the pool reads it in _actor_id() only, to
    # name the worker whose actor a RayActorError reports dead.
    ("rbtrainer/envs/pool.py", "_actor_id"),
}
"""(module, attribute): one named read of a third-party library's private attribute, each with its reason."""

OWN_OBJECTS = {"self", "cls"}
MAX_TRAINER_LINES = 450
MAX_CLASS_LINES = 400


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    """Dotted name (``rbtrainer.agents.base``; a package is its ``__init__``; benchmarks are ``benchmarks.x``)."""
    path: Path
    tree: ast.Module

    @property
    def rel(self) -> str:
        return self.path.relative_to(ROOT).as_posix()

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _load_modules() -> dict[str, Module]:
    modules = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            name = _module_name(path)
            modules[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return modules


MODULES = _load_modules()


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nodes(tree: ast.AST, skip_type_checking: bool) -> Iterator[ast.AST]:
    """Every node of ``tree``, optionally leaving out the bodies of ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if skip_type_checking and isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


# --------------------------------------------------------------------------------- private names
def _own_object(node: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``."""
    if isinstance(node, ast.Name):
        return node.id in OWN_OBJECTS
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def _reads_private_attribute(node: ast.Attribute | ast.Call) -> bool:
    """``obj._name`` or ``getattr(obj, "_name")`` (also set/has/delattr) on another object."""
    if isinstance(node, ast.Attribute):
        name, obj = node.attr, node.value
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"getattr", "setattr", "hasattr", "delattr"}
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    ):
        name, obj = node.args[1].value, node.args[0]
    else:
        return False
    return _is_private(name) and name not in PUBLIC_UNDERSCORE_ATTRIBUTES and not _own_object(obj)


def _private_reads(module: Module) -> list[str]:
    """``path:line: what`` for each read of another module's private name, in line order."""
    found = sorted(_private_nodes(module), key=lambda item: item[0])
    allowed = [f"'{name}'" for rel, name in LIBRARY_PRIVATE_READS if rel == module.rel]
    return [f"{module.rel}:{line}: {what}" for line, what in found if not any(a in what for a in allowed)]


def _private_nodes(module: Module) -> Iterator[tuple[int, str]]:
    for node in _nodes(module.tree, skip_type_checking=False):
        if isinstance(node, ast.ImportFrom):
            source = "." * node.level + (node.module or "")
            for alias in node.names:
                if _is_private(alias.name):
                    yield node.lineno, f"imports private name {alias.name!r} from {source}"
            if any(_is_private(part) for part in (node.module or "").split(".")):
                yield node.lineno, f"imports from private module {source}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(_is_private(part) for part in alias.name.split(".")):
                    yield node.lineno, f"imports private module {alias.name}"
        elif isinstance(node, (ast.Attribute, ast.Call)) and _reads_private_attribute(node):
            yield node.lineno, f"accesses private attribute {ast.unparse(node)}"


def test_no_module_reads_another_modules_private_names() -> None:
    offences = [
        offence
        for module in MODULES.values()
        if module.rel not in PRIVATE_ACCESS_ALLOWED
        for offence in _private_reads(module)
    ]
    assert not offences, (
        f"{len(offences)} reads of other modules' private names (make the name public with a docstring, "
        "or move the code next to it):\n" + "\n".join(offences)
    )


def test_private_access_allowlist_names_existing_modules() -> None:
    missing = sorted(p for p in PRIVATE_ACCESS_ALLOWED if not (ROOT / p).is_file())
    assert not missing, f"PRIVATE_ACCESS_ALLOWED names modules that do not exist: {missing}"


# ---------------------------------------------------------------------------------- import cycles
@dataclass(frozen=True, slots=True)
class Edge:
    target: str
    line: int


def _resolve(module: Module, name: str) -> str | None:
    """The project module ``name`` stands for when ``module`` imports it (None: not ours).
    Benchmarks are scripts that import each other by bare name (their directory on ``sys.path``)."""
    if name in MODULES:
        return name
    if module.name.startswith("benchmarks."):
        sibling = f"benchmarks.{name}"
        if sibling in MODULES:
            return sibling
    return None


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: Module) -> Iterator[Edge]:
    """Every project module ``module`` imports, at module level or in functions."""
    for node in _nodes(module.tree, skip_type_checking=True):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(module, alias.name)
                if target is not None:
                    yield Edge(target, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            for alias in node.names:
                # ``from a.b import c``: the submodule a.b.c if there is one, else the module a.b
                target = _resolve(module, f"{source}.{alias.name}") or _resolve(module, source)
                if target is not None:
                    yield Edge(target, node.lineno)


def _graph() -> dict[str, dict[str, int]]:
    """importer -> {imported module: first line importing it}."""
    graph: dict[str, dict[str, int]] = {}
    for name, module in MODULES.items():
        edges = graph.setdefault(name, {})
        for edge in _imports(module):
            if edge.target != name:
                edges.setdefault(edge.target, edge.line)
    return graph


def _strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def _cycle_through(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """A shortest cycle from the component's first module back to itself, within the component."""
    start, members = component[0], set(component)
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node]):
                if nxt not in members:
                    continue
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt not in parent:
                    parent[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {component}")


def _describe_cycle(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    steps = [f"    {MODULES[a].rel}:{graph[a][b]} imports {b}" for a, b in itertools.pairwise(cycle)]
    return " -> ".join(cycle) + "\n" + "\n".join(steps)


def test_no_import_cycles() -> None:
    graph = _graph()
    components = _strongly_connected(graph)
    report = [
        f"modules importing each other: {', '.join(c)}\n  e.g. {_describe_cycle(graph, _cycle_through(graph, c))}"
        for c in components
    ]
    assert not report, f"{len(report)} import cycles (function-level imports count):\n" + "\n".join(report)


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}}
    assert _strongly_connected(graph) == [["a", "b", "c"]]
    assert _cycle_through(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]


# ------------------------------------------------------------------------------------------ sizes
def test_trainer_module_is_short() -> None:
    lines = len((ROOT / "rbtrainer" / "trainer.py").read_text(encoding="utf-8").splitlines())
    assert lines < MAX_TRAINER_LINES, f"rbtrainer/trainer.py has {lines} lines; it must stay under {MAX_TRAINER_LINES}"


def test_no_class_is_too_long() -> None:
    long_classes = [
        f"{module.rel}:{node.lineno}: class {node.name} has {node.end_lineno - node.lineno + 1} lines"
        for module in MODULES.values()
        if module.name.split(".")[0] in {"rbtrainer", "games"}
        for node in ast.walk(module.tree)
        if isinstance(node, ast.ClassDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES
    ]
    assert not long_classes, f"classes over {MAX_CLASS_LINES} lines:\n" + "\n".join(long_classes)
