"""Liveness probe of the web container: exit 0 when ``/healthz`` answers.

``/healthz`` is liveness only: 200 ``{"status": "ok"}`` whenever this web
process serves requests, without touching the database or Redis, which is all
a container health check should decide (restarting the web cannot bring back a
GPU worker; the stack's report is the operators' ``/healthz/details``).  A 503
with a report is still taken as alive, as the older ``/healthz`` answered.
Anything else (no answer, a timeout, a 400 from a host missing in
``ALLOWED_HOSTS``, a 500) is unhealthy.  Standard library only, so it runs in
any image.

Usage: ``python healthcheck.py [URL]``
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz"
ALIVE_STATUSES = frozenset({200, 503})
TIMEOUT_S = 5


def probe(url: str, *, timeout: float = TIMEOUT_S) -> tuple[bool, str]:
    """Whether ``url`` answered like ``/healthz`` does, and a one-line reason."""
    request = urllib.request.Request(url, headers={"Host": "localhost"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:  # 503 and every other non-2xx answer
        status, body = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        return False, f"no answer: {error}"
    if status not in ALIVE_STATUSES:
        return False, f"HTTP {status}"
    try:
        overall = json.loads(body)["status"]
    except (ValueError, KeyError, TypeError):
        return False, f"HTTP {status} without a health report"
    return True, f"HTTP {status}, stack {overall}"


def main(argv: list[str]) -> int:
    alive, reason = probe(argv[0] if argv else DEFAULT_URL)
    print(reason)
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
