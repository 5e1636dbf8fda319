"""The plugin contract: third-party connectors run through the same path as the built-ins."""

from __future__ import annotations

import inspect
import json
from importlib import metadata
from pathlib import Path

import pytest
from relaykit import (
    ConnectorSource,
    PluginError,
    Runtime,
    SpecError,
    UnknownConnectorError,
    UnknownOperationError,
    hookimpl,
)
from relaykit.plugins import hookspecs

CONNECTOR_YAML = """\
spec_version: 1
name: acme-notes
title: Acme Notes
version: "0.3"
connection:
  type: object
  required: [token]
  properties:
    token: {type: string, secret: true}
    workspace: {type: string}
base_url:
  us: https://api.acme.example/v2
auth:
  type: bearer
  token: "{{ connection.token }}"
defaults:
  rate_limit_class: notes
rate_limits:
  notes: {requests: 50, per: 1}
"""

OPERATION_YAML = """\
spec_version: 1
connector: acme-notes
name: add_note
title: Add a note
schemas:
  input: add_note.input.json
idempotency: {mode: keyed, key: /note_id}
request:
  method: POST
  path: /workspaces/{{ connection.workspace }}/notes/{{ input.folder }}
  query: {tag: "{{ input.tag }}"}
  body:
    json:
      text: "{{ input.text | trim }}"
      shout: "{{ input.text | shout }}"
response:
  output:
    sent_path: "{{ response.body.path }}"
    note_id: "{{ request.json.note_id }}"
"""

INPUT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["folder", "text"],
    "additionalProperties": False,
    "properties": {"folder": {"type": "string"}, "text": {"type": "string"}, "tag": {"type": "string"}},
}


def write_connector(root: Path, connector_yaml: str = CONNECTOR_YAML, name: str = "acme-notes") -> ConnectorSource:
    (root / "operations").mkdir(parents=True)
    (root / "schemas").mkdir()
    (root / "connector.yaml").write_text(connector_yaml)
    (root / "operations" / "add_note.yaml").write_text(OPERATION_YAML)
    (root / "operations" / "raw_http_request.yaml").write_text(
        "spec_version: 1\nconnector: acme-notes\nname: raw_http_request\ntitle: Raw\nkind: raw_http\n")
    (root / "schemas" / "add_note.input.json").write_text(json.dumps(INPUT_SCHEMA))
    return ConnectorSource.from_directory(root, name)


class AcmePlugin:
    """A third party's plugin object: a connector and a template filter."""

    def __init__(self, source: ConnectorSource):
        self.source = source

    @hookimpl
    def register_connectors(self, registry):
        registry.add(self.source)

    @hookimpl
    def register_template_filters(self, registry):
        registry.add("shout", lambda value: str(value).upper() + "!")


@pytest.fixture
def acme(tmp_path):
    return AcmePlugin(write_connector(tmp_path / "acme"))


def test_builtin_entry_points_are_installed():
    eps = {ep.name: ep.value for ep in metadata.entry_points(group="relaykit.connectors")}
    for name in ("customerio-track", "customerio-app", "customerio-beta", "customerio-pipelines"):
        assert name in eps, "install the project (pip install -e .) so its entry points exist"
        assert eps[name] == "relaykit.connectors." + name.replace("-", "_")


def test_runtime_discovers_nothing_at_import_and_owns_its_manager(acme):
    a = Runtime(load_entry_points=False, plugins=[acme])
    b = Runtime(load_entry_points=False)
    assert a.connector_names() == ["acme-notes"]
    assert b.connector_names() == []


def test_third_party_connector_runs_through_the_same_path(acme, echo_server):
    rt = Runtime(load_entry_points=False, plugins=[acme])
    conn = {"token": "acme-token-123456", "workspace": "team a", "sandbox_url": echo_server.url}
    result = rt.run("acme-notes.add_note", {"folder": "in/box", "text": "  hi  ", "tag": "x y"}, conn)
    sent = echo_server.requests[-1]
    assert sent["method"] == "POST"
    assert sent["path"] == "/acme-notes/us/v2/workspaces/team%20a/notes/in%2Fbox?tag=x%20y"
    assert sent["headers"]["Authorization"] == "Bearer acme-token-123456"
    body = json.loads(sent["body"])
    assert body["text"] == "hi" and body["shout"] == "  HI  !"
    assert len(body["note_id"]) == 26  # keyed idempotency generated a ULID
    assert result.output == {"sent_path": sent["path"], "note_id": body["note_id"]}
    assert result.status == 200 and result.attempts == 1


