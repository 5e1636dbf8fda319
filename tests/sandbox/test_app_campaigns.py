"""Campaign and broadcast actions, language variants, deliveries and metrics over real HTTP.

What an update writes, a read (and the next broadcast) shows; unknown parents and actions are 404s
in the App error shape, an unknown language a 400 (as Customer.io documents), bad bodies 400s.
"""

from __future__ import annotations

import pytest


def _people(cio, n=2):
    for i in range(1, n + 1):
        cio.track.put(f"/v1/customers/u{i}", json={"email": f"u{i}@x.io"})


def _send_broadcast(cio, broadcast_id=8, ids=("u1", "u2")):
    assert cio.app.post(f"/campaigns/{broadcast_id}/triggers", json={"ids": list(ids)}).status_code == 200


def test_seeded_actions_answer_under_their_parent(cio):
    actions = cio.app.get("/campaigns/4/actions").json()
    assert [a["id"] for a in actions["actions"]] == [41] and actions["next"] == ""
    action = cio.app.get("/campaigns/4/actions/41").json()["action"]
    assert action["campaign_id"] == 4 and action["type"] == "email" and action["language"] == ""
    assert action["subject"] == "Welcome series" and action["sending_state"] == "automatic"
    assert [a["id"] for a in cio.app.get("/broadcasts/8/actions").json()["actions"]] == [81]
    assert cio.app.get("/broadcasts/8/actions/81").json()["action"]["broadcast_id"] == 8
    # the ids the campaign and broadcast objects list are the actions served
    assert [a["id"] for a in cio.app.get("/campaigns/5").json()["campaign"]["actions"]] == [51]
    assert cio.app.get("/campaigns/5/actions/51").status_code == 200


@pytest.mark.parametrize("path", [
    "/campaigns/77/actions", "/campaigns/4/actions/81", "/broadcasts/8/actions/41", "/broadcasts/8/actions/999",
    "/broadcasts/77/actions/81", "/campaigns/4/actions/x", "/campaigns/77/messages", "/broadcasts/77/messages",
    "/campaigns/77/metrics/links", "/campaigns/4/actions/999/metrics", "/broadcasts/8/actions/41/metrics/links",
    "/campaigns/4/actions/999/language/fr", "/campaigns/77/journey_metrics?resolution=days"])
def test_unknown_parents_and_actions_are_404s_in_the_app_shape(cio, path):
    response = cio.app.get(path)
    assert response.status_code == 404
    assert response.json()["errors"][0]["status"] == "404"


def test_an_update_is_read_back_and_the_same_update_twice_leaves_the_same_action(cio):
    change = {"subject": "Big news", "preheader_text": "Read on", "body": "<p>Hi</p>", "from_id": 3,
              "headers": [{"name": "X-Campaign", "value": "spring"}]}
    first = cio.app.put("/broadcasts/8/actions/81", json=change)
    assert first.status_code == 200
    action = first.json()["action"]
    assert action["subject"] == "Big news" and action["preheader_text"] == "Read on"
    assert action["from_id"] == 3 and action["from"] == "Support <support@sandbox.example.com>"
    assert action["headers"] == '[{"name":"X-Campaign","value":"spring"}]'
    assert cio.app.get("/broadcasts/8/actions/81").json()["action"] == action
    again = cio.app.put("/broadcasts/8/actions/81", json=change).json()["action"]
    assert {k: v for k, v in again.items() if k != "updated"} == {k: v for k, v in action.items() if k != "updated"}
    # a GET sent back as an update (read-only fields included) is accepted and changes nothing else
    assert cio.app.put("/broadcasts/8/actions/81", json=action).json()["action"]["subject"] == "Big news"
    # the default-language content changed, the French variant did not
    assert cio.app.get("/broadcasts/8/actions/81/language/fr").json()["action"]["subject"] == (
        "Sandbox broadcast 8 (docs example) (fr)")
    assert next(a for a in cio.sb.state()["actions"] if a["id"] == 81)["subject"] == "Big news"


