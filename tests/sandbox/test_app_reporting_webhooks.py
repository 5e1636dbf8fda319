"""Reporting webhooks delivered by the sandbox over real HTTP: matching, disabled hooks, signing, retries,
the backlog, and the loopback rule (nothing outside 127.0.0.0/8 and ::1 is ever contacted)."""

from __future__ import annotations

import hashlib
import hmac
import socket

import pytest
import requests
from canary_scan import APP_BEARER
from relaykit.sandbox import cli as sandbox_cli
from relaykit.webhooks.defaults import SIGNING_KEYS_ENV
from webhook_catcher import Catcher

KEY = "whsec-reporting-test"
FAST = (0.05, 0.1, 0.1)  # three retries: four attempts in all


@pytest.fixture
def sb(make_sandbox):
    return make_sandbox(processing_delay=0.0, webhook_signing_key=KEY, webhook_retry_delays=FAST)


def app(sb, method: str, path: str, body=None) -> requests.Response:
    return requests.request(method, sb.base_urls["customerio-app"]["us"] + path, json=body,
                            headers={"Authorization": APP_BEARER}, timeout=10)


def hook(sb, endpoint: str, events: list[str], **extra) -> dict:
    response = app(sb, "POST", "/reporting_webhooks", {"name": "test", "endpoint": endpoint, "events": events,
                                                        **extra})
    assert response.status_code == 200, response.text
    return response.json()


def send_email(sb, person: str = "ada", **extra) -> str:
    response = app(sb, "POST", "/send/email", {"transactional_message_id": 1, "to": f"{person}@example.com",
                                               "identifiers": {"id": person}, **extra})
    assert response.status_code == 200, response.text
    return response.json()["delivery_id"]


def test_each_enabled_hook_gets_the_events_it_asked_for_signed_with_the_workspace_key(sb):
    with Catcher() as sent, Catcher() as delivered, Catcher() as off:
        hook(sb, sent.url, ["email_sent"])
        hook(sb, delivered.url, ["email_delivered", "sms_sent"])
        hook(sb, off.url, ["email_sent", "email_delivered"], disabled=True)
        delivery = send_email(sb)
        results = sb.webhook_results(wait=5)
        assert [(e["metric"], e["data"]["delivery_id"]) for e in sent.events()] == [("sent", delivery)]
        assert [e["metric"] for e in delivered.events()] == ["delivered"]
        assert off.connections == 0
    assert sorted((r["webhook_id"], r["event"], r["state"], r["status"], len(r["attempts"])) for r in results) == [
        (1, "email_sent", "delivered", 200, 1), (2, "email_delivered", "delivered", 200, 1)]
    assert requests.get(sb.url + "/_sandbox/info", timeout=5).json()["webhook_signing_key"] == KEY
    assert sb.state()["webhook_deliveries"] == results
    for headers, raw in sent.received + delivered.received:
        expected = hmac.new(KEY.encode(), b"v0:" + headers["x-cio-timestamp"].encode() + b":" + raw,
                            hashlib.sha256).hexdigest()
        assert headers["x-cio-signature"] == expected
        assert headers["content-type"] == "application/json"


def test_updating_a_hook_changes_what_it_receives_and_deleting_it_stops_delivery(sb):
    with Catcher() as catcher:
        created = hook(sb, catcher.url, ["email_sent"])
        app(sb, "PUT", f"/reporting_webhooks/{created['id']}", {"disabled": True})
        send_email(sb)
        sb.webhook_results(wait=5)
        assert catcher.connections == 0
        app(sb, "PUT", f"/reporting_webhooks/{created['id']}", {"disabled": False, "events": ["email_delivered"]})
        send_email(sb)
        assert [e["metric"] for e in catcher.wait_for(1)] == ["delivered"]
        assert app(sb, "DELETE", f"/reporting_webhooks/{created['id']}").status_code == 204
        send_email(sb)
        sb.webhook_results(wait=5)
        assert len(catcher.received) == 1


def test_a_failing_endpoint_is_retried_with_the_same_event_and_later_events_wait_behind_it(sb):
    with Catcher(statuses=[500, 503]) as catcher:
        hook(sb, catcher.url, ["email_sent", "email_delivered"])
        send_email(sb)
        results = sb.webhook_results(wait=10)
        events = catcher.events()
    first, second = results
    assert (first["event"], first["state"], [a["status"] for a in first["attempts"]]) == (
        "email_sent", "delivered", [500, 503, 200])
    assert (second["event"], second["state"], len(second["attempts"])) == ("email_delivered", "delivered", 1)
    # the same event three times (same event_id: a receiver deduplicates), then the one held back
    assert [e["event_id"] for e in events] == [first["event_id"]] * 3 + [second["event_id"]]


def test_an_endpoint_that_never_answers_2xx_is_given_up_after_the_schedule(sb):
    with Catcher(statuses=[500] * 10) as catcher:
        hook(sb, catcher.url, ["email_sent"])
        send_email(sb)
        [result] = sb.webhook_results(wait=10)
        assert len(catcher.received) == len(FAST) + 1
    assert result["state"] == "failed" and [a["status"] for a in result["attempts"]] == [500] * (len(FAST) + 1)
    assert "4 attempt(s)" in result["reason"]


def test_a_closed_port_is_a_connection_error_retried_like_a_bad_status(sb):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook(sb, f"http://127.0.0.1:{port}/gone", ["email_sent"])
    send_email(sb)
    [result] = sb.webhook_results(wait=10)
    assert result["state"] == "failed" and result["status"] is None
    assert {a["error"] for a in result["attempts"]} == {"ConnectionRefusedError"}


