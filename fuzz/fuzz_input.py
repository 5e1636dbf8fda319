r"""Atheris fuzz target for hostile input (issue 12): `--input` parsing, automation `inputs` schemas, request lines.

Each input picks one of three surfaces:

  * **data arguments**: text (fuzzed, or built from hostile pieces: deep nesting, 5,000-digit and
    hex integers, `1e999`, NaN, duplicate keys, `\ud800` escapes) parsed as the CLI parses
    `--input` (`cli.args.read_data_arg` for JSON, the same strict YAML loader for YAML), then
    handed to `Runtime.dry_run`;
  * **automation `inputs` schemas**: an automation whose `inputs` schema is built from fuzzed
    `pattern`s, `patternProperties`, `$ref`s (local, self, `http:`, `file:`, relaykit's store) and
    in-place applicators, loaded with `parse_automation`, then dry-run with fuzzed inputs;
  * **the receiver's request line**: a fuzzed request line and header block driven through the
    receiver's real `http.server` handler over an in-memory socket.

Property, per input (anything else is a finding):
  * data arguments: `read_data_arg` returns or raises `UsageError`; the dry run returns or raises a
    `RelaykitError`;
  * schemas: loading raises `SpecError` or returns; what loaded runs (dry) to a result or a
    `RelaykitError`, within 1 s (no backtracking pattern), and never with a `RecursionError`:
    `validate` catches at load whatever `run` would fail on;
  * request lines: the answer is an HTTP/1.1 status line below 500 with a JSON body, or nothing
    when the line is blank (as `http.server` reads it: Latin-1 text that `str.split` finds empty).

Run (from the repository root; see fuzz/README.md):
    .venv/bin/python fuzz/fuzz_input.py -runs=200000 -seed=1 -artifact_prefix=/tmp/
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from typing import Any

if os.environ.get("PYTHONHASHSEED") != "0":  # the same -seed must replay the same run: fix str hashing too
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import atheris

with atheris.instrument_imports(include=["relaykit.specs", "relaykit.cli.args", "relaykit.automation",
                                         "relaykit.webhooks"]):
    import relaykit.call.executor  # noqa: F401  (the runtime loads it lazily; imported here so it is instrumented)
    from relaykit import Runtime
    from relaykit.automation.loader import parse_automation
    from relaykit.cli.args import UsageError, read_data_arg
    from relaykit.errors import RelaykitError, SpecError
    from relaykit.specs.documents import load_yaml
    from relaykit.specs.values import MAX_VALUE_DEPTH
    from relaykit.webhooks import receiver as receiver_module

RT = Runtime()
CONN = {"site_id": "site0123456", "api_key": "key0123456789abc", "region": "us"}
PIECES = ["[" * 200, "]" * 200, "{\"a\":" * 150, "}" * 150, "9" * 5000, "-" + "9" * 4001, "1e999", "-1e999", "NaN",
          "Infinity", "\"\\ud800\"", "\"\\udfff\\ud800\"", "0x" + "f" * 6000, "0o777", "\"a\":1,\"a\":2", "{}", "[]",
          "null", "true", "1.5", "\"identifier\":\"x\"", "\"name\":\"e\"", "\"data\":", ",", ":", "\ufeff", "\x00"]
PATTERNS = ["^(a+)+$", "(?=a)", "(?<=a)b", "(a)\\1", "(", "[", "^\\u00e9$", "^[a-z]+$", "\\d+", "^a$", "a{99999}",
            "(?i)x", "\\p{L}", "[[:alpha:]]", "\\Z", "x**"]
REFS = ["#", "#/properties/x", "#/properties/x/allOf/0", "#/$defs/d", "#/$defs/none", "#/$defs/d/$ref",
        "http://127.0.0.1:9/s.json", "file:///etc/passwd", "https://schemas.relaykit.invalid/common/customerio.json",
        "https://schemas.relaykit.invalid/common/customerio.json#/$defs/identifier",
        "https://schemas.relaykit.invalid/none.json", "#/properties", "#a", "#//", "#/properties/x/not"]
LINES = [b"POST / HTTP/1.1", b"POST / HTTP/2.0", b"POST / HTTP/9.9", b"GET /", b"POST /", b"PRI * HTTP/2.0",
         b"POST / HTTP/1.1.1", b"POST / HTTP/0.9", b"garbage", b"POST /?x HTTP/1.0", b" ", b""]


class Finding(AssertionError):
    """The property does not hold for this input."""


# -- data arguments -------------------------------------------------------------------------------------


def data_text(fdp: atheris.FuzzedDataProvider) -> str:
    """Fuzzed text, or text assembled from hostile pieces (most of the coverage comes from these)."""
    if fdp.ConsumeBool():
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 512))
    parts = [fdp.PickValueInList(PIECES) if fdp.ConsumeBool() else fdp.ConsumeUnicodeNoSurrogates(4)
             for _ in range(fdp.ConsumeIntInRange(1, 12))]
    return "{" + "".join(parts) + "}" if fdp.ConsumeBool() else "".join(parts)


def check_data_argument(fdp: atheris.FuzzedDataProvider) -> None:
    """`--input` text parses or is a usage error; what parses dry-runs or is a relaykit error."""
    text = data_text(fdp)
    as_yaml = fdp.ConsumeBool()
    try:
        if as_yaml:  # what read_data_arg does for @file.yaml
            try:
                value = load_yaml(text, "input.yaml", max_depth=MAX_VALUE_DEPTH).data
            except SpecError:
                return
        else:
            value = read_data_arg(text, "input")
    except UsageError:
        return
    try:
        RT.dry_run("customerio-track.track_event", value, CONN)
    except RelaykitError:
        pass


# -- automation inputs schemas ----------------------------------------------------------------------------


def schema(fdp: atheris.FuzzedDataProvider, depth: int) -> Any:
    """A JSON Schema fragment from hostile building blocks (patterns, refs, applicators)."""
    kind = fdp.ConsumeIntInRange(0, 7 if depth < 3 else 3)
    if kind == 0:
        pattern = fdp.PickValueInList(PATTERNS) if fdp.ConsumeBool() else fdp.ConsumeUnicodeNoSurrogates(12)
        return {"type": "string", "pattern": pattern}
    if kind == 1:
        ref = fdp.PickValueInList(REFS) if fdp.ConsumeBool() else "#" + fdp.ConsumeUnicodeNoSurrogates(10)
        return {"$ref": ref}
    if kind == 2:
        return {"type": fdp.PickValueInList(["number", "integer", "string", "array", "object"]),
                "minimum": fdp.ConsumeIntInRange(-5, 5)}
    if kind == 3:
        return fdp.ConsumeBool()
    if kind == 4:
        return {fdp.PickValueInList(["allOf", "anyOf", "oneOf"]): [schema(fdp, depth + 1)
                                                                     for _ in range(fdp.ConsumeIntInRange(1, 3))]}
    if kind == 5:
        return {fdp.PickValueInList(["not", "if", "then", "else", "items"]): schema(fdp, depth + 1)}
    if kind == 6:
        name = fdp.PickValueInList(PATTERNS) if fdp.ConsumeBool() else fdp.ConsumeUnicodeNoSurrogates(8)
        return {"type": "object", "patternProperties": {name: schema(fdp, depth + 1)},
                "additionalProperties": fdp.ConsumeBool()}
    return {"type": "object", "properties": {"y": schema(fdp, depth + 1)}}


def input_value(fdp: atheris.FuzzedDataProvider) -> Any:
    """A value for input `x`: long runs of `a` for backtracking patterns, surrogates, floats."""
    kind = fdp.ConsumeIntInRange(0, 5)
    if kind == 0:
        return "a" * fdp.ConsumeIntInRange(0, 40_000) + fdp.PickValueInList(["", "!", "\n"])
    if kind == 1:
        return {"a" * fdp.ConsumeIntInRange(0, 40_000) + "!": fdp.ConsumeIntInRange(-3, 3)}
    if kind == 2:
        return fdp.ConsumeUnicode(16)  # surrogates included
    if kind == 3:
        return [fdp.ConsumeIntInRange(-3, 3)] * fdp.ConsumeIntInRange(0, 3)
    if kind == 4:
        return fdp.ConsumeFloat()
    return {"y": fdp.ConsumeUnicodeNoSurrogates(8)}


def check_inputs_schema(fdp: atheris.FuzzedDataProvider) -> None:
    """An automation that loads must run (dry) without a non-relaykit error, in bounded time."""
    inputs = {"type": "object", "properties": {"x": schema(fdp, 0)},
              "$defs": {"d": schema(fdp, 1)}}
    document = {"spec_version": 1, "name": "fuzz", "inputs": inputs,
                "steps": [{"id": "s", "uses": "set", "with": {"v": "{{ inputs.x }}"}}]}
    try:
        automation = parse_automation(RT, json.dumps(document))
    except SpecError:
        return
    started = time.perf_counter()
    try:
        RT.run_automation(automation, {"x": input_value(fdp)}, dry_run=True)
    except RelaykitError:
        pass
    except RecursionError as exc:
        raise Finding("loaded, then recursed at run: validate must catch this") from exc
    if time.perf_counter() - started > 1.0:
        raise Finding(f"a dry run took {time.perf_counter() - started:.2f} s (a backtracking pattern?)")


# -- the receiver's request line --------------------------------------------------------------------------


class _Socket:
    """Just enough of a socket for `http.server`'s handler: one request in, the answer collected."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.sent = b""

    def makefile(self, mode: str, *args: Any, **kw: Any) -> io.BytesIO:
        return io.BytesIO(self._data)

    def sendall(self, data: bytes) -> None:
        self.sent += bytes(data)

    def settimeout(self, value: Any) -> None:
        pass

    def setsockopt(self, *args: Any) -> None:
        pass


