"""Claims in Redis that keep an unsafe task at most once, whatever the broker redelivers.

`acks_late` makes the broker hand a task to another worker when its worker dies, and a Redis
broker also redelivers a task held longer than its visibility timeout. For a keyed or safe
operation that is what we want; an unsafe one (a broadcast trigger, a transactional send) must
not go out twice. So before it sends, a task takes the claim of its task id (`SET NX`); a
delivery that finds the claim taken does not send. A claim is released only when nothing can
have been sent (refused before sending, or a 429 / client-side rate-limit wait), so the task's
own retry may take it again.
"""

from __future__ import annotations

from typing import Any

import redis

from ..errors import TransportError

SENDING = "sending"  # taken: a call is (or was, if its worker died) in progress
SETTLED = "settled"  # the call ended and may have reached the server: never send again
DEFAULT_TTL = 7 * 24 * 3600  # longer than any broker keeps a task for redelivery


class RedisClaims:
    """One claim per task id: `take` before sending, then `settle` (maybe sent) or `release` (surely not)."""

    def __init__(self, client: redis.Redis | str, *, prefix: str = "relaykit:celery:claim:",
                 ttl: int = DEFAULT_TTL) -> None:
        self.client = redis.Redis.from_url(client) if isinstance(client, str) else client
        self.prefix = prefix
        self.ttl = ttl

    def __repr__(self) -> str:  # the client's repr may show a password in its URL
        return f"RedisClaims(prefix={self.prefix!r})"

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except redis.RedisError as exc:
            raise TransportError(f"the claim store is unreachable ({type(exc).__name__}); nothing was sent",
                                 retryable=True) from None

    def take(self, task_id: str) -> bool:
        """True if this delivery may send; False if an earlier delivery of the task took the claim."""
        return bool(self._call("set", self.prefix + task_id, SENDING, nx=True, ex=self.ttl))

    def settle(self, task_id: str) -> None:
        self._call("set", self.prefix + task_id, SETTLED, ex=self.ttl)

    def release(self, task_id: str) -> None:
        self._call("delete", self.prefix + task_id)

    def state(self, task_id: str) -> str | None:
        value = self._call("get", self.prefix + task_id)
        return value.decode() if isinstance(value, bytes) else value
