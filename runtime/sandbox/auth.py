"""Credential checks for each API: Basic site:key (Track), Bearer (App, Beta), Basic key:blank (Pipelines)."""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

DEFAULT_SITE_ID = "sandbox-site"
DEFAULT_TRACK_KEY = "sandbox-track-key"
DEFAULT_APP_KEY = "sandbox-app-key"
DEFAULT_PIPELINES_KEY = "sandbox-pipelines-key"

_MASKED = {"authorization", "proxy-authorization", "cookie", "x-api-key"}


@dataclass(frozen=True)
class Credentials:
    """The one workspace's credentials, as accepted by every API."""

    site_id: str = DEFAULT_SITE_ID
    track_api_key: str = DEFAULT_TRACK_KEY
    app_api_key: str = DEFAULT_APP_KEY
    pipelines_api_key: str = DEFAULT_PIPELINES_KEY

    def as_dict(self) -> dict[str, str]:
        return {
            "site_id": self.site_id,
            "track_api_key": self.track_api_key,
            "app_api_key": self.app_api_key,
            "pipelines_api_key": self.pipelines_api_key,
        }


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """Decode `Basic base64(user:password)`; accepts the standard and the URL-safe alphabet."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    token = token.strip()
    raw: bytes | None = None
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decode(token + "=" * (-len(token) % 4))
            break
        except (binascii.Error, ValueError):
            continue
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    user, sep, password = text.partition(":")
    if not sep:
        return None
    return user, password


def parse_bearer(header: str | None) -> str | None:
    """Return the token of `Bearer <token>`."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def check(connector: str, authorization: str | None, creds: Credentials) -> bool:
    """True when the Authorization header carries this workspace's credentials for that API."""
    if connector == "customerio-track":
        pair = parse_basic(authorization)
        return pair is not None and _same(pair[0], creds.site_id) and _same(pair[1], creds.track_api_key)
    if connector in ("customerio-app", "customerio-beta"):
        token = parse_bearer(authorization)
        return token is not None and _same(token, creds.app_api_key)
    if connector == "customerio-pipelines":
        # The key is the user name; the password is meant to be blank and is not checked. The Python
        # Pipelines client (1.1) sends region-prefixed keys (`pk_us_...`) as `Bearer <key>` instead.
        token = parse_bearer(authorization)
        if token is not None:
            return _same(token, creds.pipelines_api_key)
        pair = parse_basic(authorization)
        return pair is not None and _same(pair[0], creds.pipelines_api_key)
    return False


def mask_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Headers for the journal: credential-bearing values keep only their scheme."""
    out: dict[str, str] = {}
    for name, value in headers:
        if name.lower() in _MASKED:
            scheme, sep, _rest = value.strip().partition(" ")
            value = f"{scheme} ***" if sep else "***"
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out
