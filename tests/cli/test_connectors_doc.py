"""docs/connectors.md shows exactly what `relaykit new connector acme-notes` writes."""

from __future__ import annotations

import re
from pathlib import Path

from relaykit.cli.scaffold import scaffold_connector

DOC = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"
BLOCK = re.compile(r"^`([^`\n]+)`:\n\n```[a-z]*\n(.*?)```$", re.S | re.M)


def test_every_file_block_equals_the_scaffold_output(tmp_path):
    root = scaffold_connector("acme-notes", tmp_path / "pkg")
    blocks = dict(BLOCK.findall(DOC.read_text()))
    assert len(blocks) >= 8
    for rel, text in blocks.items():
        assert (root / rel).read_text() == text, rel
    written = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert written - set(blocks) <= {"README.md", "relaykit_acme_notes/__init__.py"}
