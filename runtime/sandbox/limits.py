"""The documented Customer.io size and count limits, and checks that measure UTF-8 bytes, not characters."""

from __future__ import annotations

import json
from typing import Any

KB = 1024

MAX_IDENTIFIER_BYTES = 150
MAX_ATTRIBUTE_NAME_BYTES = 150
MAX_ATTRIBUTE_VALUE_BYTES = 1000
MAX_ATTRIBUTES = 300
MAX_EVENT_NAME_BYTES = 100
MAX_EVENT_DATA_BYTES = 100_000
MAX_REQUEST_BYTES = 32 * KB  # Track v1 (chosen), Track v2 /entity, each v2 batch op, Pipelines call
MAX_BATCH_BYTES = 500 * KB  # Track v2 /batch and Pipelines /batch
MAX_SEGMENT_IDS = 1000
MAX_ATTRIBUTE_LOOKUP_IDS = 100
MAX_EMAIL_RECIPIENTS = 15
MAX_TRANSACTIONAL_BYTES = 1_000_000
MAX_TRIGGER_DATA_BYTES = 50_000
MAX_TRIGGER_AUDIENCE = 10_000
MAX_QUEUED_TRIGGERS = 5
MAX_APP_BODY_BYTES = 25 * KB * KB  # whole broadcast trigger payload; other App bodies are far smaller
HARD_BODY_CAP = 32 * KB * KB  # the server never reads more than this from one request


def nbytes(text: str) -> int:
    """Length in UTF-8 bytes."""
    return len(text.encode("utf-8", errors="surrogatepass"))


def attribute_string(value: Any) -> str | None:
    """Store a value the way the App API returns it: every attribute is a string (None removes it)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def identifier_error(value: Any, what: str = "identifier") -> str | None:
    """Why an identifier is unusable, or None."""
    if not isinstance(value, str) or not value.strip():
        return f"{what} must be a non-empty string"
    if nbytes(value) > MAX_IDENTIFIER_BYTES:
        return f"{what} is longer than {MAX_IDENTIFIER_BYTES} bytes"
    return None


def attributes_error(attrs: dict[str, Any], *, existing: set[str] | None = None) -> str | None:
    """Check attribute names, values and the per-person count; `existing` is the person's current keys."""
    keys = set(existing or ())
    for name, value in attrs.items():
        if not name:
            return "attribute names must not be empty"
        if nbytes(name) > MAX_ATTRIBUTE_NAME_BYTES:
            return f"attribute name is longer than {MAX_ATTRIBUTE_NAME_BYTES} bytes"
        text = attribute_string(value)
        if text is not None and nbytes(text) > MAX_ATTRIBUTE_VALUE_BYTES:
            return f"value of attribute {name[:40]!r} is longer than {MAX_ATTRIBUTE_VALUE_BYTES} bytes"
        if text is None or text == "":
            keys.discard(name)
        else:
            keys.add(name)
    if len(keys) > MAX_ATTRIBUTES:
        return f"a person may have at most {MAX_ATTRIBUTES} attributes"
    return None


def event_error(name: Any, data: Any) -> str | None:
    """Check an event's name and data sizes."""
    if not isinstance(name, str) or not name.strip():
        return "event name is required"
    if nbytes(name.strip()) > MAX_EVENT_NAME_BYTES:
        return f"event name is longer than {MAX_EVENT_NAME_BYTES} bytes"
    if data is not None:
        if not isinstance(data, dict):
            return "event data must be an object"
        if len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_EVENT_DATA_BYTES:
            return f"event data is larger than {MAX_EVENT_DATA_BYTES} bytes"
    return None
