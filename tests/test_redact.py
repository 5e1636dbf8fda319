"""Tests for relaykit.redact: masked secrets, their derived forms, and scrubbing of text and log records."""

from __future__ import annotations

import base64
import copy
import json
import logging
import pickle
from typing import Any

import pytest
from relaykit.redact import (
    MASK,
    MIN_SECRET_LENGTH,
    RedactingFilter,
    Redactor,
    Secret,
    basic_forms,
    install_log_filter,
    secret_forms,
)

CANARY = "sk_live_CANARY_0123"


@pytest.mark.parametrize("render", [
    pytest.param(repr, id="repr"),
    pytest.param(str, id="str"),
    pytest.param(lambda s: f"{s}", id="f-string"),
    pytest.param(lambda s: format(s, ""), id="format-builtin"),
    pytest.param(lambda s: repr({"key": [s]}), id="inside-containers"),
])
def test_secret_is_masked(render: Any) -> None:
    text = render(Secret(CANARY))
    assert CANARY not in text and "***" in text


def test_secret_reveal_and_equality() -> None:
    secret = Secret(CANARY)
    assert secret.reveal() == CANARY
    assert secret == Secret(CANARY) and secret != Secret(CANARY + "x") and secret != CANARY
    assert hash(secret) == hash(Secret(CANARY))


@pytest.mark.parametrize("dump", [
    pytest.param(pickle.dumps, id="pickle"),
    pytest.param(lambda s: pickle.dumps({"k": s}, protocol=0), id="pickle-nested-protocol-0"),
    pytest.param(copy.copy, id="copy"),
])
def test_secret_cannot_be_pickled(dump: Any) -> None:
    with pytest.raises(TypeError):
        dump(Secret(CANARY))


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("abc123xyz", {"abc123xyz"}, id="plain"),
    pytest.param("p@ss w/rd+\"é", {
        "p@ss w/rd+\"é",  # raw
        "p%40ss%20w%2Frd%2B%22%C3%A9",  # URL-encoded
        "p%40ss%20w/rd%2B%22%C3%A9",  # URL-encoded as a path (`/` kept)
        "p%40ss+w%2Frd%2B%22%C3%A9",  # quote_plus (form bodies)
        "p@ss w/rd+\\\"\\u00e9",  # JSON-escaped, ASCII
        "p@ss w/rd+\\\"é",  # JSON-escaped as relaykit writes bodies (UTF-8)
    }, id="every-form"),
    pytest.param("tab\there", {"tab\there", "tab%09here", "tab\\there"}, id="control-char"),
    pytest.param("it's\\", {"it's\\", "it%27s%5C", "it's\\\\", '"it\'s\\\\"'[1:-1]}, id="repr-escapes"),
    pytest.param("", set(), id="empty"),
])
def test_secret_forms(value: str, expected: set[str]) -> None:
    assert secret_forms(value) == expected


@pytest.mark.parametrize(("username", "password", "expected"), [
    pytest.param("Aladdin", "open sesame", {"QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "QWxhZGRpbjpvcGVuIHNlc2FtZQ"},
                 id="rfc7617-padded"),
    pytest.param("site", "key>>>?", {"c2l0ZTprZXk+Pj4/", "c2l0ZTprZXk-Pj4_"}, id="urlsafe-differs"),
    pytest.param("ab", "c?>>", {"YWI6Yz8+Pg==", "YWI6Yz8+Pg", "YWI6Yz8-Pg==", "YWI6Yz8-Pg"},
                 id="urlsafe-padded"),
    pytest.param("pipeline_key", "", {"cGlwZWxpbmVfa2V5Og==", "cGlwZWxpbmVfa2V5Og"}, id="key-colon"),
])
def test_basic_forms(username: str, password: str, expected: set[str]) -> None:
    assert basic_forms(username, password) == expected
    assert base64.b64encode(f"{username}:{password}".encode()).decode() in expected


@pytest.mark.parametrize("order", [
    pytest.param(("abcdefgh", "abcdefghijkl"), id="short-first"),
    pytest.param(("abcdefghijkl", "abcdefgh"), id="long-first"),
])
def test_scrub_longest_first(order: tuple[str, str]) -> None:
    redactor = Redactor()
    redactor.add(*order)
    assert redactor.scrub("x abcdefghijkl y abcdefgh z") == f"x {MASK} y {MASK} z"


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("abcdefghijkl", MASK, id="overlap"),
    pytest.param("[efghijkl|abcdefgh]", f"[{MASK}|{MASK}]", id="separate"),
    pytest.param("abcdefghijkl abcdefgh", f"{MASK} {MASK}", id="overlap-then-one"),
    pytest.param("nothing here", "nothing here", id="none"),
])
def test_scrub_overlapping_secrets_never_half_masked(text: str, expected: str) -> None:
    redactor = Redactor()
    redactor.add("abcdefgh", "efghijkl")
    scrubbed = redactor.scrub(text)
    assert scrubbed == expected
    for tail in ("ijkl", "abcd"):
        assert tail not in scrubbed


