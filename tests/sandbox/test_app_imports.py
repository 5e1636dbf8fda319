"""App API CSV imports over real HTTP: `data:` URLs applied through the Track rules, everything else failing clearly."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest


def data_url(text, encoded="base64"):
    if encoded == "base64":
        return "data:text/csv;base64," + base64.b64encode(text.encode()).decode()
    return "data:text/csv," + quote(text)


def start(cio, **spec):
    response = cio.app.post("/imports", json={"import": {"name": "test", "type": "people", "identifier": "id", **spec}})
    assert response.status_code == 200, response.text
    return response.json()["import"]


def test_people_rows_are_identified(cio):
    done = start(cio, data_file_url=data_url("id,email,plan\nu1,u1@x.io,pro\n,x@x.io,free\nu2,,team\n"))
    assert (done["state"], done["rows_to_import"], done["rows_imported"]) == ("imported", 3, 2)
    assert cio.app.get(f"/imports/{done['id']}").json()["import"] == done
    assert cio.app.get("/customers/u1/attributes").json()["customer"]["attributes"]["plan"] == "pro"
    assert cio.app.get("/customers/u2/attributes").json()["customer"]["attributes"]["plan"] == "team"


def test_only_new_and_only_existing(cio):
    cio.track.put("/v1/customers/old", json={"plan": "free"})
    rows = data_url("id,plan\nold,pro\nnew,pro\n", encoded="percent")
    assert start(cio, data_file_url=rows, data_to_process="only_new")["rows_imported"] == 1
    assert cio.app.get("/customers/old/attributes").json()["customer"]["attributes"]["plan"] == "free"
    cio.track.delete("/v1/customers/new")
    assert start(cio, data_file_url=rows, data_to_process="only_existing")["rows_imported"] == 1
    assert cio.app.get("/customers/old/attributes").json()["customer"]["attributes"]["plan"] == "pro"
    assert cio.app.get("/customers/new/attributes").status_code == 404


def test_event_rows_become_events(cio):
    done = start(cio, type="event", data_file_url=data_url("id,name,timestamp,sku\nu1,purchased,1700000000,A1\n"))
    assert done["rows_imported"] == 1
    event = cio.app.get("/customers/u1/activities?type=event").json()["activities"][0]
    assert (event["name"], event["timestamp"], event["data"]) == ("purchased", 1700000000, {"sku": "A1"})


@pytest.mark.parametrize(("spec", "error"), [
    ({"data_file_url": "https://example.com/people.csv"}, "no network"),
    ({"data_file_url": data_url("email,plan\na@x.io,pro\n")}, "no id column"),
    ({"data_file_url": "data:text/csv;base64,%%%"}, "base64"),
    ({"type": "object", "identifier": None, "object_type_id": "1", "data_file_url": data_url("object_id\n1\n")},
     "does not apply object imports")])
def test_an_import_the_sandbox_cannot_do_fails_and_says_why(cio, spec, error):
    failed = start(cio, **spec)
    assert failed["state"] == "failed" and error in failed["error"] and failed["rows_imported"] == 0


@pytest.mark.parametrize("spec", [
    {"type": "people", "identifier": "id"},
    {"name": "n", "data_file_url": "ftp://x", "type": "people", "identifier": "id"},
    {"name": "n", "data_file_url": "data:,", "type": "people", "identifier": "phone"},
    {"name": "n", "data_file_url": "data:,", "type": "event", "identifier": "id", "data_to_process": "only_new"},
    {"name": "n", "data_file_url": "data:,", "type": "object"}])
def test_a_bad_import_request_is_a_400(cio, spec):
    assert cio.app.post("/imports", json={"import": spec}).status_code == 400
    assert cio.app.post("/imports", json=spec).status_code == 400
    assert cio.app.get("/imports/1").status_code == 404
