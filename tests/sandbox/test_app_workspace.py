"""App API workspace configuration over real HTTP: reporting webhooks (validated like Customer.io), workspaces, IPs."""

from __future__ import annotations

import pytest

HOOK = {"name": "serve", "endpoint": "https://hooks.example.com/cio", "events": ["email_delivered"]}


def test_reporting_webhook_lifecycle(cio):
    created = cio.app.post("/reporting_webhooks", json=HOOK).json()
    assert created["id"] == 1 and created["events"] == ["email_delivered"] and created["disabled"] is False
    assert cio.app.put("/reporting_webhooks/1", json={"events": ["email_bounced", "customer_unsubscribed"]}).json()[
        "events"] == ["email_bounced", "customer_unsubscribed"]
    assert [h["id"] for h in cio.app.get("/reporting_webhooks").json()["reporting_webhooks"]] == [1]
    assert cio.app.delete("/reporting_webhooks/1").status_code == 204
    assert cio.app.get("/reporting_webhooks/1").status_code == 404


@pytest.mark.parametrize("body", [
    {**HOOK, "events": ["email_teleported"]}, {**HOOK, "events": []}, {"name": "x", "events": ["email_sent"]},
    {**HOOK, "endpoint": "ftp://hooks.example.com"}, {**HOOK, "disabled": "yes"}])
def test_a_bad_reporting_webhook_is_a_400(cio, body):
    response = cio.app.post("/reporting_webhooks", json=body)
    assert response.status_code == 400 and cio.app.get("/reporting_webhooks").json()["reporting_webhooks"] == []


def test_workspaces_and_ip_addresses(cio):
    assert cio.app.get("/workspaces").json()["workspaces"][0]["id"] == 1
    assert cio.app.get("/info/ip_addresses").json()["ip_addresses"] == ["127.0.0.1"]
