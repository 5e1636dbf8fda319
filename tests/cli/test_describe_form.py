"""`describe` is form-like: self-contained JSON for host engines, and a text form with every field's facts."""

from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator
from relaykit import Runtime
from relaykit.cli import main
from relaykit.cli.forms import field_rows

RT = Runtime()
OPERATIONS = RT.operations()
ANY_JSON = {"body.json"}  # raw_http_request: a JSON body may be any JSON value
UNDOCUMENTED: dict[str, set[str]] = {}  # fields allowed to ship without a description: none


def describe_json(capsys, name):
    assert main(["describe", name, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", OPERATIONS)
def test_describe_json_is_self_contained(capsys, name):
    info = describe_json(capsys, name)
    for key in ("input_schema", "output_schema", "connection_schema"):
        schema = info.get(key)
        if not schema:
            continue
        Draft202012Validator.check_schema(schema)
        local = set(schema.get("$defs", {}))
        for ref in re.findall(r'"\$ref": "([^"]*)"', json.dumps(schema)):
            assert ref.startswith("#/$defs/") and ref.rsplit("/", 1)[1] in local, (key, ref)
    # a validator with no registry at all (what an embedding engine has) accepts every example
    bare = Draft202012Validator(info["input_schema"])
    for example in info["examples"]:
        assert not list(bare.iter_errors(example["input"])), example["input"]


def test_dereferenced_schema_refuses_what_the_runtime_refuses(capsys):
    info = describe_json(capsys, "customerio-track.create_or_update_customer")
    bare = Draft202012Validator(info["input_schema"])
    runtime = RT.schema_validator(RT.operation("customerio-track.create_or_update_customer").input_schema)
    for value in ({"identifier": ".."}, {"identifier": ""}, {"identifier": "a", "created_at": -1},
                  {"identifier": "a", "attributes": {"_update": 1}}, {"identifier": "a", "email": "a@b.c"}):
        assert bool(list(bare.iter_errors(value))) == bool(list(runtime.iter_errors(value))), value


def test_a_recursive_definition_becomes_one_local_def(capsys):
    schema = describe_json(capsys, "customerio-app.trigger_broadcast")["input_schema"]
    assert list(schema["$defs"]) == ["audience_filter"]
    exists = {"attribute": {"field": "plan", "operator": "exists"}}
    nested = {"and": [{"or": [{"segment": {"id": 3}}, {"not": exists}]}]}
    bare = Draft202012Validator(schema)
    assert not list(bare.iter_errors({"broadcast_id": 1, "recipients": nested}))
    assert list(bare.iter_errors({"broadcast_id": 1, "recipients": {"and": [{"segment": {"id": "x"}}]}}))


@pytest.mark.parametrize("name", OPERATIONS)
def test_every_input_field_has_a_type_and_a_description(name):
    rows = list(field_rows(RT.describe(name)["input_schema"]))  # may be empty: list_* operations take no input
    for row in rows:
        assert row["type"] not in ("ref", "") and (row["type"] != "any" or row["field"] in ANY_JSON), row
        if "." not in row["field"].replace("body.", ""):  # the form's own fields; nested ones may be self-evident
            assert bool(row["help"]) != (row["field"] in UNDOCUMENTED.get(name, set())), row


def test_text_form_shows_type_required_enum_default_example_output_and_connection(capsys):
    assert main(["describe", "customerio-track.raw_http_request"]) == 0
    text = capsys.readouterr().out
    assert re.search(r'\* method\s+string\n\s+one of: "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"', text)
    assert main(["describe", "customerio-track.create_or_update_customer"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"\* identifier\s+string\n\s+example: \"ada@example.com\"\n\s+Person identifier: ", text)
    assert re.search(r"created_at\s+integer", text)
    assert "  output (* required):" in text and "accepted" in text
    assert re.search(r"\* api_key\s+string, secret\n\s+from \$RELAYKIT_CUSTOMERIO_TRACK_API_KEY", text)
    assert re.search(r'region\s+string\n\s+one of: "us", "eu"(, "auto")?; default: "us"', text)
    assert " ref " not in text


def test_nested_fields_and_list_items_are_listed(capsys):
    assert main(["describe", "customerio-app.trigger_broadcast"]) == 0
    text = capsys.readouterr().out
    assert "recipients.segment.id" in text and "per_user_data[].email" in text
    assert re.search(r"recipients\.and\s+list of audience filter", text)
