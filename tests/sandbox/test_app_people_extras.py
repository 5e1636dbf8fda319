"""App API people and message extras over real HTTP: archived deliveries, subscription preferences, segment usage."""

from __future__ import annotations


def test_the_archive_shows_what_a_send_sent(cio):
    send = {"transactional_message_id": 1, "to": "ada@x.io", "identifiers": {"email": "ada@x.io"},
            "body": "<p>Your code</p>", "preheader": "Open me", "bcc": "audit@x.io"}
    delivery = cio.app.post("/send/email", json=send).json()["delivery_id"]
    archived = cio.app.get(f"/messages/{delivery}/archived_message").json()["archived_message"]
    assert archived["id"] == delivery and archived["body"] == "<p>Your code</p>"
    assert archived["recipient"] == "ada@x.io" and archived["subject"] == "Welcome, {{customer.first_name}}!"
    assert archived["preheader_text"] == "Open me" and archived["bcc"] == "audit@x.io"
    missing = cio.app.get("/messages/nope/archived_message")
    assert missing.status_code == 404
    assert missing.json() == {"errors": [{"detail": "message not found", "status": "404"}]}


def topics(cio, path):
    response = cio.app.get(path)
    assert response.status_code == 200, response.text
    return {t["id"]: t["subscribed"] for t in response.json()["customer"]["topics"]}


def test_preferences_come_from_the_attribute_and_the_topic_defaults(cio):
    assert [t["identifier"] for t in cio.app.get("/subscription_topics").json()["topics"]] == ["topic_1", "topic_2"]
    cio.track.put("/v1/customers/u1", json={"email": "u1@x.io"})
    assert topics(cio, "/customers/u1/subscription_preferences") == {1: True, 2: False}
    cio.track.put("/v1/customers/u1", json={"cio_subscription_preferences.topics.topic_2": True})
    cio.track.put("/v1/customers/u1", json={"cio_subscription_preferences.topics.topic_1": False})
    assert topics(cio, "/customers/u1%40x.io/subscription_preferences?id_type=email") == {1: False, 2: True}
    cio.pipelines.post("/v1/identify", json={"userId": "u1", "traits": {
        "cio_subscription_preferences": {"topics": {"topic_1": True}}}})
    assert topics(cio, "/customers/u1/subscription_preferences") == {1: True, 2: False}
    assert cio.app.get("/customers/nobody/subscription_preferences").status_code == 404
    assert cio.app.get("/customers/u1/subscription_preferences?id_type=bogus").status_code == 400


def test_segment_usage_names_campaigns_and_newsletters(cio):
    assert cio.app.get("/segments/3/used_by").json() == {"used_by": {
        "segment_id": 3, "campaigns": [5], "draft_newsletters": [6], "sent_newsletters": []}}
    cio.app.post("/newsletters/6/send")
    assert cio.app.get("/segments/3/used_by").json()["used_by"]["sent_newsletters"] == [6]
    assert cio.app.get("/segments/1/used_by").json()["used_by"]["draft_newsletters"] == [7]
    assert cio.app.get("/segments/999/used_by").status_code == 404
    assert cio.app.get("/segments/x/used_by").status_code == 404
