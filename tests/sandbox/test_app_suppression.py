"""App API ESP suppression over real HTTP: per-type lists, search by address, idempotent add, checked remove."""

from __future__ import annotations


def test_add_list_search_and_remove(cio):
    assert cio.app.post("/esp/suppression/bounces/Ada%40x.io").status_code == 200
    assert cio.app.post("/esp/suppression/bounces/ada%40x.io").status_code == 200  # once is enough
    cio.app.post("/esp/suppression/spam_reports/ada%40x.io")
    cio.app.post("/esp/suppression/bounces/bob%40y.io")
    bounces = cio.app.get("/esp/suppression/bounces").json()
    assert bounces["category"] == "bounces"
    assert [r["email"] for r in bounces["suppressions"]] == ["Ada@x.io", "bob@y.io"]
    assert [r["email"] for r in cio.app.get("/esp/suppression/bounces?domain=y.io").json()["suppressions"]] == [
        "bob@y.io"]
    assert [r["email"] for r in cio.app.get("/esp/suppression/bounces?limit=1&offset=1").json()["suppressions"]] == [
        "bob@y.io"]
    found = cio.app.get("/esp/search_suppression/ADA%40x.io").json()["suppressions"]
    assert [f["category"] for f in found] == ["bounces", "spam_reports"]
    assert cio.app.delete("/esp/suppression/bounces/ada%40x.io").status_code == 204
    assert cio.app.delete("/esp/suppression/bounces/ada%40x.io").status_code == 404
    assert [f["category"] for f in cio.app.get("/esp/search_suppression/ada%40x.io").json()["suppressions"]] == [
        "spam_reports"]
    assert cio.app.get("/esp/search_suppression/nobody%40x.io").json() == {"suppressions": []}


def test_bad_types_addresses_and_pages_are_400s(cio):
    assert cio.app.get("/esp/suppression/complaints").status_code == 400
    assert cio.app.post("/esp/suppression/bounces/not-an-address").status_code == 400
    assert cio.app.get("/esp/search_suppression/nope").status_code == 400
    assert cio.app.get("/esp/suppression/bounces?limit=0").status_code == 400
    assert cio.app.get("/esp/suppression/bounces?offset=-1").status_code == 400
    assert cio.app.get("/esp/suppression/blocks").json() == {"category": "blocks", "suppressions": []}
    assert cio.beta.get("/esp/suppression/bounces").status_code == 404
