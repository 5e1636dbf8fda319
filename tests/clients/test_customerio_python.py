"""The official Python client (`customerio`, pinned in the `test` extra) against the sandbox over HTTPS.

`CustomerIO` (Track) is given only `host` and `port`: it builds `https://{host}:{port}/api/v1/...`
and `/api/v2/batch` itself. `APIClient` (App) is given only `url`. The CA comes from
`REQUESTS_CA_BUNDLE`, the standard setting of the HTTP library the client uses.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

customerio = pytest.importorskip("customerio", reason="the official client comes with the test extra")

from customerio import (  # noqa: E402
    APIClient,
    CustomerIO,
    CustomerIOException,
    SendEmailRequest,
    SendInAppRequest,
    SendInboxMessageRequest,
    SendPushRequest,
    SendSMSRequest,
    SendWhatsAppRequest,
)


@pytest.fixture
def track(client_sandbox, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", client_sandbox.ca_bundle)
    entry = client_sandbox.host_info()["customerio-track"]["us"]
    creds = client_sandbox.credentials
    with CustomerIO(site_id=creds["site_id"], api_key=creds["track_api_key"], host=entry["host"],
                    port=entry["port"], retries=0) as client:
        yield client


@pytest.fixture
def api(client_sandbox, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", client_sandbox.ca_bundle)
    url = client_sandbox.host_info()["customerio-app"]["us"]["url"]
    with APIClient(client_sandbox.credentials["app_api_key"], url=url, retries=0) as client:
        yield client


def test_identify_and_delete(track, app, client_sandbox):
    track.identify("ada", email="ada@example.com", plan="pro", created_at=datetime(2024, 1, 2, tzinfo=timezone.utc))
    customer = app.customer("ada")
    assert customer["attributes"]["email"] == "ada@example.com" and customer["attributes"]["plan"] == "pro"
    assert customer["attributes"]["created_at"] == "1704153600"  # the client sends datetimes as unix seconds
    assert set(customer["timestamps"]) == set(customer["attributes"])
    track.delete("ada")
    assert app.status("/customers/ada/attributes") == 404
    assert client_sandbox.journal()[0]["target"] == "/api/v1/customers/ada"


def test_track_pageview_backfill_and_anonymous_events(track, app, client_sandbox):
    track.identify("bo", email="bo@example.com")
    track.track("bo", "purchased", {"price": 9.5}, id="01HZZZZZZZZZZZZZZZZZZZZZZZ")
    track.track("bo", "purchased", {"price": 9.5}, id="01HZZZZZZZZZZZZZZZZZZZZZZZ")  # deduplicated by id
    track.pageview("bo", "https://example.com/pricing", referrer="ad")
    past = datetime(2024, 3, 1, tzinfo=timezone.utc)
    track.backfill("bo", "signed_up", past, plan="trial")
    track.track_anonymous("anon-1", "viewed", {"sku": "a1"})
    track.identify("bo", anonymous_id="anon-1")
    events = client_sandbox.state()["events"]
    assert [(e["name"], e["type"]) for e in events] == [
        ("purchased", "event"), ("https://example.com/pricing", "page"), ("signed_up", "event"), ("viewed", "event")
    ]
    assert events[2]["timestamp"] == int(past.timestamp()) and events[2]["data"] == {"plan": "trial"}
    assert {e["customer_id"] for e in events} == {"bo"}  # the anonymous event joined bo
    activities = app.get("/customers/bo/activities", params={"type": "event"})["activities"]
    assert {a["name"] for a in activities} >= {"purchased", "signed_up", "viewed"}


def test_devices(track, app, client_sandbox):
    track.add_device("cy", "tok-ios", "ios", last_used=1700000000, app_version="2.1.0")
    track.add_device("cy", "tok-android", "android")
    track.delete_device("cy", "tok-android")
    devices = app.customer("cy")["devices"]
    assert devices == [{"id": "tok-ios", "last_used": 1700000000, "platform": "ios"}]
    stored = client_sandbox.state()["people"][0]["devices"][0]
    assert stored["attributes"] == {"app_version": "2.1.0"}


def test_suppress_unsuppress(track, app, client_sandbox):
    track.identify("di", email="di@example.com")
    track.suppress("di")
    assert app.status("/customers/di/attributes") == 404
    track.identify("di", email="di@example.com")  # a suppressed identifier is dropped
    assert client_sandbox.journal()[-1]["outcome"] == "dropped"
    track.unsuppress("di")
    track.identify("di", email="di@example.com")
    assert app.customer("di")["attributes"]["email"] == "di@example.com"


def test_merge_customers(track, app, client_sandbox):
    now = int(time.time())
    track.identify("keep", email="keep@example.com")
    track.identify("gone", city="Oslo")
    track.track("gone", "recent", timestamp=now - 3600)
    track.backfill("gone", "long_ago", now - 45 * 24 * 3600)
    track.merge_customers("email", "keep@example.com", "id", "gone")
    customer = app.customer("keep")
    assert customer["attributes"]["city"] == "Oslo" and "city" in customer["timestamps"]
    assert app.status("/customers/gone/attributes") == 404
    assert [e["name"] for e in client_sandbox.state()["events"]] == ["recent"]  # 30 days of history
    with pytest.raises(CustomerIOException):
        track.merge_customers("phone", "x", "id", "y")  # the client's own check; nothing is sent


def test_batch_goes_to_the_v2_path_from_the_host_root(track, app, client_sandbox):
    track.batch([
        {"type": "person", "action": "identify", "identifiers": {"id": "ed"}, "attributes": {"tier": "gold"}},
        {"type": "person", "action": "event", "identifiers": {"id": "ed"}, "name": "batched"},
        {"type": "object", "action": "identify", "identifiers": {"object_type_id": "1", "object_id": "acme"},
         "attributes": {"name": "Acme"}},
    ])
    assert client_sandbox.journal()[-1]["target"] == "/api/v2/batch"
    assert app.customer("ed")["attributes"]["tier"] == "gold"
    assert client_sandbox.state()["objects"][0]["attributes"] == {"name": "Acme"}


def test_track_errors_surface_as_the_clients_exception(track, client_sandbox):
    client_sandbox.set_faults({"schedule": [{"kind": "status", "status": 400}]})
    with pytest.raises(CustomerIOException, match="400"):
        track.identify("x", plan="a")


def test_transactional_sends(track, api, app, client_sandbox):
    track.identify("fi", email="fi@example.com")
    email = api.send_email(SendEmailRequest(transactional_message_id=1, to="fi@example.com",
                                            identifiers={"id": "fi"}, message_data={"code": "42"}))
    push = api.send_push(SendPushRequest(transactional_message_id=2, identifiers={"id": "fi"}, title="Hi",
                                         device={"token": "tok-p", "platform": "ios"}))
    sms = api.send_sms(SendSMSRequest(transactional_message_id="login_code", to="+15005550006",
                                      identifiers={"id": "fi"}))
    ids = {email["delivery_id"], push["delivery_id"], sms["delivery_id"]}
    messages = app.get("/customers/fi/messages")["messages"]
    assert {m["id"] for m in messages} == ids
    assert {m["type"] for m in messages} == {"email", "push", "sms"}
    assert app.customer("fi")["devices"][0]["id"] == "tok-p"
    for call, request in ((api.send_whatsapp, SendWhatsAppRequest(transactional_message_id=1, to="+15005550006",
                                                                  identifiers={"id": "fi"})),
                          (api.send_inbox_message, SendInboxMessageRequest(transactional_message_id=1,
                                                                           identifiers={"id": "fi"})),
                          (api.send_in_app, SendInAppRequest(transactional_message_id=1, identifiers={"id": "fi"}))):
        with pytest.raises(CustomerIOException, match="403"):
            call(request)  # channels the sandbox workspace does not enable
    assert [e["target"] for e in client_sandbox.journal()][-3:] == [
        "/v1/send/whatsapp", "/v1/send/inbox_message", "/v1/send/in_app"]


def test_app_client_bad_request_is_the_clients_exception(api):
    with pytest.raises(CustomerIOException, match="400"):
        api.send_email(SendEmailRequest(transactional_message_id=1))  # no `to`