class _Server:
    """What the handler reads from its server: the receiver and the connection guard."""

    def __init__(self) -> None:
        self.receiver = receiver_module.WebhookReceiver(lambda event: None, ["whsec_CANARY_key_0123"])
        self.guard = receiver_module.ConnectionGuard(4, 5.0)


SERVER = _Server()


def check_request_line(fdp: atheris.FuzzedDataProvider) -> None:
    """Any request line gets a 4xx/2xx JSON answer from the real handler, or none when blank."""
    if fdp.ConsumeBool():
        line = fdp.PickValueInList(LINES)
        if fdp.ConsumeBool():
            line += fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 16))
    else:
        line = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 80))
    line = line.split(b"\n", 1)[0]
    head = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 120)).replace(b"\r\n\r\n", b"\r\n")
    sock = _Socket(line + b"\r\n" + head + b"\r\n\r\n")
    receiver_module._Handler(sock, ("127.0.0.1", 1), SERVER)  # handles the whole connection, then returns
    answer = sock.sent
    if not answer:
        if line.decode("latin-1").split():  # a blank line (NEL and NBSP count as blanks) may be dropped
            raise Finding("a non-empty request line got no answer")
        return
    if not answer.startswith(b"HTTP/1.1 "):
        raise Finding(f"not an HTTP/1.1 answer: {answer[:40]!r}")
    status = int(answer[9:12])
    first = answer.split(b"\r\n\r\n", 1)
    if status >= 500:
        raise Finding(f"status {status}")
    try:
        json.loads(first[1].split(b"HTTP/1.1 ", 1)[0])
    except (IndexError, ValueError) as exc:
        raise Finding(f"status {status} without a JSON body") from exc


