"""`relaykit validate`: check spec files, connector folders (or every installed connector); every problem.

A file is recognised by its content: JSON files are schemas; YAML with `base_url` is a connector,
with `connector` and `name` an operation. Operation files are checked in the context of their
(installed) connector, so schema references and templates are verified for real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from ..errors import Problem, SpecError
from ..plugins.hookspecs import hookimpl
from ..runtime import Runtime
from ..specs.documents import load_json_file, load_yaml_file
from ..specs.sources import ConnectorSource
from ..testing import check_connector


def validate_paths(runtime: Runtime, files: list[str]) -> tuple[list[Problem], list[str]]:
    """Problems and the list of things checked; with no files, every installed connector."""
    problems: list[Problem] = []
    checked: list[str] = []
    if not files:  # every installed connector, and every installed plugin that could not even load
        problems.extend(Problem(f"plugin {b.name!r} (from {b.provider}) is not loaded: {b.problem}")
                        for b in runtime.broken_plugins())
        for name in runtime.connector_names():
            problems.extend(check_connector(runtime, name))
            checked.append(name)
        return problems, checked
    for file in files:
        checked.append(file)
        path = Path(file)
        if path.is_dir():
            problems.extend(validate_connector_dir(path))
            continue
        if not path.is_file():
            problems.append(Problem("file not found", file=file))
            continue
        try:
            problems.extend(_validate_file(runtime, path, file))
        except SpecError as exc:
            problems.extend(exc.problems)
    return problems, checked


def _connector_files(root: Path) -> list[Path]:
    if (root / "connector.yaml").is_file():
        return [root / "connector.yaml"]
    skip = {".venv", "venv", "build", "dist", ".git", "node_modules"}
    return sorted(p for p in root.rglob("connector.yaml") if not skip & set(p.relative_to(root).parts))


def validate_connector_dir(root: Path) -> list[Problem]:
    """Every problem of the connector(s) in a folder, checked like an installed one, without installing it.

    The folder holds `connector.yaml`, `operations/` and `schemas/` (or is a package that has such a
    folder inside). Its connector is registered in a runtime of its own, so an installed copy of
    the same connector does not get in the way.
    """
    found = _connector_files(root)
    if not found:
        return [Problem("no connector.yaml in this folder or below it", file=str(root))]
    problems: list[Problem] = []
    for file in found:
        doc = load_yaml_file(file, display=str(file))
        name = doc.data.get("name") if isinstance(doc.data, dict) else None
        if not isinstance(name, str):
            problems.append(doc.problem("/name", "is required: the connector's name"))
            continue
        source = ConnectorSource.from_directory(file.parent, name)
        runtime = Runtime(plugins=[_FolderPlugin(source)], load_entry_points=False, trust_builtin_specs=False)
        problems.extend(check_connector(runtime, name))
    return problems


class _FolderPlugin:
    """Registers one connector folder, as its plugin will once the package is installed."""

    def __init__(self, source: ConnectorSource) -> None:
        self.source = source

    @hookimpl
    def register_connectors(self, registry: Any) -> None:
        registry.add(self.source)


def _validate_file(runtime: Runtime, path: Path, display: str) -> list[Problem]:
    if path.suffix == ".json":
        doc = load_json_file(path, display=display)
        errors = list(Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(doc.data))
        return [doc.problem("/".join(str(p) for p in e.absolute_path), "is not valid JSON Schema") for e in errors]
    doc = load_yaml_file(path, display=display)
    data = doc.data
    if not isinstance(data, dict):
        return [doc.problem("", "expected a mapping at the top level")]
    if "steps" in data:
        from ..automation import check_automation

        return check_automation(runtime, path, display=display)
    if "base_url" in data:
        name = data.get("name")
        if isinstance(name, str) and name in runtime.connector_names():
            return check_connector(runtime, name)
        source = ConnectorSource.from_directory(path.parent, str(name))
        source = ConnectorSource(name=str(name), connector=path, operations=source.operations, schemas=source.schemas)
        runtime.loader.load_connector(source, "file")
        return []
    if "connector" in data and "name" in data:
        connector = runtime.connector(str(data["connector"]))
        runtime.loader.load_operation(connector, path.stem, location=path)
        return []
    return [doc.problem("", "not a relaykit spec: expected a connector (base_url) or an operation (connector, name)")]
