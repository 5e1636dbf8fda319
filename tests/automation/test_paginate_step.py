"""An automation step that pages (`paginate:`), run against the sandbox; and refused at load where it cannot."""

from __future__ import annotations

import pytest
from relaykit import Runtime, SpecError

PAGED = """\
spec_version: 1
name: members
connections:
  app: {connector: customerio-app}
steps:
  - id: members
    uses: customerio-app.list_segment_members
    with: {segment_id: 1, limit: 2}
    paginate: PAGINATE
outputs:
  count: "{{ steps.members.output.items | length }}"
  stopped: "{{ steps.members.output.stopped_by }}"
"""


@pytest.mark.parametrize(("paginate", "count", "stopped", "pages"), [
    ("true", 5, "end", 3), ("{max_items: 3}", 3, "max_items", 2), ("{max_pages: 1}", 2, "max_pages", 1)])
def test_a_step_walks_every_page(sandbox, tmp_path, paginate, count, stopped, pages):
    with Runtime() as rt:
        ids = [f"p{n}" for n in range(5)]
        for identifier in ids:
            rt.run("customerio-track.create_or_update_customer", {"identifier": identifier},
                   sandbox.connection("customerio-track"))
        rt.run("customerio-track.add_to_segment", {"segment_id": 1, "ids": ids}, sandbox.connection("customerio-track"))
        path = tmp_path / "members.yaml"
        path.write_text(PAGED.replace("PAGINATE", paginate))
        run = rt.run_automation(rt.load_automation(path), {}, {"app": sandbox.connection("customerio-app")})
    assert run.ok and run.outputs == {"count": count, "stopped": stopped}
    assert run.results["members"]["output"]["pages"] == pages


@pytest.mark.parametrize(("uses", "words"), [
    ("customerio-app.get_segment", "does not page"), ("set", "only to an operation step")])
def test_paginate_where_nothing_pages_is_a_load_error(tmp_path, uses, words):
    path = tmp_path / "bad.yaml"
    path.write_text(PAGED.replace("customerio-app.list_segment_members", uses).replace("PAGINATE", "true"))
    with Runtime() as rt, pytest.raises(SpecError) as info:
        rt.load_automation(path)
    assert any(p.pointer == "/steps/0/paginate" and words in p.message and p.line == 9 for p in info.value.problems)
