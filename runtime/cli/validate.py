"""`relaykit validate`: check spec files (or every installed connector) and report every problem.

A file is recognised by its content: JSON files are schemas; YAML with `base_url` is a connector,
with `connector` and `name` an operation. Operation files are checked in the context of their
(installed) connector, so schema references and templates are verified for real.
"""

from __future__ import annotations

from pathlib import Path

from jsonschema import Draft202012Validator

from ..errors import Problem, SpecError
from ..runtime import Runtime
from ..specs.documents import load_json_file, load_yaml_file
from ..testing import check_connector


def validate_paths(runtime: Runtime, files: list[str]) -> tuple[list[Problem], list[str]]:
    """Problems and the list of things checked; with no files, every installed connector."""
    problems: list[Problem] = []
    checked: list[str] = []
    if not files:
        for name in runtime.connector_names():
            problems.extend(check_connector(runtime, name))
            checked.append(name)
        return problems, checked
    for file in files:
        checked.append(file)
        path = Path(file)
        if not path.is_file():
            problems.append(Problem("file not found", file=file))
            continue
        try:
            problems.extend(_validate_file(runtime, path, file))
        except SpecError as exc:
            problems.extend(exc.problems)
    return problems, checked


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
        from ..specs.sources import ConnectorSource

        source = ConnectorSource.from_directory(path.parent, str(name))
        source = ConnectorSource(name=str(name), connector=path, operations=source.operations, schemas=source.schemas)
        runtime.loader.load_connector(source, "file")
        return []
    if "connector" in data and "name" in data:
        connector = runtime.connector(str(data["connector"]))
        runtime.loader.load_operation(connector, path.stem, location=path)
        return []
    return [doc.problem("", "not a relaykit spec: expected a connector (base_url) or an operation (connector, name)")]
