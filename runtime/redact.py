"""Keep secrets out of everything relaykit prints, logs, raises or returns.

Two layers, as defence in depth: credentials are held in `Secret` objects whose repr and str are
masked (so dataclass dumps and tracebacks-with-locals stay clean), and every secret is also
registered with a process-wide `Redactor` that scrubs it from log records and error text in every
form it can take on the wire: raw, base64 inside a Basic header, URL-encoded and JSON-escaped.
Literal-only scrubbing (Airbyte's `filter_secrets`) misses those derived forms.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 6  # shorter values cannot be scrubbed without masking ordinary text


class Secret:
    """A credential value whose repr and str never show it; `reveal()` is called only by auth code."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("relaykit.Secret", self._value))

    def __reduce__(self) -> Any:  # pickling would write the value out in clear text
        raise TypeError("relaykit secrets cannot be pickled")


def secret_forms(value: str) -> set[str]:
    """Every string a secret may turn into on its way through HTTP, JSON and URLs."""
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value), json.dumps(value)[1:-1],
             json.dumps(value, ensure_ascii=False)[1:-1],  # the form relaykit's own JSON bodies use
             repr(value)[1:-1]}  # inside a dict or tuple repr that reached a log line
    return {f for f in forms if f}


def basic_forms(username: str, password: str) -> set[str]:
    """The base64 forms of a Basic credential (standard and URL-safe alphabets, padded or not)."""
    raw = f"{username}:{password}".encode()
    out = set()
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        out |= {text, text.rstrip("=")}
    return out


