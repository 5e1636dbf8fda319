"""One broken installed plugin never hides the others: it is reported by name, provider and problem."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_plugins import write_connector

README_PLUGIN = '''\
from pathlib import Path
from relaykit import ConnectorSource, hookimpl

@hookimpl
def register_connectors(registry):
    registry.add(ConnectorSource.from_directory(Path(__file__).parent / "spec", "acme-notes"))
'''


def install_dist(site: Path, dist: str, package: str, entry_points: dict[str, str], files: dict[str, str]) -> Path:
    """A real installed distribution (dist-info with entry points) on a folder put on PYTHONPATH."""
    for rel, text in files.items():
        target = site / package / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[relaykit.connectors]\n{lines}")
    return site / package


def relaykit(site: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("RELAYKIT_LOAD_PLUGINS", None)
    env.pop("RELAYKIT_DISABLE_PLUGINS", None)
    return subprocess.run([str(Path(sys.executable).parent / "relaykit"), *argv], capture_output=True, text=True,
                          env=env, timeout=60)


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    # installed as the old README said: the plugin module, but no package-data line, so no spec/
    install_dist(site, "acme-relaykit", "acme_relaykit", {"acme-notes": "acme_relaykit.plugin"},
                 {"__init__.py": "", "plugin.py": README_PLUGIN})
    # a plugin whose module does not even import
    install_dist(site, "bad-import", "bad_import", {"bad-import": "bad_import.plugin"},
                 {"__init__.py": "", "plugin.py": "import not_a_module_anywhere\n"})
    # a plugin whose hook raises
    install_dist(site, "bad-hook", "bad_hook", {"bad-hook": "bad_hook"},
                 {"__init__.py": "from relaykit import hookimpl\n\n@hookimpl\ndef register_connectors(registry):\n"
                                 "    raise RuntimeError('boom')\n"})
    return site


def test_connectors_lists_the_builtins_and_reports_each_broken_plugin(site):
    proc = relaykit(site, "connectors", "--json")
    assert proc.returncode == 0, proc.stderr
    names = {c["name"] for c in json.loads(proc.stdout)}
    assert {"customerio-track", "customerio-app", "customerio-beta", "customerio-pipelines"} <= names
    assert "acme-notes" not in names
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: not loaded:")]
    assert len(warnings) == 3, proc.stderr
    text = "\n".join(warnings)
    assert "acme-notes (from acme-notes (acme-relaykit 0.1))" in text and "connector file not found" in text
    assert "package data" in text
    assert "bad-import (from bad-import 0.1): cannot import bad_import.plugin: ModuleNotFoundError" in text
    assert "bad-hook" in text and "register_connectors raised RuntimeError: boom" in text
    assert "Traceback" not in proc.stderr


def test_operations_and_validate_still_work_for_the_others(site):
    proc = relaykit(site, "operations")
    assert proc.returncode == 0 and "customerio-track.track_event" in proc.stdout
    assert "acme-notes" in proc.stderr
    proc = relaykit(site, "describe", "customerio-track.track_event")
    assert proc.returncode == 0 and proc.stderr == ""


@pytest.mark.parametrize("argv", [["operations", "acme-notes"], ["describe", "acme-notes.add_note"],
                                  ["describe", "bad-import"]])
def test_asking_for_the_broken_connector_exits_2_with_its_problem(site, argv):
    proc = relaykit(site, *argv)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert ("connector file not found" in proc.stderr) or ("cannot import bad_import.plugin" in proc.stderr)


def test_shipping_the_spec_as_package_data_makes_it_load(site):
    write_connector(site / "acme_relaykit" / "spec")
    proc = relaykit(site, "connectors", "--json")
    assert proc.returncode == 0
    assert "acme-notes" in {c["name"] for c in json.loads(proc.stdout)}
    assert "acme-notes" not in proc.stderr


def test_validate_everything_reports_every_broken_plugin(site):
    proc = relaykit(site, "validate")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "connector file not found" in proc.stderr
    assert "plugin 'bad-import' (from bad-import 0.1) is not loaded: cannot import" in proc.stderr
    assert "plugin 'bad-hook'" in proc.stderr and "boom" in proc.stderr
