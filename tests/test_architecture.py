"""The package layout's rules, enforced: no import cycle between modules, and packages import only downward.

Every module under runtime/ is read with `ast` (nothing is imported): module-level, function-level
and `if TYPE_CHECKING:` imports all count, relative ones and absolute `relaykit.` ones resolved to
module names. The layering table is the one drawn in docs/architecture.md; the test checks that
the document and this table agree, so the rules cannot drift apart from what is enforced.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "runtime"
PACKAGE = "relaykit"

# Layer of each top-level part of relaykit, lowest first. A module may import modules of its own
# part and of any lower layer, never of a higher one; parts on the same layer do not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("version", "names", "errors", "models", "redact", "exit_signals"),
    ("templates", "durable"),
    ("specs",),
    ("transport",),
    ("call",),
    ("plugins",),
    ("automation", "delivery", "webhooks"),
    ("runtime",),
    ("testing", "celery"),
    ("cli", "delivery_queue"),
    ("__init__",),
]
STANDALONE = {"sandbox"}  # the emulator imports nothing of relaykit; only the CLI may import it
EXTRA = {  # allowed edges that the layers alone would refuse, each with its reason
    ("cli", "sandbox"): "`--sandbox`, `relaykit sandbox` and the demo start the emulator",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def collect_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(SOURCE.rglob("*.py"))}


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every relaykit module `name` imports, wherever the import statement sits."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from pkg import mod` imports the module pkg.mod; `from pkg import name` imports pkg
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module
                       for alias in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = collect_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a closed path) per strongly connected component of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [shortest_cycle(graph, component) for component in components]


def shortest_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError("a strongly connected component always holds a cycle")


def part(module: str) -> str:
    rest = module[len(PACKAGE) + 1:] if module != PACKAGE else "__init__"
    return rest.split(".")[0]


def layer_of(name: str) -> int:
    for level, names in enumerate(LAYERS):
        if name in names:
            return level
    raise KeyError(name)


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, deps in sorted(graph.items()):
        source = part(module)
        for dep in sorted(deps):
            target = part(dep)
            if source == target or (source, target) in EXTRA:
                continue
            if source in STANDALONE or target in STANDALONE:
                bad.append(f"{module} imports {dep}: the sandbox stands alone")
            elif layer_of(target) >= layer_of(source):
                bad.append(f"{module} imports {dep}: {source} may not import {target}")
    return bad


def test_no_import_cycles_between_modules() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join("  " + " -> ".join(c) for c in found)


def test_every_module_belongs_to_a_layer() -> None:
    parts = {part(module) for module in import_graph()}
    known = {name for names in LAYERS for name in names} | STANDALONE
    assert parts <= known, f"not placed in a layer (see docs/architecture.md): {parts - known}"


def test_packages_import_only_lower_layers() -> None:
    violations = layering_violations(import_graph())
    assert not violations, "layering broken:\n" + "\n".join("  " + v for v in violations)


def test_docs_table_matches_the_enforced_layers() -> None:
    """docs/architecture.md lists each layer as `| N | part, part | ...`: the same layers, in order."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", text, flags=re.M)
    documented = [tuple(sorted(name.strip(" `/") for name in names.split(","))) for _, names in rows]
    assert documented == [tuple(sorted(names)) for names in LAYERS]


@pytest.mark.parametrize("case, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c", "a"]]),
    ({"a": {"b"}, "b": set()}, []),
    ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b", "a"], ["c", "d", "c"]]),
])
def test_cycle_finder_reports_every_cycle(case: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert sorted(cycles(case)) == expected


def test_resolver_sees_function_level_type_checking_and_absolute_imports(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .specs.models import OperationSpec\n"
        "def f():\n    from relaykit.call import executor\n    import relaykit.transport.sender\n"
        "from . import __version__\n",
        encoding="utf-8",
    )
    modules = {name: Path() for name in ("relaykit", "relaykit.mod", "relaykit.specs.models", "relaykit.call",
                                          "relaykit.call.executor", "relaykit.transport.sender")}
    assert imported_modules("relaykit.mod", source, modules) == {
        "relaykit", "relaykit.specs.models", "relaykit.call.executor", "relaykit.transport.sender"}


def test_layering_check_catches_an_upward_import() -> None:
    graph = {"relaykit.specs.loader": {"relaykit.call.render"}, "relaykit.call.render": set()}
    assert layering_violations(graph) == [
        "relaykit.specs.loader imports relaykit.call.render: specs may not import call"]
