"""App API newsletters over real HTTP: paging, content variants and translations, sends and what they leave behind."""

from __future__ import annotations

import pytest


def person(cio, pid, **attributes):
    assert cio.track.put(f"/v1/customers/{pid}", json={"email": f"{pid}@x.io", **attributes}).status_code == 200


def test_newsletters_page_and_sort(cio):
    first = cio.app.get("/newsletters?limit=1").json()
    assert [n["id"] for n in first["newsletters"]] == [6] and first["next"]
    second = cio.app.get(f"/newsletters?limit=1&start={first['next']}").json()
    assert [n["id"] for n in second["newsletters"]] == [7] and second["next"] == ""
    assert [n["id"] for n in cio.app.get("/newsletters?sort=desc").json()["newsletters"]] == [7, 6]
    assert cio.app.get("/newsletters?sort=sideways").status_code == 400
    assert cio.app.get("/newsletters?limit=0").status_code == 400
    assert cio.app.get("/newsletters/6").json()["newsletter"]["content_ids"] == [61, 62]
    missing = cio.app.get("/newsletters/99")
    assert missing.status_code == 404 and missing.json()["errors"][0]["status"] == "404"


def test_contents_and_translations_belong_to_their_newsletter(cio):
    assert [c["language"] for c in cio.app.get("/newsletters/6/contents").json()["contents"]] == ["", "fr"]
    assert cio.app.get("/newsletters/6/contents/61").json()["content"]["newsletter_id"] == 6
    assert cio.app.get("/newsletters/7/contents/61").status_code == 404  # 61 is newsletter 6's
    assert cio.app.get("/newsletters/6/language/fr").json()["content"]["id"] == 62
    assert cio.app.get("/newsletters/6/language/de").status_code == 404
    assert cio.app.get("/newsletters/99/contents").status_code == 404


def test_a_content_update_is_read_back_everywhere(cio):
    changed = cio.app.put("/newsletters/6/contents/61", json={"subject": "New subject", "body": "<p>new</p>"})
    assert changed.status_code == 200 and changed.json()["content"]["subject"] == "New subject"
    assert cio.app.get("/newsletters/6/contents/61").json()["content"]["body"] == "<p>new</p>"
    assert cio.app.get("/newsletters/6").json()["newsletter"]["updated"] > 1_700_000_000
    cio.app.put("/newsletters/6/language/fr", json={"preheader_text": "Bonjour"})
    assert cio.app.get("/newsletters/6/contents/62").json()["content"]["preheader_text"] == "Bonjour"
    assert cio.beta.get("/newsletters/6/contents/61").json()["content"]["subject"] == "New subject"


@pytest.mark.parametrize("body", [{}, {"subject": 5}, {"language": "de"}, {"from_id": 2}, {"from_id": 99},
                                  {"reply_to_id": True}])
def test_a_bad_content_update_is_a_400_and_changes_nothing(cio, body):
    before = cio.app.get("/newsletters/6/contents/61").json()
    assert cio.app.put("/newsletters/6/contents/61", json=body).status_code == 400
    assert cio.app.get("/newsletters/6/contents/61").json() == before
    assert cio.app.put("/newsletters/6/contents/61", data=b"{not json").status_code == 400


def test_changing_the_sender_sets_its_address(cio):
    content = cio.app.put("/newsletters/7/contents/71", json={"reply_to_id": 1}).json()["content"]
    assert content["reply_to_id"] == 1 and content["reply_to"] == "Sandbox Team <team@sandbox.example.com>"


def test_a_send_reaches_the_subscribed_recipients_in_their_language(cio):
    person(cio, "en", first_name="Ada")
    person(cio, "fr", language="fr")
    person(cio, "out", unsubscribed=True)
    cio.track.put("/v1/customers/optout", json={"email": "optout@x.io",
                                                "cio_subscription_preferences.topics.topic_1": False})
    sent = cio.app.post("/newsletters/6/send")
    assert sent.status_code == 200 and sent.json()["deliveries"] == 2
    assert cio.app.get("/newsletters/6").json()["newsletter"]["sent_at"] is not None
    messages = cio.app.get("/newsletters/6/messages").json()["messages"]
    assert sorted((m["customer_id"], m["content_id"]) for m in messages) == [("en", 61), ("fr", 62)]
    assert all(m["newsletter_id"] == 6 and "content" not in m for m in messages)
    en = next(m for m in messages if m["customer_id"] == "en")
    assert en["subject"] == "Your weekly digest, Ada"
    archived = cio.app.get(f"/messages/{en['id']}/archived_message").json()["archived_message"]
    assert "Sandbox Inc., 1 Loopback Way" in archived["body"] and archived["recipient"] == "en@x.io"
    cio.app.put("/snippets", json={"name": "footer", "value": "changed later"})
    assert "Sandbox Inc." in cio.app.get(f"/messages/{en['id']}/archived_message").json()["archived_message"]["body"]
    assert cio.app.get("/newsletters/6/metrics").json()["metric"]["series"]["sent"] == [2]
    assert cio.app.get("/newsletters/7/messages").json()["messages"] == []


def test_deliveries_page_and_filter(cio):
    for i in range(3):
        person(cio, f"p{i}")
    cio.app.post("/newsletters/6/send")
    first = cio.app.get("/newsletters/6/messages?limit=2").json()
    rest = cio.app.get(f"/newsletters/6/messages?limit=2&start={first['next']}").json()
    assert len(first["messages"]) == 2 and len(rest["messages"]) == 1 and rest["next"] == ""
    assert cio.app.get("/newsletters/6/messages?metric=opened").json()["messages"] == []
    assert len(cio.app.get("/newsletters/6/messages?metric=sent").json()["messages"]) == 3
    assert cio.app.get("/newsletters/6/messages?end_ts=1").json()["messages"] == []
    assert cio.app.get("/newsletters/6/messages?start_ts=yesterday").status_code == 400


def test_link_metrics_count_the_reported_clicks(cio):
    person(cio, "a")
    cio.app.post("/newsletters/6/send")
    delivery = cio.app.get("/newsletters/6/messages").json()["messages"][0]["id"]
    for _ in range(2):
        click = {"delivery_id": delivery, "metric": "clicked", "href": "https://example.com/news"}
        assert cio.track.post("/v1/metrics", json=click).status_code == 200
    links = cio.app.get("/newsletters/6/metrics/links").json()["links"]
    assert links == [{"link": {"id": 1, "href": "https://example.com/news"}, "metric": {"series": {"clicked": [2]}}}]
    unique = cio.app.get("/newsletters/6/metrics/links?unique=true").json()["links"]
    assert unique[0]["metric"]["series"]["clicked"] == [1]
    assert cio.app.get("/newsletters/6/metrics?period=fortnights").status_code == 400
    assert cio.app.get("/newsletters/6/metrics?steps=-1").status_code == 400


def test_beta_serves_the_newsletter_reads_only(cio):
    assert [n["id"] for n in cio.beta.get("/newsletters").json()["newsletters"]] == [6, 7]
    assert cio.beta.get("/newsletters/6/language/fr").status_code == 404
    assert cio.beta.post("/newsletters/6/send").status_code == 404
