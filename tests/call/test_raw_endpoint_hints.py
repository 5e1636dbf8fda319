"""Raw HTTP endpoints: say what is expected and why, and warn about a repeated version prefix (issue 10, item 4)."""

from __future__ import annotations

import json
import logging

import pytest
from canary_scan import APP_KEY, leaks
from relaykit import InputValidationError, Runtime
from relaykit.automation import load_automation
from relaykit.cli import main
from relaykit.errors import SpecError

APP = {"api_key": APP_KEY}
RAW = "customerio-app.raw_http_request"


def refused(rt, endpoint):
    with pytest.raises(InputValidationError) as info:
        rt.dry_run(RAW, {"method": "GET", "endpoint": endpoint}, APP)
    (problem,) = info.value.problems
    assert problem.pointer == "/endpoint"
    return str(info.value)


@pytest.mark.parametrize(("endpoint", "fragment"), [
    pytest.param("https://api.customer.io/v1/segments", "must be a path, not a URL", id="absolute"),
    pytest.param("http://127.0.0.1:9/v1/segments", "must be a path, not a URL", id="absolute-loopback"),
    pytest.param("//api.customer.io/v1/segments", "must be a path, not a URL", id="scheme-relative"),
    pytest.param("segments", "must start with '/'", id="no-leading-slash"),
])
def test_a_malformed_endpoint_says_what_is_expected_and_why(rt, endpoint, fragment):
    text = refused(rt, endpoint)
    assert fragment in text
    assert "the path after the connector's base URL https://api.customer.io/v1" in text
    assert "starting with '/'" in text and "never leave the connector's host" in text
    assert "expected form" not in text


def test_the_hint_names_the_regions_base_url(rt):
    with pytest.raises(InputValidationError) as info:
        rt.dry_run(RAW, {"method": "GET", "endpoint": "segments"}, {**APP, "region": "eu"})
    assert "https://api-eu.customer.io/v1" in str(info.value)


@pytest.mark.parametrize(("connector", "endpoint", "repeated"), [
    pytest.param("customerio-app", "/v1/customers/ada%40example.com/attributes", "/v1", id="app-v1"),
    pytest.param("customerio-beta", "/v1/api/customers/x/attributes", "/v1/api", id="beta-whole-base-path"),
    pytest.param("customerio-beta", "/api/customers/x", None, id="beta-not-a-repeat"),
    pytest.param("customerio-track", "/v1/customers/x", None, id="track-v1-is-right"),
    pytest.param("customerio-track", "/api/v1/customers/x", "/api", id="track-api-twice"),
    pytest.param("customerio-app", "/v10/x", None, id="other-version"),
])
def test_a_repeated_base_path_is_sent_with_a_warning(rt, caplog, connector, endpoint, repeated):
    conn = APP if connector != "customerio-track" else {"site_id": "site-0001", "api_key": APP_KEY}
    with caplog.at_level(logging.WARNING, logger="relaykit"):
        request = rt.dry_run(f"{connector}.raw_http_request", {"method": "GET", "endpoint": endpoint}, conn)
    assert request.url.endswith(endpoint)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
                and r.name.startswith("relaykit")]
    if repeated is None:
        assert request.warnings == () and "warnings" not in request.to_dict() and warnings == []
        return
    (warning,) = request.warnings
    assert f"starts with {repeated!r}" in warning and f"drop the leading {repeated!r}" in warning
    assert "ada" not in warning and "x/attributes" not in warning  # no part of the path beyond the prefix
    assert request.to_dict()["warnings"] == [warning] and warnings == [warning]


def test_the_run_result_carries_the_warning(rt, sandbox):
    result = rt.run(RAW, {"method": "GET", "endpoint": "/v1/segments", "fail_on_http_error": False},
                    sandbox.connection("customerio-app"))
    assert len(result.warnings) == 1 and result.to_dict()["warnings"] == list(result.warnings)
    assert sandbox.journal()[-1]["target"].endswith("/v1/v1/segments")  # sent as asked


def test_the_cli_shows_the_warning_on_stderr(capsys):
    code = main(["call", RAW, "--input", json.dumps({"method": "GET", "endpoint": "/v1/segments"}),
                 "--connection", json.dumps(APP), "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["warnings"]
    assert err.count("warning: customerio-app.raw_http_request: /endpoint starts with '/v1'") == 1
    assert leaks(out + err) == []


def test_the_cli_refuses_an_absolute_endpoint_with_the_reason(capsys):
    code = main(["call", RAW, "--input", json.dumps({"method": "GET", "endpoint": "https://api.customer.io/v1/x"}),
                 "--connection", json.dumps(APP), "--dry-run"])
    _, err = capsys.readouterr()
    assert code == 2 and "/endpoint: must be a path, not a URL" in err and "Traceback" not in err


def test_an_automation_with_a_literal_relative_endpoint_fails_at_load(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("""\
spec_version: 1
name: t
connections:
  app: {connector: customerio-app, ref: cio-app}
steps:
  - id: read
    uses: customerio-app.raw_http_request
    with: {method: GET, endpoint: "segments"}
""", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_automation(Runtime(), path)
    text = str(info.value)
    assert "a.yaml:8" in text and "/steps/0/with/endpoint" in text and "must start with '/'" in text
