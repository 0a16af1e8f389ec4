"""Atomic rate limits in Redis (GCRA), per API key and per tenant at once.

DRF's throttles read-then-write and race under concurrency; this script checks
and updates every bucket of a request in one atomic step, using Redis' own
clock.  A denied request consumes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from core.redis import Use, client

_GCRA = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local allowed, retry_ms, best = 1, 0, nil
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local capacity = tonumber(ARGV[2 * i])
  local tolerance = interval * capacity
  local tat = tonumber(redis.call('GET', key)) or now_ms
  if tat < now_ms then tat = now_ms end
  local new_tat = tat + interval
  local allow_at = new_tat - tolerance
  local remaining, reset_ms
  if allow_at > now_ms then
    allowed = 0
    retry_ms = math.max(retry_ms, allow_at - now_ms)
    remaining, reset_ms = 0, tat - now_ms
  else
    remaining = math.floor((tolerance - (new_tat - now_ms)) / interval)
    reset_ms = new_tat - now_ms
  end
  tats[i] = new_tat
  if best == nil or remaining < best[2] then best = {capacity, remaining, reset_ms} end
end
if allowed == 1 then
  for i, key in ipairs(KEYS) do
    redis.call('SET', key, tats[i], 'PX', math.max(1, tats[i] - now_ms))
  end
end
return {allowed, best[1], best[2], retry_ms, best[3]}
"""


@dataclass(frozen=True)
class Bucket:
    key: str
    per_minute: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int
    reset_s: int

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


@cache
def _script():
    return client(Use.COUNTERS).register_script(_GCRA)


def check(buckets: list[Bucket]) -> Decision:
    """Take one request from every bucket, or from none if any is empty."""
    args: list[int] = []
    for bucket in buckets:
        args += [max(1, 60_000 // max(1, bucket.per_minute)), bucket.per_minute]
    allowed, limit, remaining, retry_ms, reset_ms = _script()(
        keys=[f"rl:{bucket.key}" for bucket in buckets], args=args
    )
    return Decision(
        allowed=bool(allowed),
        limit=int(limit),
        remaining=max(0, int(remaining)),
        retry_after_s=max(1, -(-int(retry_ms) // 1000)) if not allowed else 0,
        reset_s=max(0, -(-int(reset_ms) // 1000)),
    )
