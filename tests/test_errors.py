"""Tests for relaykit.errors: the exception tree, messages built from fields, and JSON-ready dicts."""

from __future__ import annotations

import json

import pytest
from relaykit import errors as E
from relaykit.errors import Problem

TREE = [
    (E.SpecError, E.RelaykitError),
    (E.PluginError, E.RelaykitError),
    (E.UnknownNameError, E.RelaykitError),
    (E.UnknownNameError, KeyError),
    (E.UnknownConnectorError, E.UnknownNameError),
    (E.UnknownOperationError, E.UnknownNameError),
    (E.UnknownExampleError, E.UnknownNameError),
    (E.ConnectionConfigError, E.RelaykitError),
    (E.ConnectionConfigError, ValueError),
    (E.SettingsError, E.RelaykitError),
    (E.SettingsError, ValueError),
    (E.InputValidationError, E.RelaykitError),
    (E.InputValidationError, ValueError),
    (E.RenderError, E.RelaykitError),
    (E.BulkError, E.RelaykitError),
    (E.CallError, E.RelaykitError),
    (E.TransportError, E.CallError),
    (E.RequestTimeoutError, E.TransportError),
    (E.RedirectError, E.CallError),
    (E.RegionMismatchError, E.RedirectError),
    (E.HTTPStatusError, E.CallError),
    (E.AuthenticationError, E.HTTPStatusError),
    (E.PermissionDeniedError, E.HTTPStatusError),
    (E.NotFoundError, E.HTTPStatusError),
    (E.ConflictError, E.HTTPStatusError),
    (E.RateLimitError, E.HTTPStatusError),
    (E.ClientError, E.HTTPStatusError),
    (E.ServerError, E.HTTPStatusError),
    (E.OutputValidationError, E.CallError),
    (E.AutomationError, E.RelaykitError),
    (E.RelaykitError, Exception),
]

NOT_IN = [
    (E.RenderError, ValueError),  # a template problem, not a bad value the caller passed in
    (E.CallError, ValueError),
    (E.CallError, KeyError),
    (E.TransportError, E.HTTPStatusError),
    (E.RedirectError, E.HTTPStatusError),
    (E.RateLimitError, E.ServerError),
    (E.SpecError, ValueError),
]


@pytest.mark.parametrize(("cls", "base"), [pytest.param(c, b, id=f"{c.__name__}<{b.__name__}") for c, b in TREE])
def test_place_in_tree(cls: type, base: type) -> None:
    assert issubclass(cls, base)


@pytest.mark.parametrize(("cls", "base"), [pytest.param(c, b, id=f"{c.__name__}!<{b.__name__}") for c, b in NOT_IN])
def test_not_in_branch(cls: type, base: type) -> None:
    assert not issubclass(cls, base)


def test_every_public_error_is_in_the_table() -> None:
    public = {obj for obj in vars(E).values() if isinstance(obj, type) and issubclass(obj, E.RelaykitError)}
    assert public == {c for c, _ in TREE if issubclass(c, E.RelaykitError)}


CALL = {"connector": "customerio-app", "operation": "trigger_broadcast", "method": "POST",
        "url": "https://api.customer.io/v1/campaigns/8/triggers", "attempts": 3, "request_id": "req-1"}
PROBLEMS = [Problem("is required", pointer="/identifier"), Problem("expected a string", pointer="/name", hint="h")]

INSTANCES = [
    pytest.param(E.RelaykitError("plain"), "plain", id="root"),
    pytest.param(E.SpecError(Problem("bad", pointer="/a", file="x.yaml", line=3, column=4)), "x.yaml:3:4 /a: bad",
                 id="spec-one"),
    pytest.param(E.SpecError(PROBLEMS), "invalid specification (2 problems):\n  /identifier: is required\n"
                 "  /name: expected a string (h)", id="spec-many"),
    pytest.param(E.PluginError("duplicate connector"), "duplicate connector", id="plugin"),
    pytest.param(E.UnknownConnectorError("customerio-trak", ["customerio-track"]),
                 "unknown connector 'customerio-trak' (did you mean 'customerio-track'?)", id="unknown-connector"),
    pytest.param(E.UnknownOperationError("x.y"), "unknown operation 'x.y'", id="unknown-operation"),
    pytest.param(E.ConnectionConfigError("customerio-app", PROBLEMS[:1]),
                 "customerio-app: invalid connection: /identifier: is required", id="connection"),
    pytest.param(E.SettingsError("rate_limits", PROBLEMS[:1]),
                 "Runtime(rate_limits=...): invalid setting: /identifier: is required", id="settings"),
    pytest.param(E.InputValidationError("c", "op", PROBLEMS),
                 "c.op: invalid input (2 problems):\n  /identifier: is required\n  /name: expected a string (h)",
                 id="input"),
    pytest.param(E.RenderError("c", "op", "/request/path", "missing"), "c.op: cannot render /request/path: missing",
                 id="render"),
    pytest.param(E.BulkError("x.jsonl: cannot read the input (No such file or directory)"),
                 "x.jsonl: cannot read the input (No such file or directory)", id="bulk"),
    pytest.param(E.CallError("boom", **CALL),
                 "customerio-app.trigger_broadcast POST https://api.customer.io/v1/campaigns/8/triggers: boom "
                 "(after 3 attempts) [request id req-1]", id="call"),
    pytest.param(E.CallError("boom"), "boom", id="call-bare"),
    pytest.param(E.TransportError("reset", attempts=1), "reset", id="transport"),
    pytest.param(E.RequestTimeoutError("timed out"), "timed out", id="timeout"),
    pytest.param(E.RedirectError("redirected", status=302), "redirected", id="redirect"),
    pytest.param(E.RegionMismatchError("wrong region", status=301, region="eu"), "wrong region", id="region"),
    pytest.param(E.HTTPStatusError("418", status=418, error_message="teapot"), "418", id="status"),
    pytest.param(E.AuthenticationError("401", status=401), "401", id="auth"),
    pytest.param(E.PermissionDeniedError("403", status=403), "403", id="permission"),
    pytest.param(E.NotFoundError("404", status=404), "404", id="not-found"),
    pytest.param(E.ConflictError("409", status=409), "409", id="conflict"),
    pytest.param(E.RateLimitError("429", retry_after=1.5), "429", id="rate-limit"),
    pytest.param(E.ClientError("400", status=400), "400", id="client"),
    pytest.param(E.ServerError("503", status=503), "503", id="server"),
    pytest.param(E.OutputValidationError("bad output", problems=PROBLEMS[:1]), "bad output", id="output"),
    pytest.param(E.AutomationError("nightly", "step1", E.NotFoundError("404", status=404)),
                 "automation 'nightly', step 'step1': 404", id="automation"),
]