class Redactor:
    """Scrubs registered secret forms out of text, longest first so overlaps never half-mask."""

    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._ordered: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, *forms: str) -> None:
        new = {f for f in forms if f and len(f) >= MIN_SECRET_LENGTH} - self._forms
        if not new:
            return
        with self._lock:
            self._forms |= new
            self._ordered = tuple(sorted(self._forms, key=len, reverse=True))

    def add_secret(self, value: str) -> None:
        self.add(*secret_forms(value))

    def scrub(self, text: str) -> str:
        # Every occurrence of every form is located in the original text and overlapping spans are
        # merged before masking: replacing one form at a time would leave the tail of a second secret
        # that overlaps the first one (`abcdefgh` + `efghijkl` in `abcdefghijkl` -> `***ijkl`).
        spans = []
        for form in self._ordered:
            start = text.find(form)
            while start != -1:
                spans.append((start, start + len(form)))
                start = text.find(form, start + 1)
        if not spans:
            return text
        spans.sort()
        out, pos, (cur_start, cur_end) = [], 0, spans[0]
        for start, end in spans[1:]:
            if start <= cur_end:
                cur_end = max(cur_end, end)
                continue
            out += [text[pos:cur_start], MASK]
            pos, cur_start, cur_end = cur_end, start, end
        out += [text[pos:cur_start], MASK, text[cur_end:]]
        return "".join(out)

    def scrub_any(self, value: Any) -> Any:
        """Scrub strings inside nested JSON-like data (for dry-run output and error bodies)."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub(str(k)): self.scrub_any(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub_any(v) for v in value]
        return value

    def __repr__(self) -> str:
        return f"Redactor({len(self._forms)} forms)"


def payload_strings(request: Any, limit: int = 2000) -> list[str]:
    """The request's own values (JSON leaves, path parameters) worth masking in an API's error text.

    Short values (under 4 characters) and booleans are left alone: masking them would shred
    ordinary words. Longest first, so an email is masked whole before its local part.
    """
    from urllib.parse import unquote, urlsplit

    found: set[str] = set()
    stack = [getattr(request, "json", None)]
    while stack and len(found) < limit:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
        elif isinstance(node, str | int | float) and not isinstance(node, bool):
            found.add(str(node))
    template = set(getattr(request, "path_template", "").split("/"))
    for segment in urlsplit(getattr(request, "url", "")).path.split("/"):
        if segment and segment not in template:
            found |= {segment, unquote(segment)}
    return sorted((f for f in found if len(f) >= 4), key=len, reverse=True)


def mask_payload(text: str, request: Any) -> str:
    """`text` (an API's error message) with every value the request carried replaced by the mask (S4).

    Case-insensitive, since APIs often echo an email address lower-cased.
    """
    import re

    values = payload_strings(request)
    if not values:
        return text
    return re.sub("|".join(re.escape(v) for v in values), MASK, text, flags=re.IGNORECASE)


REDACTOR = Redactor()
"""The process-wide redactor; connections register their secrets here when they are resolved."""


_VERSION_SEGMENT = re.compile(r"v\d+(?:\.\d+)*")
_DIGIT_RUN = re.compile(r"\d{2,}")
_PATH_PARAMETER = re.compile(r"\{[^/{}]*\}")


def looks_like_identifier(segment: str) -> bool:
    """Whether a URL path segment may name a person or a record: `@`, `%`, or digits-heavy (not `v1`).

    `ada@example.com`, `ada%40example.com`, `8`, `u1`, `01HZY7K8Q4W9X2M5N6P3R1T0VA` and UUIDs do;
    `customers`, `attributes`, `v1` and `api` do not.
    """
    if "@" in segment or "%" in segment:
        return True
    if not segment or _VERSION_SEGMENT.fullmatch(segment):
        return False
    digits = sum(ch.isdigit() for ch in segment)
    return digits > 0 and (digits * 3 >= len(segment) or _DIGIT_RUN.search(segment) is not None)


def mask_path(path: str) -> str:
    """A URL path as errors and logs show it: identifier-like segments become `***` (S4).

    `/customers/ada@example.com/attributes` -> `/customers/***/attributes`. Declared operations'
    path templates get the same look through `mask_template`.
    """
    return "/".join(MASK if looks_like_identifier(segment) else segment for segment in path.split("/"))


def mask_template(template: str) -> str:
    """`/v1/customers/{identifier}/events` -> `/v1/customers/***/events`: the real path shape, masked."""
    return _PATH_PARAMETER.sub(MASK, template)


_shown_paths = threading.local()


def show_path_as(actual: str, shown: str) -> None:
    """While this thread sends to `actual` (a URL path), urllib3's request lines show `shown` instead.

    `shown` is the masked path (`/customers/***`), so people's ids and email addresses in the path
    stay out of DEBUG logs as they stay out of error messages. Cleared with `("", "")`.
    """
    _shown_paths.pair = (actual, shown)


class RedactingFilter(logging.Filter):
    """A logging filter that renders each record's message and scrubs every secret form from it."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "urllib3.connectionpool" and isinstance(record.args, tuple) and len(record.args) == 8:
            # `"%s://%s:%s "%s %s %s" %s %s"`: drop the query string, where APIs put keys and identifiers
            # and show the masked path, not the identifiers in it, when the transport named it
            args = list(record.args)
            args[4] = str(args[4]).split("?", 1)[0]
            actual, shown = getattr(_shown_paths, "pair", ("", ""))
            if actual and args[4] == actual:
                args[4] = shown
            record.args = tuple(args)
        try:
            message = record.getMessage()
        except Exception:
            return True
        scrubbed = self.redactor.scrub(message)
        if scrubbed != message or record.args:
            record.msg, record.args = scrubbed, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = self.redactor.scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redactor.scrub(record.exc_text)
        return True


LOGGERS = ("relaykit", "relaykit.runtime", "relaykit.transport", "relaykit.executor", "relaykit.plugins",
           "relaykit.automation",
           "urllib3", "urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry", "requests")


def install_log_filter(logger_names: tuple[str, ...] = LOGGERS) -> None:
    """Attach the redacting filter to every logger relaykit's traffic reaches (idempotent).

    Filters on a logger do not see records propagated from its children, so each emitting
    logger is named explicitly.
    """
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
