"""The App API route table (also served under the Beta base path), built from the handler modules."""

from __future__ import annotations

from typing import Any

from .app_actions import (
    action_link_metrics,
    action_metrics,
    get_action,
    get_translation,
    list_actions,
    update_action,
    update_translation,
)
from .app_archive import archived_message
from .app_broadcasts import (
    broadcast_metrics,
    campaign_metrics,
    get_broadcast,
    get_campaign,
    get_trigger,
    list_broadcasts,
    list_campaigns,
    list_triggers,
    trigger_broadcast,
    trigger_errors,
)
from .app_common import error_body
from .app_content import (
    collection_content,
    create_collection,
    delete_collection,
    delete_snippet,
    get_collection,
    get_sender_identity,
    list_collections,
    list_sender_identities,
    list_snippets,
    put_snippet,
    replace_collection_content,
    update_collection,
)
from .app_deliveries import journey_metrics, parent_link_metrics, parent_messages
from .app_exports import download_export, export_customers, export_deliveries, get_export, list_exports
from .app_imports import create_import, get_import
from .app_newsletters import (
    get_content,
    get_newsletter,
    list_contents,
    list_newsletters,
    newsletter_links,
    newsletter_messages,
    newsletter_metrics,
    send_newsletter,
    update_content,
)
from .app_newsletters import (
    get_translation as get_newsletter_translation,
)
from .app_newsletters import (
    update_translation as update_newsletter_translation,
)
from .app_objects import list_object_types, object_attributes, object_relationships, search_objects
from .app_people import (
    all_activities,
    create_segment,
    delete_segment,
    find_by_email,
    get_segment,
    list_segments,
    people_attributes,
    person_activities,
    person_attributes,
    person_messages,
    person_relationships,
    person_segments,
    search_people,
    segment_count,
    segment_membership,
)
from .app_sends import (
    get_message,
    get_transactional,
    list_messages,
    list_transactional,
    send_email,
    send_in_app,
    send_inbox_message,
    send_push,
    send_sms,
    send_whatsapp,
)
from .app_subscriptions import list_topics, person_preferences
from .app_suppression import add_suppression, list_suppressions, remove_suppression, search_suppression
from .app_usage import segment_used_by, sender_used_by
from .app_workspace import (
    create_reporting_webhook,
    delete_reporting_webhook,
    get_reporting_webhook,
    ip_addresses,
    list_reporting_webhooks,
    list_workspaces,
    update_reporting_webhook,
)
from .routing import Route, Router, route

__all__ = ["error_body", "routes"]


