"""``GET /healthz``: database, Redis and the workers of every queue."""

from __future__ import annotations

from django.db import connection
from django.http import JsonResponse

from core import worker_health


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return f"error: {exc.__class__.__name__}"


def healthz(request):
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
