"""The catalogue against Customer.io's own OpenAPI documents (tests/data/openapi/).

Every Track and Data Pipelines operation in those documents, and every Pipelines semantic event,
must have a dedicated relaykit operation; every example of those operations must render a request
whose method, path, required query parameters and body the document accepts.

One relaxation, on purpose: the documents' `oneOf` branches overlap (a `clicked` metric matches
three of `/api/v1/metrics`' branches; a person identified by `id` also matches the branch for
`email` when the branch requires nothing), so valid requests would fail a strict `oneOf`. The
check reads every `oneOf` as `anyOf`: a body must still match at least one documented shape.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from jsonschema import Draft202012Validator
from openapi_relaxed import any_of
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from relaykit import Runtime

DATA = Path(__file__).parents[1] / "data" / "openapi"
DOCUMENTS = {"customerio-track": "customerio-track.json", "customerio-pipelines": "customerio-pipelines.json"}
METHODS = ("get", "put", "post", "delete", "patch")
SEMANTIC_SCHEMAS = ("create_update_device", "delete_device", "delete_person", "relationship_deleted", "group_deleted",
                    "suppress_person", "unsuppress_person", "report_delivery_event")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class Document:
    """One OpenAPI document: its operations as (method, full path) and validators for their parts."""

    def __init__(self, connector: str, file: str) -> None:
        self.connector = connector
        self.uri = f"urn:relaykit-test:openapi:{connector}"
        self.raw = json.loads((DATA / file).read_text(encoding="utf-8"))
        self.registry = Registry().with_resource(self.uri, Resource(any_of(self.raw), DRAFT202012))
        self.prefix = urlsplit(self.raw["servers"][0]["url"]).path.rstrip("/")
        self.operations: dict[tuple[str, str], dict[str, Any]] = {}
        for path, item in self.raw["paths"].items():
            for method in METHODS:
                if method in item:
                    shared = item.get("parameters", [])
                    self.operations[(method.upper(), self.prefix + path)] = {
                        "path": path, "method": method, "op": item[method],
                        "parameters": [*shared, *item[method].get("parameters", [])]}

    def validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{self.uri}#{pointer}"}, registry=self.registry)

    def body_validator(self, key: tuple[str, str]) -> Draft202012Validator | None:
        entry = self.operations[key]
        if "application/json" not in entry["op"].get("requestBody", {}).get("content", {}):
            return None
        return self.validator(f"/paths/{_escape(entry['path'])}/{entry['method']}/requestBody/content/"
                              "application~1json/schema")

    def required_query(self, key: tuple[str, str]) -> list[str]:
        names = []
        for parameter in self.operations[key]["parameters"]:
            if "$ref" in parameter:
                parameter = self.raw["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
            if parameter.get("in") == "query" and parameter.get("required"):
                names.append(parameter["name"])
        return names

    def match(self, method: str, path: str) -> tuple[str, str] | None:
        for key in self.operations:
            if key[0] == method and re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(key[1])), path):
                return key
        return None


@pytest.fixture(scope="module")
def catalogue() -> dict[str, Any]:
    """Every example of every dedicated operation, rendered once, with the OpenAPI operation it reaches."""
    rt = Runtime()
    documents = {name: Document(name, file) for name, file in DOCUMENTS.items()}
    rendered = []
    for connector, document in documents.items():
        conn = _connection(connector)
        for name in rt.connector(connector).operation_names:
            op = rt.operation(f"{connector}.{name}")
            if op.kind != "http":
                continue
            for index, example in enumerate(op.examples):
                request = rt.dry_run(op.qualified_name, example["input"], conn)
                parts = urlsplit(request.url)  # matched still encoded: a segment's %2F is not a separator
                rendered.append({"connector": connector, "operation": op.qualified_name, "example": index,
                                 "key": document.match(request.method, parts.path), "request": request,
                                 "query": parse_qs(parts.query)})
    yield {"documents": documents, "rendered": rendered}
    rt.close()


def _connection(connector: str) -> dict[str, str]:
    if connector == "customerio-track":
        return {"site_id": "site-0001", "api_key": "track-key-catalogue-0001"}
    return {"api_key": "pipelines-key-catalogue-0001"}


@pytest.mark.parametrize("connector", sorted(DOCUMENTS))
def test_every_documented_operation_has_a_dedicated_operation(catalogue, connector):
    document = catalogue["documents"][connector]
    reached = {r["key"] for r in catalogue["rendered"] if r["connector"] == connector}
    missing = [f"{method} {path} ({document.operations[(method, path)]['op'].get('operationId')})"
               for method, path in document.operations if (method, path) not in reached]
    assert not missing, f"{connector}: no dedicated operation renders {missing}"


def test_every_example_reaches_a_documented_operation(catalogue):
    strays = [f"{r['operation']} example {r['example']}: {r['request'].method} {urlsplit(r['request'].url).path}"
              for r in catalogue["rendered"] if r["key"] is None]
    assert not strays, strays


def test_every_rendered_body_and_query_is_what_the_document_accepts(catalogue):
    problems = []
    for r in catalogue["rendered"]:
        if r["key"] is None:
            continue
        document = catalogue["documents"][r["connector"]]
        where = f"{r['operation']} example {r['example']}"
        for name in document.required_query(r["key"]):
            if name not in r["query"]:
                problems.append(f"{where}: the query lacks required {name!r}")
        validator = document.body_validator(r["key"])
        body = r["request"].json
        if validator is None:
            if body not in (None, {}):
                problems.append(f"{where}: the document takes no JSON body here, relaykit sends one")
            continue
        for error in validator.iter_errors(body):
            problems.append(f"{where}: /{'/'.join(map(str, error.absolute_path))}: {error.message}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("schema_name", SEMANTIC_SCHEMAS)
def test_every_semantic_event_has_a_dedicated_operation_rendering_its_documented_body(catalogue, schema_name):
    document = catalogue["documents"]["customerio-pipelines"]
    event = document.raw["components"]["schemas"][schema_name]["properties"]["event"]["enum"][0]
    validator = document.validator(f"/components/schemas/{schema_name}")
    sent = [r for r in catalogue["rendered"]
            if r["connector"] == "customerio-pipelines" and (r["request"].json or {}).get("event") == event
            and r["operation"] != "customerio-pipelines.track"]
    assert sent, f"no dedicated operation sends the semantic event {event!r}"
    for r in sent:
        errors = [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(r["request"].json)]
        assert not errors, f"{r['operation']} example {r['example']}: {errors}"
