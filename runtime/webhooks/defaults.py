"""The webhook receiver's defaults, apart from the receiver so `relaykit --help` can show them cheaply.

Importing `relaykit.webhooks.receiver` pulls in `http.server` (tens of milliseconds); every CLI command
builds the `serve` subcommand's help text, so its defaults live here.
"""

SIGNING_KEYS_ENV = "RELAYKIT_WEBHOOK_SIGNING_KEYS"
DEFAULT_TOLERANCE = 300.0
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
