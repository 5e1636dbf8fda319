"""A third-party connector gets bulk delivery the same way: `batch:` on its operation, limits on its batch one."""

from __future__ import annotations

import json

import pytest
from relaykit import ConnectorSource, Runtime, SpecError, hookimpl
from relaykit.delivery.bulk import bulk

CONNECTOR = """\
spec_version: 1
name: acme-notes
title: Acme Notes
version: "0.3"
connection:
  type: object
  required: [token]
  properties:
    token: {type: string, secret: true}
base_url:
  us: https://api.acme.example/v2
auth:
  type: bearer
  token: "{{ connection.token }}"
"""

ADD_NOTE = """\
spec_version: 1
connector: acme-notes
name: add_note
title: Add a note
schemas:
  input: add_note.input.json
request:
  method: POST
  path: /notes
  body:
    json: {text: "{{ input.text }}", folder: "{{ input.folder }}"}
batch:
  operation: BATCH_NAME
  item:
    kind: note
    body:
      "...": "{{ input.meta }}"
      text: "{{ input.text }}"
    folder: "{{ input.folder | default('inbox') }}"
"""

ADD_NOTES = """\
spec_version: 1
connector: acme-notes
name: add_notes
title: Add many notes
request:
  method: POST
  path: /notes/batch
  body:
    json: {notes: "{{ input.notes }}", source: relaykit}
limits: {max_body_bytes: 600, max_item_bytes: 200, max_items: 5, items: /notes}
batch_response: {split_on: [422]}
"""

SCHEMA = {"type": "object", "required": ["text"], "additionalProperties": False,
          "properties": {"text": {"type": "string", "minLength": 1}, "folder": {"type": "string"},
                         "meta": {"type": "object"}}}


class Acme:
    def __init__(self, source):
        self.source = source

    @hookimpl
    def register_connectors(self, registry):
        registry.add(self.source)


def acme_runtime(root, batch_name="add_notes"):
    (root / "operations").mkdir(parents=True)
    (root / "schemas").mkdir()
    (root / "connector.yaml").write_text(CONNECTOR)
    (root / "operations" / "add_note.yaml").write_text(ADD_NOTE.replace("BATCH_NAME", batch_name))
    (root / "operations" / "add_notes.yaml").write_text(ADD_NOTES)
    (root / "schemas" / "add_note.input.json").write_text(json.dumps(SCHEMA))
    return Runtime(load_entry_points=False, plugins=[Acme(ConnectorSource.from_directory(root, "acme-notes"))])


def test_a_third_party_batch_is_packed_within_its_declared_limits(tmp_path, echo_server):
    rt = acme_runtime(tmp_path / "acme")
    items = [{"text": f"note {i}" + "!" * (i % 40), "meta": {"n": i, "text": "not this"}} for i in range(40)]
    items[9] = {"text": ""}  # refused by the operation's own schema, never sent
    conn = {"token": "acme-token-123456", "sandbox_url": echo_server.url}
    report = bulk(rt, "acme-notes.add_note", items, conn)
    assert (report.total, report.delivered, [o.index for o in report.rejected]) == (40, 39, [9])
    assert "/text" in report.rejected[0].message
    sent = [json.loads(r["body"]) for r in echo_server.requests]
    assert len(sent) == report.requests and all(r["path"] == "/acme-notes/us/v2/notes/batch"
                                                for r in echo_server.requests)
    assert all(len(r["body"].encode()) <= 600 and len(b["notes"]) <= 5 and b["source"] == "relaykit"
               for r, b in zip(echo_server.requests, sent, strict=True))
    notes = sorted((n for b in sent for n in b["notes"]), key=lambda n: n["body"]["n"])  # sent in parallel
    assert notes[0] == {"kind": "note", "body": {"n": 0, "text": "note 0"}, "folder": "inbox"}
    assert [n["body"]["n"] for n in notes] == [i for i in range(40) if i != 9]


def test_a_batch_naming_no_operation_of_the_connector_fails_at_load_with_file_and_line(tmp_path):
    rt = acme_runtime(tmp_path / "acme", batch_name="add_notez")
    with pytest.raises(SpecError) as info:
        rt.operation("acme-notes.add_note")
    text = str(info.value)
    assert "add_note.yaml:" in text and "/batch/operation" in text and "did you mean 'add_notes'" in text
