"""Conformance checks for connector authors (the standard tests of Singer and Airbyte, for relaykit).

`check_connector(runtime, name)` loads a connector and every operation strictly, demands the
universal `raw_http_request`, and renders each operation's `examples` to compare method, path and
JSON body with what the example promises. It sends nothing. Use it in a third-party connector's
test suite: `assert not check_connector(Runtime(), "my-connector")`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from .errors import Problem, RelaykitError, SpecError
from .runtime import Runtime


def example_connection(runtime: Runtime, connector: str) -> dict[str, Any]:
    """Placeholder values for every required connection field (for rendering examples offline)."""
    schema = runtime.connector(connector).connection_schema
    out: dict[str, Any] = {}
    for field in schema.get("required", []):
        sub = schema["properties"].get(field, {})
        out[field] = sub.get("examples", [f"example-{field}-000000"])[0] if isinstance(sub, dict) else "x" * 12
    return out


def check_connector(runtime: Runtime, connector: str) -> list[Problem]:
    """Every problem with a connector's specs and examples; empty when it conforms."""
    try:
        spec = runtime.connector(connector)
    except SpecError as exc:
        return list(exc.problems)
    problems: list[Problem] = []
    if "raw_http_request" not in spec.operation_names:
        problems.append(Problem("every connector must ship the raw_http_request operation", file=spec.file))
    connection = example_connection(runtime, connector)
    for name in spec.operation_names:
        try:
            op = runtime.operation(f"{connector}.{name}")
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        api_path = urlsplit(spec.base_urls[spec.default_region]).path.rstrip("/")
        base_path = "" if op.request is not None and op.request.base == "host" else api_path
        for index, example in enumerate(op.examples):
            where = f"/examples/{index}"
            try:
                request = runtime.dry_run(op.qualified_name, example["input"], connection)
            except RelaykitError as exc:
                problems.append(Problem(f"example does not render: {exc}", pointer=where, file=op.file))
                continue
            expected = example.get("request") or {}
            parts = urlsplit(request.url)
            path = parts.path[len(base_path):] if parts.path.startswith(base_path) else parts.path
            if "method" in expected and expected["method"] != request.method:
                problems.append(Problem(f"renders method {request.method}, example says {expected['method']}",
                                        pointer=where + "/request/method", file=op.file))
            if "path" in expected and expected["path"] != path:
                problems.append(Problem("renders a different path than the example says",
                                        pointer=where + "/request/path", file=op.file,
                                        hint=f"rendered {path}"))
            if "query" in expected and parse_qs(parts.query) != {k: [str(v)] for k, v in expected["query"].items()}:
                problems.append(Problem("renders a different query than the example says", file=op.file,
                                        pointer=where + "/request/query", hint=f"rendered ?{parts.query}"))
            if "json" in expected and expected["json"] != request.json:
                problems.append(Problem("renders a different JSON body than the example says",
                                        pointer=where + "/request/json", file=op.file))
    return problems
