"""Close-match suggestions for mistyped names ("did you mean"), shared by every layer."""

from __future__ import annotations

import difflib
from collections.abc import Iterator


def suggest(name: str, candidates: Iterator[str] | list[str], n: int = 3) -> list[str]:
    """Close matches for a mistyped name ("did you mean")."""
    return difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.6)


def did_you_mean(matches: list[str]) -> str | None:
    """The hint for close matches: `did you mean 'a' or 'b'?` (None when there are none)."""
    return ("did you mean " + " or ".join(repr(m) for m in matches) + "?") if matches else None
