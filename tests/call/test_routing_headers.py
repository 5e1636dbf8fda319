"""Issue 12, item 4: routing and hop-by-hop headers are refused, with the reason, before anything is sent.

`Forwarded`, `X-Forwarded-*`, `X-Original-URL`, `X-Rewrite-URL`, the method overrides, `Via` and the
hop-by-hop headers used to pass through `raw_http_request` (only `X-Forwarded-*`, `Proxy-*` and a few
framing names were refused). The oracle (`tests/credential_adversary.py`) is written from the issue
and RFC 9110 §7.6.1, not from relaykit's table; names are drawn by hypothesis with any case and `_`
for `-` (as CGI and WSGI read them), and the same names go to automation webhook steps, which share
the check.
"""

from __future__ import annotations

import pytest
from credential_adversary import HOP_BY_HOP, ROUTING, header_refused_by_oracle
from hypothesis import given, settings
from hypothesis import strategies as st
from relaykit.automation.webhook_step import header_problems, render_webhook_request
from relaykit.call.render import check_header
from relaykit.errors import InputValidationError
from relaykit.runtime import Runtime

ALLOWED = ["Accept", "Accept-Language", "X-Request-Id", "Idempotency-Key", "X-Forward", "Forward", "Viaduct",
           "X-Originally", "X-Method", "X-Trailer-Id", "Keep", "X-Proxy", "Content-Type", "User-Agent", "Prefer"]


def respell(name: str, flips: list[bool], underscores: bool) -> str:
    flips = (flips + [False] * len(name))[:len(name)]
    out = "".join(c.upper() if flip else c.lower() for c, flip in zip(name, flips, strict=True))
    return out.replace("-", "_") if underscores else out


names = st.builds(respell, st.sampled_from(ROUTING + HOP_BY_HOP + ALLOWED), st.lists(st.booleans(), max_size=30),
                  st.booleans())
tokens = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,24}", fullmatch=True)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(names, tokens))
def test_raw_http_refuses_exactly_the_routing_and_hop_by_hop_names_with_a_reason(name: str) -> None:
    problem = check_header(name, "v", "/headers/h")
    lowered = name.lower().replace("_", "-")
    owned = lowered in ("authorization", "proxy-authorization", "cookie", "host", "content-length", "expect")
    if header_refused_by_oracle(name) or owned:
        assert problem is not None and problem.pointer == "/headers/h"
        assert problem.message.startswith("this header cannot be given: it ")
        if not owned:
            assert ("hop-by-hop" in problem.message) or ("reroutes or rewrites" in problem.message)
    else:
        assert problem is None, (name, problem)


@settings(max_examples=500, deadline=None)
@given(st.one_of(names, tokens))
def test_webhook_steps_share_the_refusal(name: str) -> None:
    problems = header_problems({name: "v"}, "/headers", literal_check=False)
    if header_refused_by_oracle(name):
        assert problems and "may not be given" in problems[0].message
        with pytest.raises(ValueError, match="may not be given"):
            render_webhook_request("s", {"url": "http://127.0.0.1:9/hook", "headers": {name: "v"}})
    elif name.lower().replace("_", "-") not in ("host", "content-length"):
        assert problems == []


@pytest.mark.parametrize("name", ROUTING + HOP_BY_HOP + ["x_forwarded_for", "X-HTTP-METHOD-OVERRIDE"])
def test_nothing_is_sent_when_a_routing_header_is_given(name: str, sandbox) -> None:
    rt = Runtime(sleep=lambda s: None)
    try:
        with pytest.raises(InputValidationError) as info:
            rt.run("customerio-app.raw_http_request", {"method": "GET", "endpoint": "/customers/c1/attributes",
                                                       "headers": {name: "127.0.0.1"}},
                   sandbox.connection("customerio-app"))
    finally:
        rt.close()
    assert [p.pointer for p in info.value.problems] == [f"/headers/{name}"]
    assert "cannot be given: it " in str(info.value)
    assert sandbox.journal() == []
