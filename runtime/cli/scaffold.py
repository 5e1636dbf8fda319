"""`relaykit new connector NAME`: write a connector package that installs and passes its own tests.

The package is the one docs/connectors.md walks through: a pyproject that ships the spec files as
package data and registers the entry point, `connector.yaml`, one operation with its schemas, the
universal `raw_http_request`, and a test that runs `check_connector` and calls the operation
against a loopback stand-in for the API through `sandbox_url`.
"""

from __future__ import annotations

import re
from pathlib import Path

from .args import UsageError

__all__ = ["NAME_RE", "scaffold_connector"]

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")  # the connector schema's own rule

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "relaykit-__NAME__"
version = "0.1.0"
description = "__TITLE__ connector for relaykit"
requires-python = ">=3.10"
dependencies = ["relaykit>=0.1"]

[project.optional-dependencies]
test = ["pytest>=8"]

[project.entry-points."relaykit.connectors"]
__NAME__ = "__PACKAGE__.plugin"

[tool.setuptools]
packages = ["__PACKAGE__"]

[tool.setuptools.package-data]   # without it the wheel ships no spec files and the connector cannot load
__PACKAGE__ = ["spec/*.yaml", "spec/operations/*.yaml", "spec/schemas/*.json"]
'''

PLUGIN = '''\
"""The __NAME__ relaykit connector: registers the spec folder shipped beside this module."""

from pathlib import Path

from relaykit import ConnectorSource, hookimpl


@hookimpl
def register_connectors(registry):
    """Add the __NAME__ connector (spec/connector.yaml, spec/operations/, spec/schemas/)."""
    registry.add(ConnectorSource.from_directory(Path(__file__).parent / "spec", "__NAME__"))
'''

CONNECTOR = '''\
spec_version: 1
name: __NAME__
title: __TITLE__
version: "0.1"
description: Replace with what the API does.
connection:
  type: object
  required: [token]
  properties:
    token:
      type: string
      title: API token
      description: A bearer token for the API (only the auth block below may read it).
      secret: true
      minLength: 1
base_url:
  us: https://api.__NAME__.example/v1
auth:
  type: bearer
  token: "{{ connection.token }}"
defaults:
  headers:
    Accept: application/json
  rate_limit_class: default
rate_limits:
  default: {requests: 10, per: 1}
'''

OPERATION = '''\
spec_version: 1
connector: __NAME__
name: create_item
title: Create an item
description: Create an item with a title; the API answers with its id.
kind: http
schemas:
  input: create_item.input.json
  output: create_item.output.json
idempotency:
  mode: unsafe
request:
  method: POST
  path: /items
  body:
    json:
      title: "{{ input.title }}"
      tags: "{{ input.tags }}"
response:
  success: [200, 201]
  output:
    id: "{{ response.body.id }}"
examples:
  - title: A tagged item
    input: {title: Hello, tags: [greeting]}
    request:
      method: POST
      path: /items
      json: {title: Hello, tags: [greeting]}
'''

RAW = '''\
spec_version: 1
connector: __NAME__
name: raw_http_request
title: Raw HTTP request
description: Any endpoint of the API, with the connection's credentials and limits.
kind: raw_http
'''

INPUT_SCHEMA = '''\
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Create an item: input",
  "type": "object",
  "required": ["title"],
  "additionalProperties": false,
  "properties": {
    "title": {"type": "string", "minLength": 1, "description": "The item's title.", "examples": ["Hello"]},
    "tags": {"type": "array", "items": {"type": "string"}, "description": "Labels for the item."}
  }
}
'''

OUTPUT_SCHEMA = '''\
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Create an item: output",
  "type": "object",
  "required": ["id"],
  "properties": {"id": {"type": "string", "description": "The new item's id."}}
}
'''

TEST = '''\
"""The __NAME__ connector conforms to relaykit's checks and sends what the API expects."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from relaykit import Runtime
from relaykit.testing import check_connector

NAME = "__NAME__"


def test_connector_conforms():
    with Runtime() as rt:
        assert check_connector(rt, NAME) == []


class FakeApi:
    """A loopback stand-in for the API: records each request, answers with `reply`."""

    def __init__(self):
        self.requests = []
        self.reply = (201, {"id": "item-1"})
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                     "json": json.loads(body or b"null")})
                status, payload = api.reply
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def api():
    server = FakeApi()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_create_item_against_a_loopback_api(api):
    # sandbox_url sends the call to ROOT/<connector>/<region> + the base URL's path (here /v1)
    connection = {"token": "test-token-0123456789", "sandbox_url": api.url}
    with Runtime() as rt:
        result = rt.run(f"{NAME}.create_item", {"title": "Hello", "tags": ["greeting"]}, connection)
    assert result.output == {"id": "item-1"}
    (request,) = api.requests
    assert request["path"] == f"/{NAME}/us/v1/items"
    assert request["headers"]["Authorization"] == "Bearer test-token-0123456789"
    assert request["json"] == {"title": "Hello", "tags": ["greeting"]}
'''

README = '''\
# relaykit-__NAME__

A relaykit connector for __TITLE__, started with `relaykit new connector __NAME__`.

```bash
python -m pip install -e '.[test]'
python -m pytest -q                         # check_connector plus a call against a loopback stand-in
relaykit validate __PACKAGE__/spec          # the spec alone, before installing
relaykit describe __NAME__.create_item      # once installed
```

Edit `__PACKAGE__/spec/connector.yaml` (base URL, auth, limits) and add one YAML file per operation
under `spec/operations/` with its schemas under `spec/schemas/`. relaykit's `docs/connectors.md`
explains every part.
'''


def scaffold_connector(name: str, destination: str | Path | None = None, *, title: str | None = None) -> Path:
    """Write the package for connector `name` into `destination` (default ./relaykit-NAME); returns it."""
    if not NAME_RE.fullmatch(name):
        raise UsageError(f"{name!r} is not a connector name: use lowercase words joined by hyphens, e.g. acme-notes")
    root = Path(destination) if destination is not None else Path(f"relaykit-{name}")
    if root.exists() and any(root.iterdir()):
        raise UsageError(f"{root}: already exists and is not empty; not overwritten")
    package = "relaykit_" + name.replace("-", "_")
    words = {"__NAME__": name, "__PACKAGE__": package,
             "__TITLE__": title or " ".join(w.capitalize() for w in name.split("-"))}
    files = {
        "pyproject.toml": PYPROJECT, "README.md": README, f"{package}/__init__.py": "",
        f"{package}/plugin.py": PLUGIN, f"{package}/spec/connector.yaml": CONNECTOR,
        f"{package}/spec/operations/create_item.yaml": OPERATION,
        f"{package}/spec/operations/raw_http_request.yaml": RAW,
        f"{package}/spec/schemas/create_item.input.json": INPUT_SCHEMA,
        f"{package}/spec/schemas/create_item.output.json": OUTPUT_SCHEMA,
        "tests/test_connector.py": TEST,
    }
    for rel, text in files.items():
        for key, value in words.items():
            text = text.replace(key, value)
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root
