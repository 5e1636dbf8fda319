"""The shipped examples are reachable by name from anywhere, listed, shown and copied out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from relaykit import SpecError, UnknownExampleError
from relaykit.automation.examples import copy_example, example_names
from relaykit.cli import main

RELAYKIT = str(Path(sys.executable).parent / "relaykit")
ADA = '{"user_id": "ada", "email": "ada@example.com"}'


def test_every_shipped_example_loads_by_name(rt):
    assert set(example_names()) >= {"onboard_user", "backfill_events", "email_bounce"}
    for name in example_names():
        assert rt.load_automation(f"example:{name}").name == name
    assert rt.load_automation("onboard_user").name == "onboard_user"


def test_unknown_example_suggests_the_closest(rt):
    with pytest.raises(UnknownExampleError) as info:
        rt.load_automation("example:onbord_user")
    assert info.value.suggestions == ["onboard_user"]


def test_run_by_name_outside_the_clone(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYKIT_")}
    proc = subprocess.run([RELAYKIT, "run", "onboard_user", "--sandbox", "--input", ADA, "--json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outputs"]["person"] == "ada"


def test_examples_lists_shows_and_copies_one_to_start_from(capsys, tmp_path, rt):
    assert main(["examples", "--json"]) == 0
    listed = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert listed["onboard_user"]["title"] == "Onboard a new user"
    assert main(["examples", "show", "onboard_user"]) == 0
    assert "uses: customerio-track.create_or_update_customer" in capsys.readouterr().out
    target = tmp_path / "mine"
    target.mkdir()
    assert main(["examples", "copy", "onboard_user", str(target)]) == 0
    copied = target / "onboard_user.yaml"
    assert rt.load_automation(copied).name == "onboard_user"
    assert "yaml-language-server" not in copied.read_text()  # its relative schema path would point nowhere
    capsys.readouterr()
    assert main(["examples", "copy", "onboard_user", str(copied)]) == 2  # never overwrites
    assert "already exists" in capsys.readouterr().err
    assert main(["run", str(copied), "--dry-run", "--input", ADA, "--connections",
                 json.dumps({"track": {"site_id": "s", "api_key": "k" * 16}, "app": {"api_key": "k" * 16}})]) == 0


def test_copy_of_an_unknown_example_exits_2(capsys, tmp_path):
    assert main(["examples", "copy", "bakfill_events", str(tmp_path)]) == 2
    assert "did you mean 'backfill_events'" in capsys.readouterr().err


def test_a_copied_example_edited_wrongly_reports_its_own_file(rt, tmp_path):
    path = copy_example("onboard_user", tmp_path)
    path.write_text(path.read_text().replace("uses: customerio-track.track_event", "uses: customerio-track.trak"))
    with pytest.raises(SpecError) as info:
        rt.load_automation(path)
    assert str(path) in str(info.value)
