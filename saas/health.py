"""Health checks.

* ``GET /healthz`` — liveness, public: 200 ``{"status": "ok"}`` when this web
  process serves requests.  It touches neither the database nor Redis and says
  nothing about the stack, so it costs nothing to call and tells a stranger
  nothing; container and load-balancer probes use it.
* ``GET /healthz/details`` — the operator's readiness report: the database,
  Redis and the live workers of every queue; 200 when all are up, otherwise 503
  with the failing part named.  Only for staff users (admin session) or a caller
  sending ``Authorization: Bearer <HEALTH_DETAILS_TOKEN>``; anyone else gets 403
  and no check runs.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from core import worker_health


def healthz(request):
    return JsonResponse({"status": "ok"})


def _is_operator(request) -> bool:
    token = getattr(settings, "HEALTH_DETAILS_TOKEN", "")
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and sent:
        return hmac.compare_digest(sent.strip().encode(), token.encode())
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return f"error: {exc.__class__.__name__}"


def healthz_details(request):
    if not _is_operator(request):
        return JsonResponse({"status": "forbidden"}, status=403)
    checks: dict = {"database": _database()}
    try:
        worker_health.client().ping()
        checks["redis"] = "ok"
        workers = worker_health.live_workers()
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {exc.__class__.__name__}"
        workers = dict.fromkeys(worker_health.QUEUES, 0)
    checks["queues"] = {queue: {"workers": count} for queue, count in workers.items()}
    healthy = checks["database"] == "ok" and checks["redis"] == "ok" and all(workers.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )
