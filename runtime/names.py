"""Close-match suggestions for mistyped names ("did you mean"), shared by every layer."""

from __future__ import annotations

import difflib
from collections.abc import Iterator


def suggest(name: str, candidates: Iterator[str] | list[str], n: int = 3) -> list[str]:
    """Close matches for a mistyped name ("did you mean")."""
    return difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.6)