def test_a_broadcast_sends_its_action_as_last_updated(cio):
    _people(cio)
    cio.app.put("/broadcasts/8/actions/81", json={"subject": "Spring sale"})
    _send_broadcast(cio)
    messages = cio.app.get("/broadcasts/8/messages").json()
    assert len(messages["messages"]) == 2 and messages["next"] == ""
    assert {m["subject"] for m in messages["messages"]} == {"Spring sale"}
    assert {m["action_id"] for m in messages["messages"]} == {81}
    assert {m["customer_id"] for m in messages["messages"]} == {"u1", "u2"}
    assert cio.app.get("/broadcasts/1/messages").json()["messages"] == []
    assert cio.app.get("/broadcasts/8/actions/81/metrics").json() == {
        "metric": {"series": {"delivered": [2], "sent": [2]}}}
    page = cio.app.get("/broadcasts/8/messages?limit=1").json()
    assert len(page["messages"]) == 1 and page["next"]
    rest = cio.app.get(f"/broadcasts/8/messages?limit=1&start={page['next']}").json()
    assert rest["next"] == "" and rest["messages"][0]["id"] != page["messages"][0]["id"]


def test_an_action_turned_off_sends_nothing_and_drafts_are_listed_apart(cio):
    _people(cio)
    cio.app.put("/broadcasts/8/actions/81", json={"sending_state": "off"})
    _send_broadcast(cio)
    assert cio.app.get("/broadcasts/8/messages").json()["messages"] == []
    cio.app.put("/broadcasts/8/actions/81", json={"sending_state": "draft"})
    _send_broadcast(cio)
    assert cio.app.get("/broadcasts/8/messages").json()["messages"] == []
    drafts = cio.app.get("/broadcasts/8/messages?drafts=true").json()["messages"]
    assert len(drafts) == 2 and all(list(m["metrics"]) == ["drafted"] for m in drafts)


def test_message_filters(cio):
    _people(cio)
    _send_broadcast(cio)
    delivery = cio.app.get("/broadcasts/8/messages").json()["messages"][0]["id"]
    cio.track.post("/v1/metrics", json={"delivery_id": delivery, "metric": "opened", "timestamp": 1_700_000_100})
    assert [m["id"] for m in cio.app.get("/broadcasts/8/messages?metric=opened").json()["messages"]] == [delivery]
    assert len(cio.app.get("/broadcasts/8/messages?type=email").json()["messages"]) == 2
    assert cio.app.get("/broadcasts/8/messages?type=push").json()["messages"] == []
    assert cio.app.get("/broadcasts/8/messages?end_ts=1").json()["messages"] == []
    for bad in ("type=letter", "metric=teleported", "drafts=maybe", "start_ts=yesterday", "limit=1001"):
        assert cio.app.get(f"/broadcasts/8/messages?{bad}").status_code == 400, bad


def test_campaign_deliveries_are_listed_and_counted(cio):
    """Campaigns do not run in the sandbox: a delivery the workspace holds for campaign 4 stands in."""
    _people(cio, 1)
    ws = cio.sb.workspace
    with ws.lock:
        person = ws.find("id", "u1")
        message = ws.create_message(type="email", person=person, recipient=person.email, subject="Welcome",
                                    campaign_id=4)
        message["action_id"] = 41
    listed = cio.app.get("/campaigns/4/messages").json()["messages"]
    assert [m["id"] for m in listed] == [message["id"]] and cio.app.get("/campaigns/5/messages").json()[
        "messages"] == []
    assert cio.app.get("/campaigns/4/actions/41/metrics").json()["metric"]["series"]["sent"] == [1]
    assert cio.app.get("/campaigns/4/journey_metrics?resolution=days").json() == {
        "journey_metrics": {"series": {"started": [1]}}}
    assert cio.app.get("/campaigns/5/journey_metrics?resolution=days").json()["journey_metrics"]["series"][
        "started"] == [0]


