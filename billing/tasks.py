"""Billing's Celery tasks (queue ``default``): interfaces that call one service each.

Stable ``billing.*`` names, JSON ids only, time limits, idempotent by state.
A task for one tenant loads it and enters its context first.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from billing import services
from billing.ledger.periods import parse_period, period_containing
from billing.ledger.rollup import rollup_usage as rollup_service
from billing.models import CreditNote, Invoice, StripeEvent
from billing.pricing import closing
from billing.pricing.closing import close_period as close_period_service
from billing.spend import alerts, enforcement
from billing.stripe import refunds, webhooks
from billing.stripe import sync as stripe_sync
from billing.stripe.reconcile import reconcile_stripe as reconcile_service
from core.context import tenant_context
from tenants.models import Tenant

logger = logging.getLogger(__name__)
_LIMITS = {"soft_time_limit": 540, "time_limit": 600}
_INBOX_RETRY_AFTER = timedelta(minutes=5)


@contextmanager
def _tenant(tenant_id: int):
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        yield tenant


@shared_task(name="billing.rollup_usage", **_LIMITS)
def rollup_usage() -> dict:
    result = rollup_service()
    for tenant_id in result.tenant_ids:
        check_spend_alerts.delay(tenant_id)
    return {
        "rows": result.rows,
        "tenants": len(result.tenant_ids),
        "horizon": result.horizon,
    }


@shared_task(name="billing.check_spend_alerts", **_LIMITS)
def check_spend_alerts(tenant_id: int) -> int:
    with _tenant(tenant_id) as tenant:
        return len(alerts.spend_alerts_check(tenant, now=timezone.now()))


@shared_task(name="billing.close_period", **_LIMITS)
def close_period(period: str, tenant_id: int | None = None) -> dict:
    tenant = Tenant.objects.get(pk=tenant_id) if tenant_id else None
    result = close_period_service(parse_period(period), tenant=tenant)
    return {
        "period": period,
        "created": list(result.created),
        "already_closed": result.already_closed,
        "superseded": list(result.superseded),
    }


@shared_task(name="billing.close_previous_period", **_LIMITS)
def close_previous_period() -> dict:
    """Beat: close last month (a no-op once done)."""
    return close_period(period_containing(timezone.now()).previous().label)


@shared_task(
    name=closing.SYNC_INVOICE_TASK,
    autoretry_for=(Exception,),
    retry_backoff=60,
    max_retries=8,
    **_LIMITS,
)
def sync_invoice(tenant_id: int, invoice_id: int) -> str:
    with _tenant(tenant_id) as tenant:
        invoice = Invoice.objects.get(pk=invoice_id)
        return stripe_sync.invoice_sync(tenant, invoice).status


@shared_task(
    name=services.REFUND_TASK,
    autoretry_for=(Exception,),
    retry_backoff=60,
    max_retries=8,
    **_LIMITS,
)
def refund_credit_note(tenant_id: int, credit_note_id: int) -> str:
    """Scheduled after commit when a credit note on a paid Stripe invoice takes effect
    (billing.services.credit_notes: issued at once, or approved by a second staff member)."""
    with _tenant(tenant_id) as tenant:
        note = CreditNote.objects.select_related("invoice").get(pk=credit_note_id)
        return refunds.credit_note_refund(tenant, note).provider_refund_id


@shared_task(
    name=webhooks.PROCESS_EVENT_TASK,
    autoretry_for=(Exception,),
    retry_backoff=30,
    max_retries=8,
    **_LIMITS,
)
def process_stripe_event(event_id: str) -> str:
    return webhooks.stripe_event_process(event_id)


@shared_task(name="billing.sweep_stripe_inbox", **_LIMITS)
def sweep_stripe_inbox() -> int:
    """Beat: re-enqueue events whose processing never finished (a lost task)."""
    stale = timezone.now() - _INBOX_RETRY_AFTER
    pending = list(
        StripeEvent.objects.filter(processed_at__isnull=True, received_at__lt=stale).values_list(
            "event_id", flat=True
        )[:1000]
    )
    for event_id in pending:
        process_stripe_event.delay(event_id)
    return len(pending)


@shared_task(name="billing.enforce_grace_periods", **_LIMITS)
def enforce_grace_periods() -> list[str]:
    return services.suspend_after_grace()


@shared_task(name="billing.release_expired_holds", **_LIMITS)
def release_expired_holds() -> int:
    return enforcement.release_expired()


@shared_task(name="billing.reconcile_stripe", **_LIMITS)
def reconcile_stripe() -> int:
    if settings.BILLING_PROVIDER != "stripe":
        return 0
    differences = reconcile_service()
    for difference in differences:
        logger.warning("billing reconciliation: %s", difference)
    return len(differences)
