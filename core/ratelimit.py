"""Atomic rate limits in Redis (GCRA), per API key and per tenant at once.

DRF's throttles read-then-write and race under concurrency; this script checks
and updates every bucket of a request in one atomic step, using Redis' own
clock.  A denied request consumes nothing.

When Redis cannot answer, no limit can be checked: the request is refused with
a 503 ``service_unavailable`` and ``Retry-After`` (fail closed; never a 500).
:class:`FailureLimit` counts failures (bad API keys, bad log-ins) per client.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings

from core.errors import RateLimited, ServiceUnavailable
from core.redis import Use, client

logger = logging.getLogger(__name__)

# How long a client is told to wait when Redis does not answer.
UNAVAILABLE_RETRY_AFTER_S = 5

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
if allowed == 1 and ARGV[#ARGV] == '1' then
  for i, key in ipairs(KEYS) do
    redis.call('SET', key, tats[i], 'PX', math.max(1, tats[i] - now_ms))
  end
end
return {allowed, best[1], best[2], retry_ms, best[3]}
"""

# Gives one request back to every bucket (the attempt it paid for turned out free).
_REFUND = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key))
  if tat then
    tat = tat - tonumber(ARGV[i])
    if tat <= now_ms then redis.call('DEL', key)
    else redis.call('SET', key, tat, 'PX', tat - now_ms) end
  end
end
return 0
"""


@dataclass(frozen=True)
class Bucket:
    """``limit`` requests per ``period_s`` seconds, and a burst of as many."""

    key: str
    limit: int
    period_s: int = 60

    @property
    def interval_ms(self) -> int:
        return max(1, self.period_s * 1000 // max(1, self.limit))


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


@cache
def _refund_script():
    return client(Use.COUNTERS).register_script(_REFUND)


def _run(script, buckets: list[Bucket], args: list[int]):
    try:
        return script(keys=[f"rl:{bucket.key}" for bucket in buckets], args=args)
    except redis.RedisError as exc:
        logger.warning("rate limits unavailable: %s", exc.__class__.__name__)
        raise ServiceUnavailable(
            "Rate limits cannot be checked right now; retry shortly.",
            code="service_unavailable",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
        ) from None


def check(buckets: list[Bucket], *, consume: bool = True) -> Decision:
    """Take one request from every bucket, or from none if any is empty.

    ``consume=False`` only asks whether one could be taken.  Raises
    ServiceUnavailable (503, ``Retry-After``) when Redis does not answer.
    """
    args: list[int] = []
    for bucket in buckets:
        args += [bucket.interval_ms, bucket.limit]
    allowed, limit, remaining, retry_ms, reset_ms = _run(_script(), buckets, [*args, int(consume)])
    return Decision(
        allowed=bool(allowed),
        limit=int(limit),
        remaining=max(0, int(remaining)),
        retry_after_s=max(1, -(-int(retry_ms) // 1000)) if not allowed else 0,
        reset_s=max(0, -(-int(reset_ms) // 1000)),
    )


def refund(buckets: list[Bucket]) -> None:
    """Give back the request :func:`check` took from every bucket."""
    _run(_refund_script(), buckets, [bucket.interval_ms for bucket in buckets])


def client_ip(request) -> str:
    """The address rate limits key a client by.

    ``REMOTE_ADDR``, unless ``TRUSTED_PROXY_HOPS`` proxies in front of the app each
    append to ``X-Forwarded-For``: then the address the outermost trusted proxy saw
    (anything further left is the client's to forge).  An IPv6 client is its /64,
    the block one subscriber gets.
    """
    address = request.META.get("REMOTE_ADDR", "")
    hops = getattr(settings, "TRUSTED_PROXY_HOPS", 0)
    if hops > 0:
        header = request.META.get("HTTP_X_FORWARDED_FOR", "")
        forwarded = [part.strip() for part in header.split(",") if part.strip()]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


class FailureLimit:
    """At most ``limit`` failures (bad API keys, bad log-ins) per client per ``period_s``.

    ``record`` counts a failure; ``check`` refuses a client past the limit before
    the work a failure costs (a database look-up).  Only clients that failed in
    this process within the period are checked, so a client that never fails
    costs no Redis round trip; a client past the limit meets the check from its
    first failure in each process on.
    """

    _MAX_SUSPECTS = 10_000

    def __init__(self, name: str, *, setting: str, default: int, period_s: int = 60) -> None:
        self.name, self.period_s = name, period_s
        self._setting, self._default = setting, default
        self._suspects: dict[str, float] = {}  # client -> monotonic deadline
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return getattr(settings, self._setting, self._default)

    def bucket(self, who: str) -> Bucket:
        return Bucket(f"fail:{self.name}:{who}", self.limit, self.period_s)

    def check(self, who: str) -> None:
        """429 when ``who`` failed too often; free unless ``who`` failed here lately."""
        with self._lock:
            deadline = self._suspects.get(who)
        if deadline is None or deadline < time.monotonic():
            return
        decision = check([self.bucket(who)], consume=False)
        if not decision.allowed:
            raise self._refusal(decision)

    def record(self, who: str) -> None:
        """Count a failure of ``who``; 429 when it was one too many."""
        decision = check([self.bucket(who)])
        self._suspect(who)
        if not decision.allowed:
            raise self._refusal(decision)

    def _suspect(self, who: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._suspects) >= self._MAX_SUSPECTS:
                self._suspects = {k: v for k, v in self._suspects.items() if v > now}
                if len(self._suspects) >= self._MAX_SUSPECTS:  # all live: forget the oldest half
                    self._suspects = dict(list(self._suspects.items())[self._MAX_SUSPECTS // 2 :])
            self._suspects.pop(who, None)
            self._suspects[who] = now + self.period_s

    @staticmethod
    def _refusal(decision: Decision) -> RateLimited:
        return RateLimited(
            f"Too many failed attempts; retry after {decision.retry_after_s} s.",
            code="too_many_failures",
            headers=decision.headers(),
        )
