"""Guard tests over every shipped spec: it parses, validates, and its examples render as promised."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from relaykit.specs.documents import load_yaml_file
from relaykit.testing import check_connector

ROOT = Path(__file__).resolve().parents[2]
YAML_FILES = sorted([*ROOT.glob("connectors/*/connector.yaml"), *ROOT.glob("operations/*/*.yaml")])
JSON_FILES = sorted(ROOT.glob("schemas/**/*.json"))
CONNECTORS = ["customerio-track", "customerio-app", "customerio-beta", "customerio-pipelines"]


def test_the_tree_has_specs():
    assert len(YAML_FILES) >= 22 and len(JSON_FILES) >= 30


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_parses_strictly_and_names_its_editor_schema(path):
    load_yaml_file(path)
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (path.parent / first.split("=", 1)[1]).resolve()
    assert target.is_file(), f"{path}: the editor schema {target} does not exist"


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_json_schemas_are_valid_2020_12(path):
    schema = json.loads(path.read_text())
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    assert "$id" not in schema or path.name.endswith(".schema.json"), "identities are derived, not declared"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", CONNECTORS)
def test_connector_conforms(rt, name):
    assert [str(p) for p in check_connector(rt, name)] == []


@pytest.mark.parametrize("name", CONNECTORS)
def test_connector_ships_raw_http_and_examples(rt, name):
    spec = rt.connector(name)
    assert "raw_http_request" in spec.operation_names
    for op in spec.operation_names:
        assert rt.operation(f"{name}.{op}").examples, f"{name}.{op} has no example"


def test_validate_all_is_clean(rt):
    assert rt.validate_all() == []


def test_installed_package_data_matches_the_tree():
    """What importlib.resources sees (the installed package) has every spec file of the tree."""
    ops = resources.files("relaykit.operations")
    schemas = resources.files("relaykit.schemas")
    for path in ROOT.glob("operations/*/*.yaml"):
        assert (ops / path.parent.name / path.name).is_file(), path
    for path in JSON_FILES:
        rel = path.relative_to(ROOT / "schemas")
        node = schemas
        for part in rel.parts:
            node = node / part
        assert node.is_file(), path


SEED = {
    "customerio-track": {
        "create_or_update_customer", "delete_customer", "track_event", "raw_http_request"},
    "customerio-app": {"raw_http_request", "trigger_broadcast", "get_broadcast_trigger_status"},
    "customerio-beta": {"raw_http_request", "trigger_broadcast", "get_broadcast_trigger_status"},
    "customerio-pipelines": {"identify", "track", "page", "screen", "group", "alias", "batch", "raw_http_request"},
}

BASES = {
    "customerio-track": ("https://track.customer.io/api", "https://track-eu.customer.io/api"),
    "customerio-app": ("https://api.customer.io/v1", "https://api-eu.customer.io/v1"),
    "customerio-beta": ("https://beta-api.customer.io/v1/api", "https://beta-api-eu.customer.io/v1/api"),
    "customerio-pipelines": ("https://cdp.customer.io", "https://cdp-eu.customer.io"),
}


@pytest.mark.parametrize("name", CONNECTORS)
def test_seed_operations_and_base_urls(rt, name):
    spec = rt.connector(name)
    assert SEED[name] <= set(spec.operation_names)
    assert (spec.base_urls["us"], spec.base_urls["eu"]) == BASES[name]
