"""Store a finished batch: each prediction and its usage event, in one transaction.

The usage event's idempotency key is the prediction id, so a task that is
redelivered after a crash rewrites the same prediction and bills nothing more.
Rows are written per tenant (row-level security checks each statement against
its tenant) but all in one transaction for the whole batch.
"""

from __future__ import annotations

import os
from functools import lru_cache
from itertools import groupby
from pathlib import Path

from django.db import transaction
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


def _prediction(tenant: Tenant, payload: dict, outcome: dict, now) -> Prediction:
    return Prediction(tenant=tenant, public_id=payload["prediction_id"],
                      model_ref=payload["model"]["id"], status=outcome["status"],
                      image_count=payload["shape"][0], top_k=payload["top_k"],
                      results=outcome.get("results"), error=outcome.get("error"),
                      api_key_ref=payload["api_key_ref"], completed_at=now)


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
                Prediction.objects.bulk_create(
                    [_prediction(tenant, payload, outcome, now) for payload, outcome in pairs],
                    update_conflicts=True, unique_fields=["tenant", "public_id"],
                    update_fields=["status", "results", "error", "completed_at"])
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