def test_entry_point_connectors_and_extra_plugins_mix(acme):
    rt = Runtime(plugins=[acme])
    assert {"acme-notes", "customerio-track"} <= set(rt.connector_names())


class ConnectorOnly:
    def __init__(self, source):
        self.source = source

    @hookimpl
    def register_connectors(self, registry):
        registry.add(self.source)


def test_duplicate_connector_names_fail_loudly_naming_both(tmp_path):
    first = ConnectorOnly(write_connector(tmp_path / "one"))
    second = ConnectorOnly(write_connector(tmp_path / "two"))
    with pytest.raises(PluginError) as info:
        Runtime(load_entry_points=False, plugins=[first, second])
    message = str(info.value)
    assert "acme-notes" in message and message.count("ConnectorOnly") == 2


def test_duplicate_filter_names_are_a_plugin_error(tmp_path):
    with pytest.raises(PluginError) as info:
        Runtime(load_entry_points=False, plugins=[AcmePlugin(write_connector(tmp_path / "a")),
                                                  AcmePlugin(write_connector(tmp_path / "b"))])
    assert "shout" in str(info.value)


def test_duplicate_of_a_builtin_names_the_builtin_distribution(tmp_path):
    text = CONNECTOR_YAML.replace("name: acme-notes", "name: customerio-track")
    plugin = AcmePlugin(write_connector(tmp_path / "clash", text, name="customerio-track"))
    with pytest.raises(PluginError) as info:
        Runtime(plugins=[plugin])
    assert "customerio-track (relaykit" in str(info.value)


def test_disable_plugins_blocks_entry_points():
    rt = Runtime(disable_plugins=["customerio-beta"])
    assert "customerio-beta" not in rt.connector_names()
    assert "customerio-track" in rt.connector_names()
    only = Runtime(only_plugins=["customerio-app"])
    assert only.connector_names() == ["customerio-app"]


def test_disable_plugins_from_environment(monkeypatch):
    monkeypatch.setenv("RELAYKIT_DISABLE_PLUGINS", "customerio-app, customerio-beta")
    assert set(Runtime().connector_names()) == {"customerio-track", "customerio-pipelines"}


def test_plugins_lists_distribution_and_hooks(acme):
    infos = {i.name: i for i in Runtime(plugins=[acme]).plugins()}
    track = infos["customerio-track"]
    assert track.distribution == "relaykit" and "register_connectors" in track.hooks
    assert infos["relaykit.builtins"].distribution == "relaykit"


def test_unknown_names_suggest_close_matches(acme):
    rt = Runtime(load_entry_points=False, plugins=[acme])
    with pytest.raises(UnknownConnectorError) as info:
        rt.operation("acme-note.add_note")
    assert "acme-notes" in str(info.value)
    with pytest.raises(UnknownOperationError) as info:
        rt.operation("acme-notes.add_notes")
    assert "acme-notes.add_note" in str(info.value)
    assert isinstance(info.value, KeyError)


def test_spec_problems_are_reported_with_file_line_and_suggestion(tmp_path):
    broken = CONNECTOR_YAML.replace('token: "{{ connection.token }}"', 'token: "{{ conection.token }}"')
    plugin = AcmePlugin(write_connector(tmp_path / "broken", broken))
    rt = Runtime(load_entry_points=False, plugins=[plugin])
    with pytest.raises(SpecError) as info:
        rt.connector("acme-notes")
    text = str(info.value)
    assert "connector.yaml:" in text and "connection" in text and "did you mean" in text


def test_operation_templates_may_not_read_secrets(tmp_path):
    plugin = AcmePlugin(write_connector(tmp_path / "leaky"))
    op = plugin.source.operations / "add_note.yaml"
    op.write_text(OPERATION_YAML.replace('tag: "{{ input.tag }}"', 'tag: "{{ connection.token }}"'))
    rt = Runtime(load_entry_points=False, plugins=[plugin])
    with pytest.raises(SpecError) as info:
        rt.operation("acme-notes.add_note")
    assert "secret" in str(info.value) and "add_note.yaml" in str(info.value)


# -- one test per hook (a meta-test below keeps this list complete) ---------------------------------
def test_hook_register_connectors(acme):
    assert "acme-notes" in Runtime(load_entry_points=False, plugins=[acme]).connector_names()


def test_hook_register_template_filters(acme):
    rt = Runtime(load_entry_points=False, plugins=[acme])
    conn = {"token": "acme-token-123456", "workspace": "w"}
    request = rt.dry_run("acme-notes.add_note", {"folder": "f", "text": "hey"}, conn)
    assert request.json["shout"] == "HEY!"


