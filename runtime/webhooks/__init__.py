"""Customer.io reporting webhooks in: signature check, timestamp window, dedupe, the HTTP receiver.

`relaykit.webhooks.WebhookReceiver` and friends resolve lazily, so the CLI can read the defaults
(`webhooks.defaults`) without loading `http.server`.
"""

from typing import Any

_RECEIVER_NAMES = frozenset({"EventStore", "Rejection", "Verifier", "WebhookReceiver", "parse_signing_keys",
                             "sign", "SIGNATURE_HEADER", "TIMESTAMP_HEADER"})


def __getattr__(name: str) -> Any:
    if name in _RECEIVER_NAMES:
        from . import receiver

        return getattr(receiver, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
