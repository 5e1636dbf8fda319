"""Turn a user's connection config into what a call needs: region, base URL, auth and a fingerprint.

Everything here happens before any byte is sent, and every failure is a `ConnectionConfigError`
that names the field but never its value. Credentials with stray whitespace or control characters
are refused rather than stripped: requests would otherwise raise `InvalidHeader` with the whole
token in its message. A `sandbox_url` may only point at a loopback IP literal (or `localhost`,
mapped to 127.0.0.1 without a lookup), so neither an automation file nor a resolver can redirect a
credential to another host (`relaykit.transport.loopback`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConnectionConfigError, Problem
from ..redact import MIN_SECRET_LENGTH, REDACTOR, Secret
from ..specs.jsonschemas import apply_defaults, error_problems
from ..specs.models import ConnectorSpec
from ..specs.values import value_problems
from ..templates.filters import MISSING
from ..transport.auth import Auth
from ..transport.loopback import loopback_literal
from ..transport.ratelimit_config import LimitOverride, check_class_overrides

_CONTROL = {chr(c) for c in range(32)} | {"\x7f"}


@dataclass(frozen=True, repr=False)
class ResolvedConnection:
    """A validated connection: where to send, how to authenticate, and which rate-limit windows to use."""

    connector: str
    region: str
    base_url: str
    public: Mapping[str, Any]  # non-secret fields, the only ones templates may read
    auth: Auth
    fingerprint: str  # a hash, never the secret: keys rate-limit windows per credential
    sandbox: bool
    rate_limits: tuple[tuple[str, LimitOverride], ...] = ()  # the connection's own overrides, by class
    host_url: str = ""  # the base URL less its API path (`https://track.customer.io`): `request.base: host`

    @property
    def root_url(self) -> str:
        """Where a `base: host` operation's path starts; the base URL when the base has no path of its own."""
        return self.host_url or self.base_url

    def __repr__(self) -> str:
        return f"ResolvedConnection({self.connector}, region={self.region}, base_url={self.base_url})"


def _check_strings(config: Mapping[str, Any], secret_fields: frozenset[str]) -> list[Problem]:
    problems = []
    for name, value in config.items():
        if not isinstance(value, str):
            continue
        pointer = f"/{name}"
        if value != value.strip():
            problems.append(Problem("has leading or trailing whitespace; remove it (nothing is stripped silently)",
                                    pointer=pointer))
        elif any(ch in _CONTROL for ch in value):
            problems.append(Problem("contains a control character", pointer=pointer))
        elif name in secret_fields and not value.isascii():
            problems.append(Problem("contains non-ASCII characters, which HTTP headers cannot carry reliably",
                                    pointer=pointer))
        if name in secret_fields and value and len(value) < MIN_SECRET_LENGTH:
            problems.append(Problem(f"is too short to be a real credential (under {MIN_SECRET_LENGTH} characters)",
                                    pointer=pointer))
    return problems


def sandbox_base_url(sandbox_url: str, connector: str, region: str, real_base: str) -> str:
    """The sandbox's address for a connector and region: `root/connector/region` + the real base path."""
    return f"{sandbox_url.rstrip('/')}/{connector}/{region}{urlsplit(real_base).path}".rstrip("/")


def _check_sandbox_url(value: str) -> Problem | None:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return Problem("is not a valid URL", pointer="/sandbox_url")
    del port
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Problem("must be an http(s) URL such as http://127.0.0.1:8080", pointer="/sandbox_url")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return Problem("must not contain user information", pointer="/sandbox_url")
    if parts.query or parts.fragment or parts.path not in ("", "/") or "\\" in value:
        return Problem("must be the sandbox root: scheme, host and port only", pointer="/sandbox_url")
    if loopback_literal(parts.hostname) is None:
        return Problem("must point at a loopback address written as an IP literal (127.0.0.1, another "
                       "127.0.0.0/8 address or [::1]) or at localhost; names a resolver would look up, "
                       "trailing dots and IPv6 zones are refused", pointer="/sandbox_url")
    return None


