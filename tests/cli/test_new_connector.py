"""`relaykit new connector`: the package it writes validates, builds as a wheel, installs and works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap

import pytest
from relaykit.cli import main

BIN = os.path.dirname(sys.executable)


def test_scaffold_validates_as_a_folder_and_validate_finds_a_broken_one(capsys, tmp_path):
    root = tmp_path / "relaykit-acme-notes"
    assert main(["new", "connector", "acme-notes", str(root)]) == 0
    capsys.readouterr()
    assert main(["validate", str(root)]) == 0
    assert main(["validate", str(root / "relaykit_acme_notes" / "spec")]) == 0
    capsys.readouterr()
    operation = root / "relaykit_acme_notes" / "spec" / "operations" / "create_item.yaml"
    operation.write_text(operation.read_text().replace("{{ input.title }}", "{{ inptu.title }}"))
    assert main(["validate", str(root)]) == 2
    err = capsys.readouterr().err
    assert "operations/create_item.yaml:17:14 /request/body/json/title" in err and "did you mean" in err


def test_scaffold_refuses_a_bad_name_and_a_full_folder(capsys, tmp_path):
    assert main(["new", "connector", "Acme_Notes", str(tmp_path / "x")]) == 2
    assert "not a connector name" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert main(["new", "connector", "acme", str(tmp_path / "full")]) == 2
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_validate_a_folder_without_a_connector(capsys, tmp_path):
    assert main(["validate", str(tmp_path)]) == 2
    assert "no connector.yaml" in capsys.readouterr().err


def run(*argv, **kw):
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=120, **kw)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.mark.slow
def test_scaffold_installs_as_a_wheel_into_a_fresh_venv_and_its_own_tests_pass(tmp_path, echo_server):
    root = tmp_path / "relaykit-acme-notes"
    assert main(["new", "connector", "acme-notes", str(root)]) == 0
    # a real wheel, built offline by the setuptools of this environment
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
        "-w", str(tmp_path / "dist"), str(root))
    (wheel,) = (tmp_path / "dist").glob("relaykit_acme_notes-0.1.0-*.whl")
    # a fresh venv that sees this environment's relaykit (and pytest) through a .pth, nothing else
    fresh = tmp_path / "fresh"
    run(sys.executable, "-m", "venv", "--without-pip", str(fresh))
    python = str(fresh / "bin" / "python")
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    with open(os.path.join(site, "parent_env.pth"), "w") as f:
        f.write(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", str(wheel))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAYKIT_", "PYTHON"))}
    installed = run(python, "-c", "import relaykit_acme_notes, sys; print(relaykit_acme_notes.__file__)",
                    env=env, cwd=tmp_path).stdout
    assert installed.startswith(site)  # the wheel's copy, not the scaffold folder
    listed = run(python, "-m", "relaykit.cli.app", "connectors", "--json", env=env, cwd=tmp_path).stdout
    assert "acme-notes" in {c["name"] for c in json.loads(listed)}
    # the scaffold's own tests, run against the installed wheel
    tests = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests"), env=env,
                cwd=tmp_path).stdout
    assert "2 passed" in tests
    # and a call through the installed connector to the suite's loopback echo server
    script = textwrap.dedent(f"""
        import json
        from relaykit import Runtime
        with Runtime() as rt:
            conn = {{"token": "scaffold-token-0123456789", "sandbox_url": {echo_server.url!r}}}
            request = rt.dry_run("acme-notes.create_item", {{"title": "Hi"}}, conn)
            echo = rt.run("acme-notes.raw_http_request", {{"method": "GET", "endpoint": "/ping"}}, conn)
        print(json.dumps({{"url": request.url, "status": echo.status}}))
    """)
    out = json.loads(run(python, "-c", script, env=env, cwd=tmp_path).stdout)
    assert out == {"url": f"{echo_server.url}/acme-notes/us/v1/items", "status": 200}
    (received,) = echo_server.requests
    assert received["path"] == "/acme-notes/us/v1/ping"
    assert received["headers"]["Authorization"] == "Bearer scaffold-token-0123456789"
