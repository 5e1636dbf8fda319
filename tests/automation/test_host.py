"""`Runtime` offers everything automations ask of their host (`AutomationHost`), with the same parameters.

Read from the source with `ast` (the suite's canary scan wraps some `Runtime` methods at run time).
"""

from __future__ import annotations

import ast
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"


def _members(path: Path, class_name: str) -> dict[str, tuple[bool, list[str]]]:
    """Public methods of a class: name -> (is a property, parameter names)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    cls = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == class_name)
    out = {}
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            is_property = any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list)
            args = node.args
            out[node.name] = (is_property, [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs])
    return out


def test_runtime_has_every_host_member_with_the_same_parameters() -> None:
    wanted = _members(RUNTIME / "automation" / "host.py", "AutomationHost")
    offered = _members(RUNTIME / "runtime.py", "Runtime")
    assert len(wanted) >= 10
    for name, shape in wanted.items():
        assert offered.get(name) == shape, f"Runtime.{name}: {offered.get(name)} != protocol {shape}"