def sandbox_root(sandbox_url: str) -> str:
    """A checked `sandbox_url` as `scheme://literal[:port]`: `localhost` becomes 127.0.0.1, so no lookup is made."""
    parts = urlsplit(sandbox_url)
    literal = loopback_literal(parts.hostname or "")
    if literal is None:  # only reached with a URL `_check_sandbox_url` refused
        raise ValueError("sandbox_root needs a sandbox_url that names a loopback literal")
    host = f"[{literal}]" if ":" in literal else literal
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port is not None else "")


class _FieldValues(dict):  # type: ignore[type-arg]
    """A connection's field values, credentials revealed, with a repr that masks `hidden` fields.

    A traceback rendered with frame locals (`pytest -l`, Sentry, rich) shows this dict while a
    connection is checked; the credentials must not appear there even after `Secret.reveal()`.
    """

    __slots__ = ("hidden",)

    def __init__(self, values: Mapping[str, Any], hidden: Any) -> None:
        super().__init__(values)
        self.hidden = hidden

    def __repr__(self) -> str:
        return repr({k: ("***" if self.hidden is ALL or k in self.hidden else v) for k, v in self.items()})


ALL = object()  # `_FieldValues(hidden=ALL)`: every value is a credential (rendered auth parameters)


def _frozen(value: Any) -> Any:
    """A hashable stand-in for a nested `rate_limits` value; the type is kept, so False and 0 differ."""
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), _frozen(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("list", tuple(_frozen(v) for v in value))
    return (type(value).__name__, value) if isinstance(value, bool | int | float) else value


class ConnectionResolver:
    """Resolves connection configs for a runtime, caching the result per exact config (hot path)."""

    def __init__(self, validator_for: Callable[[ConnectorSpec], Any], auth_factory: Callable[[str], Any]) -> None:
        self._validator_for = validator_for
        self._auth_factory = auth_factory
        self._cache: dict[tuple[Any, ...], ResolvedConnection] = {}
        self._lock = threading.Lock()

    def resolve(self, spec: ConnectorSpec, config: Mapping[str, Any],
                env_prefix: str | None = None) -> ResolvedConnection:
        """Validate and resolve `config`; `env_prefix` (`RELAYKIT_PROD_`) when it was read from variables.

        The prefix only words the hint for a missing field: the variables that would have supplied it.
        """
        if not isinstance(config, Mapping):
            raise ConnectionConfigError(spec.name, [Problem("a connection must be an object of fields")])
        hostile = value_problems({k: v for k, v in config.items() if not isinstance(v, Secret)})
        if hostile:
            raise ConnectionConfigError(spec.name, hostile)
        key = self._cache_key(spec, config)
        if key is not None:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        resolved = self._resolve(spec, config, env_prefix)
        if key is not None:
            with self._lock:
                if len(self._cache) > 256:
                    self._cache.clear()
                self._cache[key] = resolved
        return resolved

    @staticmethod
    def _cache_key(spec: ConnectorSpec, config: Mapping[str, Any]) -> tuple[Any, ...] | None:
        try:
            items = tuple(sorted((k, _frozen(v)) for k, v in config.items()))
            hash(items)
        except TypeError:
            return None
        return (spec.name, id(spec), items)

    def _resolve(self, spec: ConnectorSpec, config: Mapping[str, Any], env_prefix: str | None) -> ResolvedConnection:
        # Credentials stay wrapped in this frame (`Secret` when they came from the environment or a
        # plugin): a refused connection raises from here, and a traceback rendered with locals shows
        # this frame and its callers, never the helpers below, which have returned by then.
        problems, overrides = _problems(spec, config, self._validator_for(spec), env_prefix)
        if problems:
            raise ConnectionConfigError(spec.name, problems)
        return self._build(spec, config, overrides)

    def _build(self, spec: ConnectorSpec, config: Mapping[str, Any],
               overrides: Mapping[str, LimitOverride]) -> ResolvedConnection:
        """A checked config -> the resolved connection: region, base URL, auth, fingerprint, limit overrides."""
        values = _FieldValues(apply_defaults(spec.connection_schema, _revealed(config)), spec.secret_fields)
        sandbox_url = values.get("sandbox_url")
        region = values["region"]
        real_base = spec.base_urls[region]
        base_url = sandbox_base_url(sandbox_root(sandbox_url), spec.name, region, real_base) if sandbox_url \
            else real_base
        api_path = urlsplit(real_base).path.rstrip("/")
        host_url = base_url[: len(base_url) - len(api_path)] if api_path and base_url.endswith(api_path) else base_url
        for name in spec.secret_fields:
            if isinstance(values.get(name), str):
                REDACTOR.add_secret(values[name])
        params = spec.auth.render({"connection": values})
        params = _FieldValues({k: ("" if v is MISSING or v is None else str(v)) for k, v in params.items()}, ALL)
        auth = self._auth_factory(spec.auth_type)(params)
        REDACTOR.add(*auth.secret_forms())
        digest = hashlib.sha256()
        # every credential field (Track's site_id too), not only the secret ones: one window per credential,
        # whatever the connection's own rate-limit overrides
        for part in (spec.name, base_url, *(f"{k}={values.get(k)}" for k in sorted(values)
                                            if k not in ("sandbox_url", "rate_limits"))):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        public = {k: v for k, v in values.items() if k not in spec.secret_fields and k != "rate_limits"}
        return ResolvedConnection(
            connector=spec.name, region=region, base_url=base_url, public=public, auth=auth,
            fingerprint=digest.hexdigest()[:16], sandbox=bool(sandbox_url), rate_limits=tuple(overrides.items()),
            host_url=host_url,
        )


def _revealed(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.reveal() if isinstance(v, Secret) else v) for k, v in config.items()}