def test_link_metrics_count_clicks_per_link_of_the_parent_and_action(cio):
    _people(cio)
    _send_broadcast(cio)
    first, second = (m["id"] for m in cio.app.get("/broadcasts/8/messages").json()["messages"])
    for delivery, href in ((first, "https://x.io/a"), (first, "https://x.io/a"), (second, "https://x.io/b"),
                           (second, "https://x.io/a")):
        cio.track.post("/v1/metrics", json={"delivery_id": delivery, "metric": "clicked", "href": href})
    links = cio.app.get("/broadcasts/8/metrics/links").json()["links"]
    assert [(item["link"]["href"], item["metric"]["series"]["clicked"]) for item in links] == [
        ("https://x.io/a", [3]), ("https://x.io/b", [1])]
    unique = cio.app.get("/broadcasts/8/actions/81/metrics/links?unique=true").json()["links"]
    assert [item["metric"]["series"]["clicked"] for item in unique] == [[2], [1]]
    assert [item["link"]["id"] for item in unique] == [item["link"]["id"] for item in links]
    assert cio.app.get("/broadcasts/1/metrics/links").json() == {"links": []}
    assert cio.app.get("/campaigns/4/metrics/links").json() == {"links": []}
    assert cio.app.get("/broadcasts/8/metrics/links?unique=perhaps").status_code == 400


def test_language_variants_are_read_and_updated_but_never_created(cio):
    variant = cio.app.get("/campaigns/4/actions/41/language/fr").json()["action"]
    assert variant["language"] == "fr" and variant["id"] == 41 and variant["subject"] == "Welcome series (fr)"
    updated = cio.app.put("/campaigns/4/actions/41/language/fr", json={"subject": "Bienvenue"}).json()["action"]
    assert updated["subject"] == "Bienvenue" and updated["language"] == "fr"
    assert cio.app.get("/campaigns/4/actions/41/language/fr").json()["action"]["subject"] == "Bienvenue"
    assert cio.app.get("/campaigns/4/actions/41").json()["action"]["subject"] == "Welcome series"
    # Customer.io: "If the language variant does not exist, we'll return an error" (a 400), for GET and PUT.
    missing = cio.app.put("/campaigns/4/actions/41/language/de", json={"subject": "Willkommen"})
    assert missing.status_code == 400 and missing.json()["errors"][0]["status"] == "400"
    assert cio.app.get("/campaigns/4/actions/41/language/de").status_code == 400
    assert all(t["language"] != "de" for t in cio.sb.state()["action_translations"])


@pytest.mark.parametrize("body", [
    [], "subject", {"subject": 7}, {"sending_state": "paused"}, {"from_id": 99}, {"reply_to_id": "1"},
    {"headers": {"X-Tag": "a"}}, {"headers": [{"name": "X Tag", "value": "a"}]},
    {"headers": [{"name": "X-Tag", "value": "café"}]}, {"headers": [{"name": "Subject", "value": "x"}]},
    {"headers": "[not json"}, {"url": "https://hooks.example.com"}, {"image_url": "https://x.io/a.png"}])
def test_a_bad_update_is_a_400_and_changes_nothing(cio, body):
    before = cio.app.get("/broadcasts/8/actions/81").json()["action"]
    response = cio.app.put("/broadcasts/8/actions/81", json=body)
    assert response.status_code == 400 and response.json()["errors"][0]["status"] == "400"
    assert cio.app.get("/broadcasts/8/actions/81").json()["action"] == before


def test_metrics_windows_are_checked(cio):
    assert cio.app.get("/campaigns/4/journey_metrics").status_code == 400  # resolution is required
    assert cio.app.get("/campaigns/4/journey_metrics?resolution=fortnightly").status_code == 400
    assert cio.app.get("/campaigns/4/journey_metrics?resolution=days&start=20&end=10").status_code == 400
    assert cio.app.get("/campaigns/4/journey_metrics?resolution=weekly&start=10&end=20").status_code == 200
    assert cio.app.get("/campaigns/4/actions/41/metrics?res=yearly").status_code == 400
    assert cio.app.get("/campaigns/4/actions/41/metrics?res=daily&start=10&end=20").status_code == 200


def test_beta_reads_the_same_actions_and_refuses_their_updates(cio):
    assert cio.beta.get("/campaigns/4/actions/41").json() == cio.app.get("/campaigns/4/actions/41").json()
    assert cio.beta.get("/broadcasts/8/messages").json() == {"messages": [], "next": ""}
    assert cio.beta.put("/campaigns/4/actions/41", json={"subject": "x"}).status_code == 405
    assert cio.app.get("/campaigns/4/actions/41").json()["action"]["subject"] == "Welcome series"
