"""Store a finished batch: each prediction and its usage event, in one transaction.

The usage event's idempotency key is the prediction id, so a task that is
redelivered after a crash rewrites the same prediction and bills nothing more.
Rows are written per tenant (row-level security checks each statement against
its tenant) but all in one transaction for the whole batch.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from itertools import groupby
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from billing.usage import UsageDraft, usage_record
from inference.models import Prediction
from tenants.context import tenant_context
from tenants.models import Tenant

# Test-only fault injection: crash the worker once, right after a batch commits
# and before its messages are acknowledged (tests/inference/test_worker_crash.py).
_CRASH_MARKER = os.environ.get("MODELHOUSE_FAULT_CRASH_AFTER_COMMIT")


@lru_cache(maxsize=4096)
def _tenant(tenant_id: int) -> Tenant:
    return Tenant.objects.get(pk=tenant_id)


_PREDICTION_COLUMNS = ("tenant_id", "public_id", "created_at", "model_ref", "status",
                       "image_count", "top_k", "results", "error", "api_key_ref",
                       "completed_at")
_ROW = "(" + ", ".join(["%s"] * len(_PREDICTION_COLUMNS)) + ")"


def _json(value) -> str | None:
    return None if value is None else json.dumps(value)


def _store_predictions(tenant: Tenant, pairs: list[tuple[dict, dict]], now) -> None:
    """One multi-row upsert: a synchronous call's row is new; an asynchronous
    one's was created ``queued`` by the web process and is completed here."""
    params: list = []
    for payload, outcome in pairs:
        params += [tenant.pk, payload["prediction_id"], now, payload["model"]["id"],
                   outcome["status"], payload["shape"][0], payload["top_k"],
                   _json(outcome.get("results")), _json(outcome.get("error")),
                   payload["api_key_ref"], now]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO inference_prediction ({', '.join(_PREDICTION_COLUMNS)}) "  # noqa: S608
            f"VALUES {', '.join([_ROW] * len(pairs))} "
            "ON CONFLICT (tenant_id, public_id) DO UPDATE SET status = EXCLUDED.status, "
            "results = EXCLUDED.results, error = EXCLUDED.error, "
            "completed_at = EXCLUDED.completed_at", params)


def _usage(payload: dict, now) -> UsageDraft:
    return UsageDraft(meter=payload["meter"], quantity=payload["shape"][0], occurred_at=now,
                      idempotency_key=f"prediction:{payload['prediction_id']}",
                      source=f"prediction:{payload['prediction_id']}",
                      model_ref=payload["model"]["id"], api_key_ref=payload["api_key_ref"])


def record_outcomes(outcomes: list[tuple[dict, dict]]) -> None:
    """``outcomes``: (task payload, {"status", "results" | "error"}) pairs."""
    now = timezone.now()
    ordered = sorted(outcomes, key=lambda pair: pair[0]["tenant_id"])
    with transaction.atomic():
        for tenant_id, group in groupby(ordered, key=lambda pair: pair[0]["tenant_id"]):
            tenant = _tenant(tenant_id)
            pairs = list(group)
            with tenant_context(tenant):
                _store_predictions(tenant, pairs, now)
                usage_record(tenant, [_usage(payload, now) for payload, outcome in pairs
                                      if outcome["status"] == Prediction.Status.SUCCEEDED])
    if _CRASH_MARKER and Path(_CRASH_MARKER).exists():
        Path(_CRASH_MARKER).unlink()
        os._exit(1)


def stored_prediction(payload: dict) -> Prediction | None:
    """The prediction a payload already produced, if it succeeded."""
    with tenant_context(_tenant(payload["tenant_id"])):
        return Prediction.objects.filter(public_id=payload["prediction_id"],
                                         status=Prediction.Status.SUCCEEDED).first()
