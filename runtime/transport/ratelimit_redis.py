"""`RedisStore`: the places of `relaykit.transport.ratelimit`, kept in Redis and shared by processes and machines.

Every decision is one Lua script, so it is atomic across clients, and reads Redis's own clock
(`TIME`), so machines whose clocks disagree still agree on the windows. Per key there is a sorted
set of held leases (score: booked start), one of ended attempts (score: end), and a hash with the
pause and the longest window and hold seen; all three expire when idle. The booking rule is
`relaykit.transport.ratelimit.book`, written again in Lua. Install with `pip install 'relaykit[redis]'`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import redis

from ..errors import TransportError
from .ratelimit import RELEASE_POLL, Decision, Window, new_lease

_PRELUDE = """
local function clock(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function f(x) return string.format('%.6f', x) end
local function expire_all(ms)
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], math.ceil(ms)) end
end
"""

# KEYS: held, done, meta. ARGV: now ('' = Redis TIME), max_wait ('' = none), hold, lease, then
# requests, seconds for each window. Returns {lease or '', wait, busy (0/1)}.
_ACQUIRE = _PRELUDE + """
local now = clock(ARGV[1])
local max_wait = tonumber(ARGV[2])
local hold = tonumber(ARGV[3])
local meta = redis.call('HMGET', KEYS[3], 'paused_until', 'horizon', 'hold')
local paused = tonumber(meta[1]) or 0
local horizon = tonumber(meta[2]) or 0
local max_hold = math.max(tonumber(meta[3]) or 0, hold)
for i = 5, #ARGV, 2 do horizon = math.max(horizon, tonumber(ARGV[i + 1])) end
-- leases never released (a crashed or hung caller) count as ended at their expiry
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', f(now - max_hold), 'WITHSCORES')
for i = 1, #stale, 2 do
  redis.call('ZADD', KEYS[2], f(tonumber(stale[i + 1]) + max_hold), stale[i])
  redis.call('ZREM', KEYS[1], stale[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. f(now - horizon))
local held = redis.call('ZCARD', KEYS[1])
local start = math.max(now, paused)
local busy_from = nil
for i = 5, #ARGV, 2 do
  local requests, seconds = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if held >= requests then
    local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    local lower = math.max(now, tonumber(first[2])) + seconds
    busy_from = math.max(busy_from or lower, lower)
  else
    local ended = redis.call('ZREVRANGE', KEYS[2], requests - 1 - held, requests - 1 - held, 'WITHSCORES')
    if #ended > 0 then start = math.max(start, tonumber(ended[2]) + seconds) end
  end
end
if busy_from then
  local wait = math.max(start, busy_from) - now
  if max_wait and wait > max_wait then return {'', f(wait), 0} end
  return {'', f(wait), 1}
end
local wait = start - now
if max_wait and wait > max_wait then return {'', f(wait), 0} end
redis.call('ZADD', KEYS[1], f(start), ARGV[4])
redis.call('HSET', KEYS[3], 'horizon', f(horizon), 'hold', f(max_hold))
expire_all((wait + horizon + max_hold + math.max(paused - now, 0)) * 1000 + 1000)
return {ARGV[4], f(wait), 0}
"""

# KEYS: held, done, meta. ARGV: now, lease.
_RELEASE = _PRELUDE + """
local now = clock(ARGV[1])
local start = redis.call('ZSCORE', KEYS[1], ARGV[2])
local ended = now
if start then
  ended = math.max(now, tonumber(start))
  redis.call('ZREM', KEYS[1], ARGV[2])
end
-- an expired lease already counted at its expiry: this moves it to now (later, so safe)
redis.call('ZADD', KEYS[2], f(ended), ARGV[2])
local horizon = tonumber(redis.call('HGET', KEYS[3], 'horizon')) or 0
redis.call('PEXPIRE', KEYS[2], math.ceil((ended - now + horizon) * 1000 + 1000))
return 1
"""

# KEYS: held, done, meta. ARGV: now, seconds.
_PAUSE = _PRELUDE + """
local now = clock(ARGV[1])
local until_ = now + tonumber(ARGV[2])
local paused = tonumber(redis.call('HGET', KEYS[3], 'paused_until')) or 0
if until_ > paused then
  redis.call('HSET', KEYS[3], 'paused_until', f(until_))
  local ttl = redis.call('PTTL', KEYS[3])
  redis.call('PEXPIRE', KEYS[3], math.max(ttl, math.ceil(tonumber(ARGV[2]) * 1000 + 1000)))
end
return 1
"""


class RedisStore:
    """Rate-limit places in Redis: `Runtime(rate_limit_store=RedisStore("redis://127.0.0.1:6379/0"))`.

    Args:
        client: a `redis.Redis` or a URL for `redis.Redis.from_url`.
        prefix: key prefix, so several deployments can share one Redis.
        clock: read time from this instead of Redis (tests on a fake clock); None: Redis `TIME`.

    A Redis that cannot be reached fails the call with `TransportError` before anything is sent.
    """

    def __init__(self, client: redis.Redis | str, *, prefix: str = "relaykit:ratelimit:",
                 clock: Callable[[], float] | None = None) -> None:
        self.client = redis.Redis.from_url(client) if isinstance(client, str) else client
        self.prefix = prefix
        self._clock = clock
        self._acquire = self.client.register_script(_ACQUIRE)
        self._release = self.client.register_script(_RELEASE)
        self._pause = self.client.register_script(_PAUSE)

    def __repr__(self) -> str:  # the client's repr may show a password in its URL
        return f"RedisStore(prefix={self.prefix!r})"

    def _keys(self, key: str) -> list[str]:
        base = f"{self.prefix}{{{key}}}"  # one hash slot per key, so the script also runs on a cluster
        return [f"{base}:held", f"{base}:done", f"{base}:meta"]

    def _now(self) -> str:
        return "" if self._clock is None else f"{self._clock():.6f}"

    def _run(self, script: Any, key: str, args: list[Any]) -> Any:
        try:
            return script(keys=self._keys(key), args=args)
        except redis.RedisError as exc:
            raise TransportError(f"the shared rate-limit store is unreachable ({type(exc).__name__}); "
                                 "nothing was sent") from None

    def acquire(self, key: str, windows: Sequence[Window], *, max_wait: float | None, hold: float) -> Decision:
        args: list[Any] = [self._now(), "" if max_wait is None else f"{max_wait:.6f}", f"{hold:.6f}", new_lease()]
        for window in windows:
            args += [window.requests, f"{window.seconds:.6f}"]
        lease, wait, busy = self._run(self._acquire, key, args)
        lease = lease.decode() if isinstance(lease, bytes) else lease
        return Decision(lease or None, max(float(wait), 0.0), busy=bool(busy))

    def release(self, key: str, lease: str) -> None:
        self._run(self._release, key, [self._now(), lease])

    def pause(self, key: str, seconds: float) -> None:
        self._run(self._pause, key, [self._now(), f"{seconds:.6f}"])

    def wait_for_release(self, key: str, timeout: float) -> None:
        time.sleep(min(max(timeout, 0.0), RELEASE_POLL / 5))
