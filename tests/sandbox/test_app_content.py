"""App API snippets and sender identities over real HTTP: upsert by name, refused deletes, paging, usage."""

from __future__ import annotations

import pytest


def snippets(cio):
    return {s["name"]: s["value"] for s in cio.app.get("/snippets").json()["snippets"]}


def test_a_snippet_is_created_then_replaced_by_name(cio):
    created = cio.app.put("/snippets", json={"name": "  address ", "value": " 1 Loopback Way  "})
    assert created.status_code == 200 and created.json()["snippet"]["name"] == "address"
    assert snippets(cio)["address"] == "1 Loopback Way"
    cio.app.put("/snippets", json={"name": "address", "value": "2 Loopback Way"})
    assert snippets(cio)["address"] == "2 Loopback Way" and len(snippets(cio)) == 3


@pytest.mark.parametrize("body", [{"value": "v"}, {"name": "n"}, {"name": " ", "value": "v"},
                                  {"name": "n", "value": 3}, {"name": "n" * 151, "value": "v"}])
def test_a_bad_snippet_is_a_400(cio, body):
    assert cio.app.put("/snippets", json=body).status_code == 400
    assert set(snippets(cio)) == {"footer", "signature"}


def test_delete_refuses_unknown_and_used_snippets(cio):
    assert cio.app.delete("/snippets/signature").status_code == 204
    assert cio.app.delete("/snippets/signature").status_code == 404
    used = cio.app.delete("/snippets/footer")
    assert used.status_code == 400 and "newsletter 6" in used.json()["errors"][0]["detail"]
    assert "footer" in snippets(cio)
    for content in (61, 62):
        cio.app.put(f"/newsletters/6/contents/{content}", json={"body": "<p>no footer</p>"})
    assert cio.app.delete("/snippets/footer").status_code == 204 and snippets(cio) == {}


def test_a_snippet_name_with_a_slash_is_one_path_segment(cio):
    cio.app.put("/snippets", json={"name": "a/b", "value": "v"})
    assert cio.app.delete("/snippets/a%2Fb").status_code == 204


def test_sender_identities_page_and_are_found_by_id(cio):
    first = cio.app.get("/sender_identities?limit=1").json()
    assert [s["id"] for s in first["sender_identities"]] == [1] and first["next"]
    rest = cio.app.get(f"/sender_identities?limit=1&start={first['next']}").json()
    assert [s["id"] for s in rest["sender_identities"]] == [2] and rest["next"] == ""
    assert cio.app.get("/sender_identities?sort=desc").json()["sender_identities"][0]["id"] == 2
    assert cio.app.get("/sender_identities/2").json()["sender_identity"]["template_type"] == "phone"
    assert cio.app.get("/sender_identities/9").status_code == 404
    assert cio.app.get("/sender_identities/x").status_code == 404
    assert cio.beta.get("/sender_identities").status_code == 404


def test_sender_usage_follows_the_content(cio):
    assert cio.app.get("/sender_identities/1/used_by").json()["used_by"]["newsletters"] == [6, 7]
    assert cio.app.get("/sender_identities/2/used_by").json()["used_by"]["newsletters"] == []
    assert cio.app.get("/sender_identities/9/used_by").status_code == 404
