"""Stripe webhooks: receive into the inbox, process later, exactly once, in any order.

Receiving (the web process) checks the signature on the raw bytes and stores
the event under its id; a redelivered event inserts nothing and is not
processed again.  Processing (a Celery task) locks the inbox row, applies the
event and marks it processed in one transaction, so the effect and the
de-duplication commit together.

Stripe delivers at least once and in any order.  ``data.object`` is treated as
a snapshot taken at the event's ``created`` time: an invoice snapshot older
than the newest one applied (``Invoice.remote_updated_at``) is ignored, paid
and void are final, and every effect goes through the idempotent services of
billing.services.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import services
from billing.models import BillingAccount, Invoice, StripeEvent
from billing.stripe import stripe_provider
from billing.stripe.provider import INVOICE_KEY
from billing.stripe.signature import verify_webhook
from core.context import tenant_context
from tenants.audit import audit
from tenants.models import Tenant
from tenants.scoping import unscoped

logger = logging.getLogger(__name__)
ACTOR = "stripe"
# The task (billing.tasks) that applies a stored event, sent by name after commit.
PROCESS_EVENT_TASK = "billing.process_stripe_event"
_INVOICE_EVENTS = {
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.voided",
    "invoice.updated",
    "invoice.finalized",
    "invoice.marked_uncollectible",
}


def stripe_event_receive(payload: bytes, signature: str | None) -> tuple[StripeEvent, bool]:
    """Verify and store one webhook; ``(row, new)``.  Raises ``WebhookSignatureError``.

    A new event is handed to the processing task after commit.
    """
    event = verify_webhook(payload, signature, settings.STRIPE_WEBHOOK_SECRETS)
    created = datetime.fromtimestamp(int(event.get("created") or 0), tz=UTC)
    try:
        with transaction.atomic():
            row = StripeEvent.objects.create(
                event_id=event["id"], type=event.get("type", ""), created=created, payload=event
            )
    except IntegrityError:
        return StripeEvent.objects.get(event_id=event["id"]), False
    transaction.on_commit(lambda: _enqueue(row.event_id))
    return row, True


def _enqueue(event_id: str) -> None:
    current_app.send_task(PROCESS_EVENT_TASK, args=[event_id])


def stripe_event_process(event_id: str) -> str:
    """Apply one stored event once; returns what was done (also stored as ``outcome``)."""
    with transaction.atomic():
        row = StripeEvent.objects.select_for_update().get(event_id=event_id)
        if row.processed_at is not None:
            return row.outcome
        outcome = _apply(row)
        row.processed_at, row.outcome = timezone.now(), outcome[:200]
        row.save(update_fields=["processed_at", "outcome"])
    logger.info("billing: stripe event %s (%s): %s", row.event_id, row.type, outcome)
    return outcome


def _apply(row: StripeEvent) -> str:
    obj = (row.payload.get("data") or {}).get("object") or {}
    if row.type == "setup_intent.succeeded":
        return _setup_intent_succeeded(obj)
    if row.type not in _INVOICE_EVENTS:
        return "ignored: not an event we act on"
    tenant = _tenant_of_customer(obj.get("customer"))
    if tenant is None:
        return f"ignored: unknown customer {obj.get('customer')}"
    with tenant_context(tenant):
        return _apply_invoice_snapshot(tenant, row, obj)


def _tenant_of_customer(customer_id: str | None) -> Tenant | None:
    if not customer_id:
        return None
    with unscoped(reason="billing: resolve the tenant of a Stripe webhook's customer"):
        tenant_id = (
            BillingAccount.objects.filter(stripe_customer_id=customer_id)
            .values_list("tenant_id", flat=True)
            .first()
        )
    return Tenant.objects.filter(pk=tenant_id).first() if tenant_id else None


def _apply_invoice_snapshot(tenant: Tenant, row: StripeEvent, obj: dict) -> str:
    local_id = (obj.get("metadata") or {}).get(INVOICE_KEY)
    invoice = (
        Invoice.objects.filter(tenant=tenant, public_id=local_id).first()
        if local_id
        else Invoice.objects.filter(tenant=tenant, provider_invoice_id=obj.get("id")).first()
    )
    if invoice is None:
        return f"ignored: no local invoice for {obj.get('id')}"
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.remote_updated_at is not None and row.created < invoice.remote_updated_at:
        return f"stale: {invoice.public_id} has a newer snapshot"
    Invoice.objects.filter(pk=invoice.pk).update(
        remote_status=obj.get("status", ""),
        remote_updated_at=row.created,
        provider_invoice_id=invoice.provider_invoice_id or obj.get("id", ""),
    )
    status = obj.get("status")
    if status == "paid":
        if invoice.status == Invoice.Status.VOID:
            return f"conflict: {invoice.public_id} is void here, paid in Stripe"
        services.invoice_mark_paid(tenant, actor=ACTOR, invoice=invoice, at=row.created)
        return f"paid: {invoice.public_id}"
    if status == "void":
        if invoice.status == Invoice.Status.PAID:
            return f"conflict: {invoice.public_id} is paid here, void in Stripe"
        services.invoice_void(tenant, actor=ACTOR, invoice=invoice, reason="voided in Stripe")
        return f"void: {invoice.public_id}"
    if row.type == "invoice.payment_failed":
        services.invoice_payment_failed(
            tenant, actor=ACTOR, invoice=invoice, at=row.created, code=_failure_code(obj)
        )
        return f"payment failed: {invoice.public_id}"
    return f"recorded: {invoice.public_id} is {status}"


def _failure_code(obj: dict) -> str:
    error = obj.get("last_finalization_error") or {}
    return str(error.get("code") or "payment_failed")


def _setup_intent_succeeded(obj: dict) -> str:
    tenant = _tenant_of_customer(obj.get("customer"))
    method = obj.get("payment_method")
    if tenant is None or not method:
        return "ignored: setup intent without a known customer or payment method"
    stripe_provider().set_default_payment_method(obj["customer"], method)
    with tenant_context(tenant):
        audit(tenant, actor=ACTOR, action="billing.payment_method_set", target=method)
    return f"payment method {method} is the default"
