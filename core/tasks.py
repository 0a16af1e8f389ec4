"""The kernel's Celery task: purging expired idempotency records.

Beat runs it hourly on queue ``default`` (saas/celery.py routes every name but
``inference.*`` and ``training.*`` there).  Running it twice, or two at once, is
harmless: each run deletes only what has expired.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from celery import shared_task
from django.apps import apps
from django.conf import settings
from django.utils import timezone

from core.context import tenant_context
from core.models import IdempotencyRecord

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
# Work stops between batches once this is spent, well inside the soft time limit,
# so a cut-short run ends cleanly; the next run goes on where it left off.
BUDGET_S = 240


@shared_task(name="core.purge_idempotency_records", soft_time_limit=270, time_limit=300)
def purge_idempotency_records(batch_size: int = BATCH_SIZE, budget_s: float = BUDGET_S) -> dict:
    """Delete the records older than ``IDEMPOTENCY_TTL_HOURS`` of every tenant.

    Tenant by tenant, each in its own context, as that tenant's requests see
    them: isolation is never lifted, so no unscoped (audited) access is needed
    and the kernel imports no app.  That costs one indexed query per tenant and
    run.  Each batch's DELETE is its own short transaction, so a large backlog
    never holds a long transaction or many locks.
    """
    horizon = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    deadline = time.monotonic() + budget_s
    tenant_model = apps.get_model(settings.TENANT_MODEL)  # a global table: no context needed
    deleted = 0
    for tenant in tenant_model._default_manager.only("pk").order_by("pk"):
        with tenant_context(tenant):
            while True:
                if time.monotonic() >= deadline:
                    logger.warning("Idempotency purge cut short after %d records.", deleted)
                    return {"deleted": deleted, "finished": False}
                batch = _delete_expired(horizon, batch_size)
                deleted += batch
                if batch < batch_size:
                    break
    return {"deleted": deleted, "finished": True}


def _delete_expired(horizon: datetime, limit: int) -> int:
    """Delete up to ``limit`` of the current tenant's records created before ``horizon``."""
    # DELETE has no LIMIT in PostgreSQL.  The ids are read first (a range scan
    # on the (tenant, created_at) index), then deleted by primary key: two plain
    # plans, where one DELETE ... IN (subquery) leaves the choice to the planner.
    expired = IdempotencyRecord.objects.filter(created_at__lt=horizon).order_by("created_at")
    ids = list(expired.values_list("pk", flat=True)[:limit])
    if ids:
        IdempotencyRecord.objects.filter(pk__in=ids).delete()
    return len(ids)