def test_hook_register_auth_schemes(tmp_path, echo_server):
    from relaykit.transport.auth import Auth

    class SigPlugin(AcmePlugin):
        @hookimpl
        def register_auth_schemes(self, registry):
            registry.add("acme_sig", lambda p: Auth({"X-Acme-Sig": "sig-" + p["key"]}, frozenset({"sig-" + p["key"]})))

    text = CONNECTOR_YAML.replace('type: bearer\n  token: "{{ connection.token }}"',
                                  'type: acme_sig\n  key: "{{ connection.token }}"')
    schema_free = text  # the meta-schema only constrains the built-in scheme shapes
    plugin = SigPlugin(write_connector(tmp_path / "sig", schema_free))
    rt = Runtime(load_entry_points=False, plugins=[plugin])
    conn = {"token": "acme-token-123456", "workspace": "w", "sandbox_url": echo_server.url}
    request = rt.dry_run("acme-notes.add_note", {"folder": "f", "text": "x"}, conn)
    assert request.display_headers()["X-Acme-Sig"] == "***"
    rt.run("acme-notes.add_note", {"folder": "f", "text": "x"}, conn)
    assert echo_server.requests[-1]["headers"]["X-Acme-Sig"] == "sig-acme-token-123456"


def test_hook_register_operation_kinds(tmp_path):
    from relaykit.models import HttpRequest

    class KindPlugin(AcmePlugin):
        @hookimpl
        def register_operation_kinds(self, registry):
            def render(op, data, conn):
                return HttpRequest("GET", conn.base_url + "/ping", {}, connector=op.connector.name, operation=op.name)

            registry.add("ping", render)

    plugin = KindPlugin(write_connector(tmp_path / "kind"))
    (plugin.source.operations / "ping.yaml").write_text(
        "spec_version: 1\nconnector: acme-notes\nname: ping\ntitle: Ping\nkind: ping\n")
    rt = Runtime(load_entry_points=False, plugins=[plugin])
    request = rt.dry_run("acme-notes.ping", {}, {"token": "acme-token-123456"})
    assert request.url == "https://api.acme.example/v2/ping"


def test_hook_resolve_connection(acme):
    class Vault:
        @hookimpl
        def resolve_connection(self, connector, reference):
            if reference == "prod":
                return {"token": "vault-token-123456", "workspace": "from-vault"}
            return None

    rt = Runtime(load_entry_points=False, plugins=[acme, Vault()], environ={
        "RELAYKIT_STAGING_TOKEN": "env-token-123456", "RELAYKIT_STAGING_WORKSPACE": "from-env"})
    assert rt.resolve_connection("acme-notes", "prod").public["workspace"] == "from-vault"
    assert rt.resolve_connection("acme-notes", "staging").public["workspace"] == "from-env"


def test_hook_on_request(acme, echo_server):
    seen = []

    class Observer:
        @hookimpl
        def on_request(self, request, context):
            seen.append((request.to_dict(), dict(context)))

    rt = Runtime(load_entry_points=False, plugins=[acme, Observer()])
    conn = {"token": "acme-token-123456", "workspace": "w", "sandbox_url": echo_server.url}
    rt.run("acme-notes.add_note", {"folder": "f", "text": "x"}, conn)
    request, context = seen[0]
    assert context["attempt"] == 1 and context["operation"] == "add_note"
    assert "acme-token-123456" not in json.dumps(request)


def test_hook_on_response(acme, echo_server):
    seen = []

    class Observer:
        @hookimpl
        def on_response(self, response, context):
            seen.append(response)

        @hookimpl
        def on_request(self, request, context):
            raise RuntimeError("observers never break a call")

    rt = Runtime(load_entry_points=False, plugins=[acme, Observer()])
    conn = {"token": "acme-token-123456", "workspace": "w", "sandbox_url": echo_server.url}
    assert rt.run("acme-notes.add_note", {"folder": "f", "text": "x"}, conn).status == 200
    assert seen and seen[0]["status"] == 200


def test_every_hookspec_is_documented_and_tested():
    specs = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
             if hasattr(fn, "relaykit_spec")]
    assert len(specs) >= 7
    tests = {name for name in globals() if name.startswith("test_hook_")}
    for name in specs:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Args:" in doc and "Returns:" in doc, f"hookspec {name} must document its arguments and return"
        assert f"test_hook_{name}" in tests, f"hookspec {name} needs a test_hook_{name}"
