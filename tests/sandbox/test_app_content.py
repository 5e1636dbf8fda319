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
    assert [s["id"] for s in rest["sender_identities"]] == [2] and rest["next"]
    assert cio.app.get("/sender_identities?sort=desc").json()["sender_identities"][0]["id"] == 3
    assert cio.app.get("/sender_identities/2").json()["sender_identity"]["template_type"] == "phone"
    assert cio.app.get("/sender_identities/9").status_code == 404
    assert cio.app.get("/sender_identities/x").status_code == 404
    assert cio.beta.get("/sender_identities").status_code == 404


def test_sender_usage_follows_the_content(cio):
    assert cio.app.get("/sender_identities/1/used_by").json()["used_by"]["newsletters"] == [6, 7]
    assert cio.app.get("/sender_identities/2/used_by").json()["used_by"]["newsletters"] == []
    assert cio.app.get("/sender_identities/9/used_by").status_code == 404


ROWS = [{"eventName": "Launch", "eventDate": "2026-12-24"}, {"eventName": "Sale", "presents": 3}]


def test_a_collection_keeps_its_rows_and_what_they_decide(cio):
    created = cio.app.post("/collections", json={"name": " events ", "data": ROWS}).json()["collection"]
    assert created["name"] == "events" and created["rows"] == 2
    assert created["schema"] == ["eventDate", "eventName", "presents"] and created["bytes"] > 0
    assert cio.app.get("/collections/1/content").json() == {"content": ROWS}
    assert cio.app.get("/collections").json()["collections"] == [created]
    replaced = cio.app.put("/collections/1/content", json=[{"x": 1}]).json()["collection"]
    assert replaced["rows"] == 1 and replaced["schema"] == ["x"]
    renamed = cio.app.put("/collections/1", json={"name": "later"}).json()["collection"]
    assert renamed["name"] == "later" and renamed["rows"] == 1
    assert cio.app.delete("/collections/1").status_code == 204
    assert cio.app.get("/collections/1").status_code == 404
    assert cio.app.get("/collections/1/content").status_code == 404


@pytest.mark.parametrize("body", [{"data": ROWS}, {"name": "x"}, {"name": "x", "data": [1, 2]},
                                  {"name": "x", "data": {"a": 1}}, {"name": "x", "url": "https://example.com/d.csv"}])
def test_a_bad_collection_is_a_400(cio, body):
    assert cio.app.post("/collections", json=body).status_code == 400
    assert cio.app.get("/collections").json()["collections"] == []


def test_collection_names_are_unique_and_updates_are_checked(cio):
    cio.app.post("/collections", json={"name": "a", "data": ROWS})
    cio.app.post("/collections", json={"name": "b", "data": ROWS})
    assert cio.app.post("/collections", json={"name": "a", "data": ROWS}).status_code == 400
    assert cio.app.put("/collections/2", json={"name": "a"}).status_code == 400
    assert cio.app.put("/collections/2", json={}).status_code == 400
    assert cio.app.put("/collections/2/content", json={"rows": []}).status_code == 400
    assert cio.app.get("/collections/2/content").json()["content"] == ROWS
    assert cio.beta.get("/collections").status_code == 404
