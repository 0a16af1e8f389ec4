"""When to retry a request and how long to wait first.

Retrying is safe for every method the client sends: GETs and DELETEs are
idempotent, the client's PUTs and PATCHes set absolute values, and every POST
carries an ``Idempotency-Key`` that stays the same across its retries, so the
server does the work at most once and replays its first answer.

The clients wait between attempts through :data:`sleep` and :data:`async_sleep`,
looked up on this module at each retry: tests replace them with a recorder so
that retries cost no time (``monkeypatch.setattr(modelhouse._retries, "sleep", ...)``).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

DEFAULT_MAX_RETRIES = 3

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# A POST that timed out at a gateway (or a sync prediction past its wait) may still
# finish on the server, which does not keep a 5xx answer for its Idempotency-Key:
# resending it could do the work twice, so it is left to the caller.
NOT_RESENT_POST_STATUSES = frozenset({504})
# A repeat that arrives while the first request with its key is still running.
RETRYABLE_CONFLICT = "idempotency_in_progress"

sleep = time.sleep
async_sleep = asyncio.sleep


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, overridden by the server's ``Retry-After``.

    ``max_retries`` counts retries, not attempts: 3 means up to 4 requests.
    A ``Retry-After`` longer than ``max_retry_after`` is not waited for: the
    error is raised at once, so a client is never parked for an hour.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    initial_backoff: float = 0.5
    max_backoff: float = 20.0
    max_retry_after: float = 120.0

    def should_retry(self, attempt: int, status: int, code: str = "", method: str = "GET") -> bool:
        """Whether the ``attempt``-th retry (0-based) should follow a ``status`` answer."""
        if attempt >= self.max_retries:
            return False
        if method.upper() == "POST" and status in NOT_RESENT_POST_STATUSES:
            return False
        return status in RETRYABLE_STATUSES or (status == 409 and code == RETRYABLE_CONFLICT)

    def backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_backoff, self.initial_backoff * 2**attempt))

    def delay(self, attempt: int, retry_after: str | None = None) -> float | None:
        """Seconds to sleep before retry ``attempt``; ``None`` means do not retry."""
        advised = parse_retry_after(retry_after)
        if advised is None:
            return self.backoff(attempt)
        return advised if advised <= self.max_retry_after else None


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: it is either a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