def _problems(spec: ConnectorSpec, config: Mapping[str, Any], validator: Any,
              env_prefix: str | None) -> tuple[list[Problem], dict[str, LimitOverride]]:
    """Everything wrong with a config, by field, and its rate-limit overrides; values are revealed only in here."""
    values = _FieldValues(_revealed(config), spec.secret_fields)
    problems = _check_strings(values, spec.secret_fields)
    region_value = values.get("region")
    if isinstance(region_value, str) and region_value not in spec.base_urls:
        problems.append(Problem(f"unknown region; must be one of: {', '.join(spec.regions)}", pointer="/region"))
    for problem in error_problems(validator.iter_errors(values)):
        if problem.pointer == "/region" and any(p.pointer == "/region" for p in problems):
            continue
        if problem.message == "is required":
            problem = Problem(f"is required (missing credential field {problem.pointer[1:]!r})",
                              pointer=problem.pointer,
                              hint=f"or set {env_prefix}{problem.pointer[1:].upper()}" if env_prefix else None)
        problems.append(problem)
    overrides: dict[str, LimitOverride] = {}
    if "rate_limits" in values:
        overrides, found = check_class_overrides(spec, values["rate_limits"], "/rate_limits")
        problems.extend(found)
    sandbox_url = values.get("sandbox_url")
    if isinstance(sandbox_url, str) and not any(p.pointer == "/sandbox_url" for p in problems):
        bad = _check_sandbox_url(sandbox_url)
        if bad:
            problems.append(bad)
    return problems, overrides


def wrap_secrets(config: Mapping[str, Any], secret_fields: frozenset[str]) -> dict[str, Any]:
    """A copy of `config` whose secret fields are `Secret`s (from the environment or a plugin, before any check)."""
    return {k: (Secret(v) if k in secret_fields and isinstance(v, str) else v) for k, v in config.items()}
