"""A bounded, thread-safe record of every API request the sandbox received and what became of it."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

DEFAULT_LIMIT = 100_000
DEFAULT_BODY_LIMIT = 1024 * 1024


class Journal:
    """Keeps the last `limit` entries; bodies longer than `body_limit` bytes are cut and flagged."""

    def __init__(self, limit: int = DEFAULT_LIMIT, body_limit: int = DEFAULT_BODY_LIMIT) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=max(1, limit))
        self._seq = 0
        self.body_limit = body_limit

    def record(
        self,
        *,
        connector: str | None,
        region: str | None,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        status: int | None,
        fault: str | None,
        outcome: str,
        committed: bool = False,
    ) -> dict[str, Any]:
        """Append an entry and return it."""
        text: str | None = None
        truncated = False
        if body:
            cut = body[: self.body_limit]
            truncated = len(body) > len(cut)
            text = cut.decode("utf-8", errors="replace")
        with self._lock:
            self._seq += 1
            entry = {
                "seq": self._seq,
                "time": time.time(),
                "connector": connector,
                "region": region,
                "method": method,
                "target": target,
                "headers": headers,
                "body": text,
                "body_bytes": len(body),
                "body_truncated": truncated,
                "status": status,
                "fault": fault,
                "outcome": outcome,
                "committed": committed,
            }
            self._entries.append(entry)
        return entry

    def entries(self, since: int | None = None) -> list[dict[str, Any]]:
        """Entries with `seq > since` (all when since is None), oldest first."""
        with self._lock:
            items = list(self._entries)
        if since is not None:
            items = [e for e in items if e["seq"] > since]
        return [dict(e) for e in items]

    def outcomes(self) -> dict[str, int]:
        with self._lock:
            return dict(Counter(e["outcome"] for e in self._entries))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._seq = 0
