"""Getting started with the command itself: bare `relaykit`, `--version`, `--help` examples, `--curl`."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from canary_scan import leaks
from relaykit.cli import main
from relaykit.version import __version__


def test_bare_relaykit_prints_the_overview_with_examples(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "call" in err and "describe" in err and "examples:" in err and "relaykit demo" in err
    assert "the following arguments are required" not in err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"relaykit {__version__}"


def test_help_has_examples_and_says_curl_is_a_dry_run(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "examples:" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["call", "--help"])
    assert "dry run" in capsys.readouterr().out


@pytest.mark.parametrize("connector", ["customerio-track", "customerio-app", "customerio-pipelines"])
def test_curl_runs_once_the_connection_variables_are_set_and_prints_no_secret(capsys, sandbox, connector):
    conn = sandbox.connection(connector)
    env = {f"RELAYKIT_PROD_{field.upper()}": value for field, value in conn.items()}
    before = len(sandbox.journal())
    argv = {"customerio-track": ["customerio-track.track_event", "--input",
                                 '{"identifier": "ada@example.com", "name": "signed_up"}'],
            "customerio-app": ["customerio-app.trigger_broadcast", "--input", '{"broadcast_id": 8}'],
            "customerio-pipelines": ["customerio-pipelines.track", "--input", '{"userId": "ada", "event": "x"}']}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        code = main(["call", *argv[connector], "--connection", "ref:prod", "--curl"])
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    out, err = capsys.readouterr()
    assert code == 0 and leaks(out + err) == []
    assert "nothing was sent" in err and "$RELAYKIT_PROD_API_KEY" in err
    assert len(sandbox.journal()) == before  # --curl is a dry run
    proc = subprocess.run(["bash", "-c", out.strip() + " -s -o /dev/null -w '%{http_code}'"],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=30)
    assert proc.stdout.startswith("2"), proc.stdout + proc.stderr
    assert len(sandbox.journal()) == before + 1
    wrong = {**env, "RELAYKIT_PROD_API_KEY": "wrong-key-000000000000"}
    proc = subprocess.run(["bash", "-c", out.strip() + " -s -o /dev/null -w '%{http_code}'"],
                          env={**os.environ, **wrong}, capture_output=True, text=True, timeout=30)
    assert proc.stdout == "401"  # the credentials really come from the variables


def test_curl_of_an_inline_connection_names_the_connector_variables(capsys):
    code = main(["call", "customerio-app.trigger_broadcast", "--input", '{"broadcast_id": 3}',
                 "--connection", json.dumps({"api_key": "x" * 20}), "--curl"])
    out, _ = capsys.readouterr()
    assert code == 0 and '-H "Authorization: Bearer ${RELAYKIT_CUSTOMERIO_APP_API_KEY}"' in out
    assert "x" * 20 not in out and "***" not in out