def _table() -> list[tuple[str, str, Any, dict[str, Any]]]:
    send = {"rate_class": "transactional"}
    return [
        ("GET", "customers", find_by_email, {}),
        ("POST", "customers", search_people, {}),
        ("POST", "customers/attributes", people_attributes, {}),
        ("GET", "customers/{customer_id}/attributes", person_attributes, {}),
        ("GET", "customers/{customer_id}/segments", person_segments, {}),
        ("GET", "customers/{customer_id}/messages", person_messages, {}),
        ("GET", "customers/{customer_id}/activities", person_activities, {}),
        ("GET", "customers/{customer_id}/relationships", person_relationships, {}),
        ("GET", "activities", all_activities, {}),
        ("GET", "segments", list_segments, {}),
        ("POST", "segments", create_segment, {}),
        ("GET", "segments/{segment_id}", get_segment, {}),
        ("DELETE", "segments/{segment_id}", delete_segment, {}),
        ("GET", "segments/{segment_id}/customer_count", segment_count, {}),
        ("GET", "segments/{segment_id}/membership", segment_membership, {}),
        ("GET", "campaigns", list_campaigns, {}),
        ("GET", "campaigns/{campaign_id}", get_campaign, {}),
        ("GET", "campaigns/{campaign_id}/metrics", campaign_metrics, {}),
        ("POST", "campaigns/{broadcast_id}/triggers", trigger_broadcast, {"rate_class": "broadcast_trigger"}),
        # The legacy trigger path (`/v1/api/campaigns/{id}/triggers` on the App host), still sent by
        # customerio-node up to 4.4: see docs/sandbox.md "Legacy trigger path" for the evidence.
        ("POST", "api/campaigns/{broadcast_id}/triggers", trigger_broadcast,
         {"rate_class": "broadcast_trigger", "app_only": True}),
        ("GET", "campaigns/{broadcast_id}/triggers/{trigger_id}", get_trigger, {}),
        ("GET", "campaigns/{broadcast_id}/triggers/{trigger_id}/errors", trigger_errors, {}),
        ("GET", "broadcasts", list_broadcasts, {}),
        ("GET", "broadcasts/{broadcast_id}", get_broadcast, {}),
        ("GET", "broadcasts/{broadcast_id}/triggers", list_triggers, {}),
        ("GET", "broadcasts/{broadcast_id}/metrics", broadcast_metrics, {}),
        # Campaign and broadcast actions, their language variants and what they sent (writes are App only).
        *(row for parent in ("campaigns/{campaign_id}", "broadcasts/{broadcast_id}") for row in (
            ("GET", f"{parent}/metrics/links", parent_link_metrics, {}),
            ("GET", f"{parent}/messages", parent_messages, {}),
            ("GET", f"{parent}/actions", list_actions, {}),
            ("GET", f"{parent}/actions/{{action_id}}", get_action, {}),
            ("PUT", f"{parent}/actions/{{action_id}}", update_action, {"app_only": True}),
            ("GET", f"{parent}/actions/{{action_id}}/language/{{language}}", get_translation, {}),
            ("PUT", f"{parent}/actions/{{action_id}}/language/{{language}}", update_translation, {"app_only": True}),
            ("GET", f"{parent}/actions/{{action_id}}/metrics", action_metrics, {}),
            ("GET", f"{parent}/actions/{{action_id}}/metrics/links", action_link_metrics, {}),
        )),
        ("GET", "campaigns/{campaign_id}/journey_metrics", journey_metrics, {}),
        ("POST", "send/email", send_email, send),
        ("POST", "send/push", send_push, send),
        ("POST", "send/sms", send_sms, send),
        ("POST", "send/in_app", send_in_app, send),
        ("POST", "send/whatsapp", send_whatsapp, send),
        ("POST", "send/inbox_message", send_inbox_message, send),
        ("GET", "transactional", list_transactional, {}),
        ("GET", "transactional/{transactional_id}", get_transactional, {}),
        ("GET", "messages", list_messages, {}),
        ("GET", "messages/{message_id}", get_message, {}),
        ("GET", "exports", list_exports, {}),
        ("POST", "exports/customers", export_customers, {}),
        ("POST", "exports/deliveries", export_deliveries, {}),
        ("GET", "exports/{export_id}", get_export, {}),
        ("GET", "exports/{export_id}/download", download_export, {}),
        ("GET", "object_types", list_object_types, {}),
        ("POST", "objects", search_objects, {}),
        ("GET", "objects/{object_type_id}/{object_id}/attributes", object_attributes, {}),
        ("GET", "objects/{object_type_id}/{object_id}/relationships", object_relationships, {}),
        ("GET", "reporting_webhooks", list_reporting_webhooks, {"app_only": True}),
        ("POST", "reporting_webhooks", create_reporting_webhook, {"app_only": True}),
        ("GET", "reporting_webhooks/{webhook_id}", get_reporting_webhook, {"app_only": True}),
        ("PUT", "reporting_webhooks/{webhook_id}", update_reporting_webhook, {"app_only": True}),
        ("DELETE", "reporting_webhooks/{webhook_id}", delete_reporting_webhook, {"app_only": True}),
        ("GET", "workspaces", list_workspaces, {"app_only": True}),
        ("GET", "info/ip_addresses", ip_addresses, {"app_only": True}),
        # Messages and people extras, newsletters, snippets and sender identities (cat-workspace).
        ("GET", "messages/{message_id}/archived_message", archived_message, {"app_only": True}),
        ("GET", "customers/{customer_id}/subscription_preferences", person_preferences, {"app_only": True}),
        ("GET", "subscription_topics", list_topics, {"app_only": True}),
        ("GET", "segments/{segment_id}/used_by", segment_used_by, {"app_only": True}),
        ("GET", "newsletters", list_newsletters, {}),
        ("GET", "newsletters/{newsletter_id}", get_newsletter, {}),
        ("GET", "newsletters/{newsletter_id}/metrics", newsletter_metrics, {}),
        ("GET", "newsletters/{newsletter_id}/metrics/links", newsletter_links, {"app_only": True}),
        ("GET", "newsletters/{newsletter_id}/messages", newsletter_messages, {}),
        ("GET", "newsletters/{newsletter_id}/contents", list_contents, {}),
        ("GET", "newsletters/{newsletter_id}/contents/{content_id}", get_content, {}),
        ("PUT", "newsletters/{newsletter_id}/contents/{content_id}", update_content, {"app_only": True}),
        ("GET", "newsletters/{newsletter_id}/language/{language}", get_newsletter_translation, {"app_only": True}),
        ("PUT", "newsletters/{newsletter_id}/language/{language}", update_newsletter_translation, {"app_only": True}),
        ("POST", "newsletters/{newsletter_id}/send", send_newsletter, {"app_only": True}),
        ("GET", "snippets", list_snippets, {"app_only": True}),
        ("PUT", "snippets", put_snippet, {"app_only": True}),
        ("DELETE", "snippets/{snippet_name}", delete_snippet, {"app_only": True}),
        ("GET", "sender_identities", list_sender_identities, {"app_only": True}),
        ("GET", "sender_identities/{sender_id}", get_sender_identity, {"app_only": True}),
        ("GET", "sender_identities/{sender_id}/used_by", sender_used_by, {"app_only": True}),
        ("GET", "collections", list_collections, {"app_only": True}),
        ("POST", "collections", create_collection, {"app_only": True}),
        ("GET", "collections/{collection_id}", get_collection, {"app_only": True}),
        ("PUT", "collections/{collection_id}", update_collection, {"app_only": True}),
        ("DELETE", "collections/{collection_id}", delete_collection, {"app_only": True}),
        ("GET", "collections/{collection_id}/content", collection_content, {"app_only": True}),
        ("PUT", "collections/{collection_id}/content", replace_collection_content, {"app_only": True}),
        ("POST", "imports", create_import, {"app_only": True}),
        ("GET", "imports/{import_id}", get_import, {"app_only": True}),
        ("GET", "esp/suppression/{suppression_type}", list_suppressions, {"app_only": True}),
        ("GET", "esp/search_suppression/{email_address}", search_suppression, {"app_only": True}),
        ("POST", "esp/suppression/{suppression_type}/{email_address}", add_suppression, {"app_only": True}),
        ("DELETE", "esp/suppression/{suppression_type}/{email_address}", remove_suppression, {"app_only": True}),
    ]


def routes(prefix: str = "v1") -> Router:
    """The App route table under `prefix` (`v1` for App, `v1/api` for Beta)."""
    table: list[Route] = [
        route(method, f"{prefix}/{path}", handler, rate_class=policy.get("rate_class", "app"))
        for method, path, handler, policy in _table()
        if prefix == "v1" or not policy.get("app_only")
    ]
    return Router(table)
