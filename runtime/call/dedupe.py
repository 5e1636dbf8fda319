"""Fix a call's dedupe id before its first try, so every resend of the same logical call carries it.

`Runtime.run` generates a missing id (`event_id`, `messageId`) per *call*. A caller that may run
the same call again (a backfill re-queueing failures, a queue resending dead letters, an
automation step's `retry:`) fixes it once, up front, so an attempt that landed before its
connection dropped is counted once by the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..specs.models import Idempotency
from .ids import new_ulid
from .render import set_key

if TYPE_CHECKING:
    from ..specs.models import OperationSpec


def with_dedupe_id(idempotency: Idempotency, item: Any) -> Any:
    """`item` with its dedupe id filled in (a copy) when the operation's `Idempotency` is keyed with an `input_key`.

    `Runtime.run` generates a missing id per *call*; a queue fixes it per *item*, before the first
    attempt, so an item resent after an ambiguous end (in flight at shutdown, retries exhausted)
    carries the same id and the API counts it once. Items that already have an id keep it.
    """
    if idempotency.mode != "keyed" or not idempotency.input_key or not isinstance(item, Mapping):
        return item
    keyed = set_key(item, idempotency.input_key, new_ulid)[0]
    return item if keyed == item else keyed


def input_idempotency(op: OperationSpec, item: Any) -> Idempotency:
    """The `Idempotency` that fixes `item`'s dedupe id: the operation's, or for raw HTTP its path rule's.

    A raw request's body goes in `/body/json`, so a keyed rule's body `key` (`/messageId`) is the
    input's `/body/json/messageId`.
    """
    if op.kind != "raw_http" or not isinstance(item, Mapping):
        return op.idempotency
    method, endpoint = item.get("method"), item.get("endpoint")
    body = item.get("body")
    if not isinstance(method, str) or not isinstance(endpoint, str) or not isinstance(body, Mapping) \
            or "json" not in body or item.get("retry_unsafe"):
        return op.idempotency
    rule = next((r for r in op.connector.raw_rules if r.matches(method, endpoint)), None)
    if rule is None or rule.idempotency is None or rule.idempotency.mode != "keyed" or not rule.idempotency.key:
        return op.idempotency
    return Idempotency("keyed", rule.idempotency.key, "/body/json" + rule.idempotency.key)
