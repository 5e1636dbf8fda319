"""Hostile data on the command line is exit 2 with a located message, never a traceback (issue 12, item 9)."""

from __future__ import annotations

import pytest
from relaykit.cli.app import main

DEEP = "[" * 30_000 + "]" * 30_000


@pytest.fixture
def files(tmp_path):
    (tmp_path / "deep.json").write_text(DEEP)
    (tmp_path / "deep.yaml").write_text("data: " + DEEP)
    (tmp_path / "big.json").write_text('{"identifier": "x", "name": ' + "9" * 5000 + "}")
    (tmp_path / "hex.yaml").write_text("identifier: x\nname: 0x" + "f" * 6000 + "\n")
    (tmp_path / "float.json").write_text('{"identifier": "x", "name": 1e999}')
    return tmp_path


@pytest.mark.parametrize("args, words", [
    (["--input", "@deep.json"], "nesting is deeper"),
    (["--input", "@deep.yaml"], "nesting is deeper"),
    (["--input", DEEP], "nesting is deeper"),
    (["--input", "@big.json"], "big.json:1:29 /name: integer has more than 4000 digits"),
    (["--input", "@hex.yaml"], "hex.yaml:2:7 /name: integer has more than 4000 digits"),
    (["--input", "@float.json"], "/name: number is too large"),
    (["--connection", "@deep.json"], "nesting is deeper"),
    (["--connection", "[1]"], "--connection must be a JSON object"),
    (["--input", "@a\x00b"], "not a usable file name"),  # found by fuzz/fuzz_input.py (I1)
    (["--connection", '"x"'], "--connection must be a JSON object"),
])
def test_hostile_call_arguments_are_usage_errors(capsys, monkeypatch, files, args, words):
    monkeypatch.chdir(files)
    assert main(["call", "customerio-track.track_event", "--dry-run", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_hostile_automation_arguments_are_usage_errors(capsys, monkeypatch, files):
    monkeypatch.chdir(files)
    (files / "a.yaml").write_text("spec_version: 1\nname: a\nsteps:\n  - {id: s, uses: set, with: {v: 1}}\n")
    for args in (["--input", "@deep.json"], ["--connections", "@deep.yaml"], ["--input", "@big.json"]):
        assert main(["run", "a.yaml", "--dry-run", *args]) == 2
        assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("literal", ["9" * 5000, "0x" + "f" * 6000])
def test_a_huge_integer_in_an_automation_is_a_spec_error_at_validate(capsys, tmp_path, literal):
    path = tmp_path / "a.yaml"
    path.write_text(f"spec_version: 1\nname: a\nsteps:\n  - {{id: s, uses: set, with: {{v: {literal}}}}}\n")
    assert main(["validate", str(path)]) == 2
    assert "integer has more than 4000 digits" in capsys.readouterr().err