def test_short_forms_ignored() -> None:
    redactor = Redactor()
    short = "a" * (MIN_SECRET_LENGTH - 1)
    redactor.add(short, "", "b" * MIN_SECRET_LENGTH)
    assert redactor.scrub(f"{short} banana {'b' * MIN_SECRET_LENGTH}") == f"{short} banana {MASK}"
    assert repr(redactor) == "Redactor(1 forms)"


def test_add_secret_scrubs_derived_forms() -> None:
    redactor = Redactor()
    secret = "p@ss/word+1"
    redactor.add_secret(secret)
    text = f"raw={secret} url=p%40ss%2Fword%2B1 form=p%40ss%2Fword%2B1 json={json.dumps({'k': secret})}"
    scrubbed = redactor.scrub(text)
    assert "p@ss" not in scrubbed and "p%40ss" not in scrubbed and scrubbed.count(MASK) == 4


def test_scrub_any_walks_nested_data() -> None:
    redactor = Redactor()
    redactor.add(CANARY)
    data = {"a": [CANARY, ("x", f"k={CANARY}")], CANARY: {"n": 1, "none": None}}
    assert redactor.scrub_any(data) == {"a": [MASK, ["x", f"k={MASK}"]], MASK: {"n": 1, "none": None}}


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def capture(request: pytest.FixtureRequest) -> Any:
    redactor = Redactor()
    redactor.add_secret(CANARY)
    logger = logging.getLogger(f"relaykit-test.{request.node.name}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = ListHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.addFilter(RedactingFilter(redactor))
    yield logger, handler
    logger.removeHandler(handler)
    logger.filters.clear()


@pytest.mark.parametrize(("msg", "args"), [
    pytest.param(f"key={CANARY}", (), id="in-message"),
    pytest.param("key=%s", (CANARY,), id="in-args"),
    pytest.param("body=%s", ({"api_key": CANARY},), id="in-dict-arg"),
    pytest.param("url=%s", (f"https://x.io/?k={CANARY}&x=1",), id="in-url-arg"),
    pytest.param("form=%s", ("k=" + CANARY.replace("_", "%5F"),), id="percent-encoded-underscores-not-a-form"),
    pytest.param("json=%s", (json.dumps({"k": CANARY}),), id="json-arg"),
])
def test_filter_scrubs_message_and_args(capture: Any, msg: str, args: tuple[Any, ...]) -> None:
    logger, handler = capture
    logger.info(msg, *args)
    record = handler.records[0]
    rendered = msg % args if args else msg
    if CANARY in rendered:
        assert CANARY not in record.getMessage() and CANARY not in handler.lines[0]
        assert MASK in handler.lines[0] and record.args is None
    else:  # a form nobody registered is left as it is (scrubbing is exact, never fuzzy)
        assert handler.lines[0] == f"INFO {rendered}"


def test_filter_scrubs_exception_text(capture: Any) -> None:
    logger, handler = capture
    try:
        raise ValueError(f"bad token {CANARY}")
    except ValueError:
        logger.exception("call failed for %s", CANARY)
    record = handler.records[0]
    assert CANARY not in handler.lines[0]
    assert record.exc_text is not None and CANARY not in record.exc_text and "ValueError" in record.exc_text
    assert MASK in record.exc_text


def test_filter_leaves_clean_records_alone(capture: Any) -> None:
    logger, handler = capture
    logger.warning("attempt %d of %d", 2, 4)
    assert handler.lines == ["WARNING attempt 2 of 4"]


def test_install_log_filter_is_idempotent() -> None:
    name = "relaykit-test.install"
    logger = logging.getLogger(name)
    try:
        install_log_filter((name,))
        install_log_filter((name,))
        assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1
    finally:
        logger.filters.clear()