# An automation load costs ~10 ms (the meta-schema check), a parse or a request line ~1 ms: schemas
# get one input in eight, so each surface gets a similar share of the time.
AREAS = (check_data_argument,) * 4 + (check_request_line,) * 3 + (check_inputs_schema,)


def TestOneInput(data: bytes) -> None:
    """One hostile input on one surface; the surface's property must hold."""
    fdp = atheris.FuzzedDataProvider(data)
    AREAS[fdp.ConsumeIntInRange(0, len(AREAS) - 1)](fdp)


def main() -> None:
    """Check the properties are not vacuous (a good input passes, a known bad one is refused), then fuzz."""
    assert read_data_arg('{"identifier": "x", "name": "e"}', "input") == {"identifier": "x", "name": "e"}
    good = {"spec_version": 1, "name": "ok", "inputs": {"type": "object", "properties": {"x": {"type": "string"}}},
            "steps": [{"id": "s", "uses": "set", "with": {"v": "{{ inputs.x }}"}}]}
    assert RT.run_automation(parse_automation(RT, json.dumps(good)), {"x": "a"}, dry_run=True).ok
    sock = _Socket(b"POST / HTTP/2.0\r\n\r\n")
    receiver_module._Handler(sock, ("127.0.0.1", 1), SERVER)
    assert sock.sent.startswith(b"HTTP/1.1 400"), sock.sent[:40]
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