@pytest.mark.parametrize(("exc", "text"), INSTANCES)
def test_str_and_to_dict(exc: E.RelaykitError, text: str) -> None:
    assert str(exc) == text
    data = exc.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["error"] == type(exc).__name__ and data["message"] == text and data["kind"] == exc.kind
    assert all(value is not None for value in data.values())


def test_unknown_name_is_a_clean_key_error() -> None:
    with pytest.raises(KeyError) as info:
        raise E.UnknownConnectorError("nope")
    assert str(info.value) == "unknown connector 'nope'"  # not "\"unknown connector 'nope'\""
    assert info.value.to_dict()["suggestions"] == []


@pytest.mark.parametrize(("exc", "fields"), [
    pytest.param(E.RateLimitError("x"), {"status": 429, "retry_after": None, "retryable": True}, id="rate-limit"),
    pytest.param(E.ServerError("x", status=502), {"status": 502, "retryable": True}, id="server"),
    pytest.param(E.TransportError("x"), {"retryable": True}, id="transport"),
    pytest.param(E.ClientError("x", status=422), {"status": 422, "retryable": False}, id="client"),
    pytest.param(E.CallError("x", retryable=True), {"retryable": True}, id="override"),
    pytest.param(E.RegionMismatchError("x", status=301, region="eu"), {"status": 301, "region": "eu"}, id="region"),
    pytest.param(E.RenderError("c", "o", "/p", "r"), {"connector": "c", "operation": "o", "pointer": "/p"},
                 id="render"),
])
def test_structured_fields(exc: E.RelaykitError, fields: dict[str, object]) -> None:
    data = exc.to_dict()
    for key, value in fields.items():
        if value is None:
            assert key not in data
        else:
            assert data[key] == value
        if key == "retryable":
            assert exc.retryable is value  # type: ignore[attr-defined]


def test_automation_error_nests_cause() -> None:
    cause = E.InputValidationError("c", "op", PROBLEMS[:1])
    data = E.AutomationError("a", "s", cause).to_dict()
    assert data["cause"] == cause.to_dict()
    assert data["cause"]["problems"] == [{"message": "is required", "pointer": "/identifier"}]


@pytest.mark.parametrize(("problem", "text", "as_dict"), [
    pytest.param(Problem("bad"), "/: bad", {"message": "bad", "pointer": ""}, id="root-pointer"),
    pytest.param(Problem("bad", pointer="/a", hint="try b"), "/a: bad (try b)",
                 {"message": "bad", "pointer": "/a", "hint": "try b"}, id="hint"),
    pytest.param(Problem("bad", pointer="/a", file="f.yaml", line=2), "f.yaml:2 /a: bad",
                 {"message": "bad", "pointer": "/a", "file": "f.yaml", "line": 2}, id="file-line"),
    pytest.param(Problem("bad", file="f.yaml", column=9), "f.yaml /: bad",
                 {"message": "bad", "pointer": "", "file": "f.yaml", "column": 9}, id="column-without-line"),
])
def test_problem(problem: Problem, text: str, as_dict: dict[str, object]) -> None:
    assert str(problem) == text
    assert problem.to_dict() == as_dict


@pytest.mark.parametrize(("status", "cls"), [
    pytest.param(400, E.ClientError, id="400"),
    pytest.param(401, E.AuthenticationError, id="401"),
    pytest.param(403, E.PermissionDeniedError, id="403"),
    pytest.param(404, E.NotFoundError, id="404"),
    pytest.param(408, E.ClientError, id="408"),
    pytest.param(409, E.ConflictError, id="409"),
    pytest.param(418, E.ClientError, id="418"),
    pytest.param(422, E.ClientError, id="422"),
    pytest.param(429, E.RateLimitError, id="429"),
    pytest.param(499, E.ClientError, id="499"),
    pytest.param(500, E.ServerError, id="500"),
    pytest.param(503, E.ServerError, id="503"),
    pytest.param(524, E.ServerError, id="524"),
    pytest.param(599, E.ServerError, id="599"),
])
def test_status_error_class(status: int, cls: type) -> None:
    assert E.status_error_class(status) is cls
