r"""JSON Schema `pattern`s matched in linear time (RE2), with `$` as ECMA-262's end of the string.

Python's `re` backtracks: `^(a+)+$` against `"aaaa...!"` takes exponential time, and a pattern in
an automation's `inputs` or a third party's schema would block a `relaykit serve` worker. RE2
(google-re2) never backtracks, and its syntax is close to ECMA-262's: `\d` and `\w` are ASCII as
in ECMA-262, and without the multi-line flag `$` matches only at the very end of the text (Python's
also matches before a final newline). What RE2 cannot match in bounded time (lookahead,
lookbehind, backreferences) is refused with `PatternError` when the schema is loaded.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2

__all__ = ["PatternError", "SafePattern", "compile_pattern"]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print each refused pattern to stderr
_OPTIONS.max_mem = 8 << 20  # a huge pattern fails to compile instead of taking memory
_UNICODE_ESCAPE = re.compile(r"(\\+)u([0-9A-Fa-f]{4})")
_SURROGATE = re.compile("[\ud800-\udfff]")
# google-re2's own compiled object and anchor, used by `SafePattern.found`; absent in some other
# version of the wrapper, `found` falls back to `search`.
_UNANCHORED = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
_NO_SPAN = (-1, -1)


class PatternError(ValueError):
    """A `pattern` that is invalid or needs a feature RE2 does not have (so no bounded match time)."""


class SafePattern:
    """A compiled pattern: `search(text)` is a match or None, in time linear in the text."""

    __slots__ = ("_raw", "_regex", "pattern")

    def __init__(self, pattern: str, regex: Any) -> None:
        self.pattern = pattern
        self._regex = regex
        self._raw = getattr(regex, "_regexp", None) if _UNANCHORED is not None else None

    def search(self, text: str) -> Any:
        try:
            return self._regex.search(text)
        except UnicodeEncodeError:  # a lone surrogate (e.g. from a JSON "\ud800" escape) cannot be UTF-8
            return self._regex.search(_SURROGATE.sub("\ufffd", text))

    def found(self, text: str) -> bool:
        """Whether the pattern occurs in `text`: `search(text) is not None`, without building a match object.

        google-re2's `search` maps byte offsets back to characters in Python for every call (about
        2-4 µs); validation needs only the verdict, so this asks RE2 directly (well under 1 µs).
        """
        if self._raw is None:
            return self.search(text) is not None
        try:
            encoded = text.encode("utf-8")
        except UnicodeEncodeError:
            encoded = _SURROGATE.sub("\ufffd", text).encode("utf-8")
        return self._raw.Match(_UNANCHORED, encoded, 0, len(encoded))[0] != _NO_SPAN

    def __repr__(self) -> str:
        return f"SafePattern({self.pattern!r})"


def _ecma_to_re2(pattern: str) -> str:
    r"""`\uXXXX` (ECMA-262) becomes `\x{XXXX}` (RE2); an escaped backslash before it is left alone."""
    def swap(match: re.Match[str]) -> str:
        slashes = match.group(1)
        if len(slashes) % 2 == 0:
            return match.group(0)
        return slashes[:-1] + "\\x{" + match.group(2) + "}"

    return _UNICODE_ESCAPE.sub(swap, pattern)


@lru_cache(maxsize=2048)
def compile_pattern(pattern: str) -> SafePattern:
    """The pattern compiled for RE2, or `PatternError` saying why it cannot be matched safely."""
    if not isinstance(pattern, str):
        raise PatternError("a pattern must be a string")
    try:
        return SafePattern(pattern, re2.compile(_ecma_to_re2(pattern), _OPTIONS))
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(_explain(reason)) from None


def _explain(reason: str) -> str:
    if "perl operator" in reason and "(?" in reason:
        return "uses lookahead or lookbehind, which cannot be matched in bounded time (RE2 has neither)"
    if "escape sequence: \\" in reason and reason.rstrip()[-1:].isdigit():
        return "uses a backreference, which cannot be matched in bounded time (RE2 has none)"
    head = reason.split(":", 1)[0]
    return f"is not a valid regular expression ({head})"