def test_deleting_a_hook_cancels_its_pending_retries(make_sandbox):
    sb = make_sandbox(processing_delay=0.0, webhook_signing_key=KEY, webhook_retry_delays=(0.5, 0.5))
    with Catcher(statuses=[500] * 10) as catcher:
        created = hook(sb, catcher.url, ["email_sent"])
        send_email(sb)
        catcher.wait_for(1)
        app(sb, "DELETE", f"/reporting_webhooks/{created['id']}")
        [result] = sb.webhook_results(wait=5)
        assert len(catcher.received) == 1
    assert (result["state"], result["reason"]) == ("cancelled", "the webhook was deleted")


def test_only_loopback_ip_literals_are_contacted(sb):
    """Every spelling below reaches 127.0.0.2 through a resolver; the sandbox never asks one."""
    with Catcher(host="127.0.0.2") as canary:
        assert socket.gethostbyname("2130706434") == "127.0.0.2"  # the test could fail: names do lead there
        names = [f"http://2130706434:{canary.port}/hook", f"http://0x7f000002:{canary.port}/hook",
                 f"http://127.2:{canary.port}/hook", f"http://localhost:{canary.port}/hook",
                 "https://hooks.example.com/cio"]
        for endpoint in names:
            hook(sb, endpoint, ["email_sent"])
        hook(sb, canary.url, ["email_delivered"])  # the control: the canary does answer a literal
        send_email(sb)
        results = sb.webhook_results(wait=5)
        assert [e["metric"] for e in canary.wait_for(1)] == ["delivered"]
        assert canary.connections == 1
    refused = [r for r in results if r["event"] == "email_sent"]
    assert [r["endpoint"] for r in refused] == names
    assert {r["state"] for r in refused} == {"not_delivered"} and all(r["attempts"] == [] for r in refused)
    assert "loopback IP literals" in refused[-1]["reason"] and "hooks.example.com" in refused[-1]["reason"]
    assert [h["endpoint"] for h in sb.state()["reporting_webhooks"]][:5] == names  # stored all the same


def test_redirects_are_not_followed(sb):
    with Catcher(host="127.0.0.2") as canary, \
            Catcher(statuses=[302] * 10, headers={"Location": canary.url}) as mover:
        hook(sb, mover.url, ["email_sent"])
        send_email(sb)
        [result] = sb.webhook_results(wait=10)
        assert canary.connections == 0
    assert result["state"] == "failed" and {a["status"] for a in result["attempts"]} == {302}


def test_failed_deliveries_and_broadcasts_produce_their_events(sb):
    with Catcher() as catcher:
        hook(sb, catcher.url, ["email_sent", "email_failed"])
        track = sb.connection("customerio-track")
        answer = requests.put(f"{sb.base_urls['customerio-track']['us']}/v1/customers/gone",
                              auth=(track["site_id"], track["api_key"]),
                              json={"email": "gone@example.com", "unsubscribed": True}, timeout=5)
        assert answer.status_code == 200, answer.text
        failed = send_email(sb, "gone", send_to_unsubscribed=False)
        send_email(sb, "ada")  # creates ada, so the trigger below reaches her
        trigger = app(sb, "POST", "/campaigns/1/triggers", {"ids": ["ada"]})
        assert trigger.status_code == 200, trigger.text
        events = catcher.wait_for(3)
    assert [e["metric"] for e in events] == ["failed", "sent", "sent"]
    failure = events[0]["data"]
    assert failure["delivery_id"] == failed and failure["identifiers"]["id"] == "gone"
    assert failure["failure_message"] == "person is unsubscribed"
    broadcast = events[2]["data"]
    assert (broadcast["broadcast_id"], broadcast["trigger_id"], broadcast["identifiers"]["id"]) == (
        1, trigger.json()["id"], "ada")
    assert "transactional_message_id" not in broadcast and events[1]["data"]["transactional_message_id"] == 1


def test_a_reset_forgets_queued_deliveries(make_sandbox):
    sb = make_sandbox(processing_delay=0.0, webhook_signing_key=KEY, webhook_retry_delays=(5.0,))
    with Catcher(statuses=[500] * 10) as catcher:
        hook(sb, catcher.url, ["email_sent"])
        send_email(sb)
        catcher.wait_for(1)
        sb.reset()
        assert sb.webhook_results(wait=2) == [] and sb.state()["reporting_webhooks"] == []


def test_the_sandbox_cli_signs_with_the_key_serve_reads(monkeypatch):
    import argparse

    assert sandbox_cli.SIGNING_KEYS_ENV == SIGNING_KEYS_ENV  # the sandbox repeats the name; keep them equal
    parser = argparse.ArgumentParser()
    sandbox_cli.add_arguments(parser)
    monkeypatch.setenv(SIGNING_KEYS_ENV, " first-key , second-key")
    assert sandbox_cli._signing_key(parser.parse_args([])) == "first-key"
    assert sandbox_cli._signing_key(parser.parse_args(["--webhook-signing-key", "given"])) == "given"
    monkeypatch.delenv(SIGNING_KEYS_ENV)
    assert sandbox_cli._signing_key(parser.parse_args([])) is None


def test_a_non_loopback_static_webhook_url_is_refused():
    from relaykit.sandbox import Sandbox

    with pytest.raises(ValueError, match="loopback IP literals"):
        Sandbox(webhook_url="https://hooks.example.com/cio", webhook_signing_key=KEY)
    assert KEY not in repr(Sandbox(webhook_signing_key=KEY)._webhooks)
