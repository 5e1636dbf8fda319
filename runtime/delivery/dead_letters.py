"""The dead-letter file of a bulk run: one JSON line per item that did not land, readable as input again.

Each line is `{"relaykit_dead_letter": 1, "index", "item", "error", "reason", "attempts"}`. `item` is
the input as it was sent, its dedupe id (event `id`, `messageId`) already fixed, so feeding the file
back to `relaykit bulk` resends each item with the id it had and the API counts it once.
"""

from __future__ import annotations

import json
import threading
from typing import IO, Any

from .pool import ItemOutcome

DEAD_LETTER_KEY = "relaykit_dead_letter"


def unwrap(value: Any) -> Any:
    """A dead-letter record's `item`; any other value as it is."""
    if isinstance(value, dict) and value.get(DEAD_LETTER_KEY) == 1 and "item" in value:
        return value["item"]
    return value


def dead_letter_record(item: Any, outcome: ItemOutcome, attempts: int) -> dict[str, Any]:
    """One dead-letter line's content."""
    return {DEAD_LETTER_KEY: 1, "index": outcome.index, "item": item, "error": outcome.error,
            "reason": outcome.message, "attempts": attempts}


class DeadLetterFile:
    """Appends dead letters to a JSONL file, one flushed line each, from any thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.count = 0
        self._lock = threading.Lock()
        self._stream: IO[str] = open(path, "a", encoding="utf-8")

    def __call__(self, item: Any, outcome: ItemOutcome, attempts: int = 0) -> None:
        line = json.dumps(dead_letter_record(item, outcome, attempts), ensure_ascii=False, default=str)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()
            self.count += 1

    def close(self) -> None:
        with self._lock:
            self._stream.close()

    def __enter__(self) -> DeadLetterFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
