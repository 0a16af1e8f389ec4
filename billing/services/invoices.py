"""Settlement of invoices: paid, void, a failed collection.  Each locks the invoice row
(``select_for_update``), so a webhook and a staff action cannot interleave."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from billing.models import Invoice
from billing.services.accounts import billing_account, tenant_restore_if_settled, tenant_status_set
from core.errors import Conflict
from tenants.audit import audit
from tenants.models import Tenant

Status = Invoice.Status


def invoice_locked(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update().get(tenant_id=invoice.tenant_id, pk=invoice.pk)


@transaction.atomic
def invoice_mark_paid(
    tenant: Tenant, *, actor, invoice: Invoice, at: datetime | None = None
) -> Invoice:
    """Settle an open invoice (finance with the local provider, or Stripe's word).

    Paying again is a no-op; a void invoice cannot be paid.  Paying the last
    overdue invoice brings a past-due or suspended tenant back to active.
    """
    invoice = invoice_locked(invoice)
    if invoice.status == Status.PAID:
        return invoice
    if invoice.status == Status.VOID:
        raise Conflict(
            f"Invoice {invoice.public_id} is void and cannot be paid.", code="invoice_void"
        )
    invoice.status, invoice.paid_at = Status.PAID, at or timezone.now()
    invoice.save(update_fields=["status", "paid_at"])
    audit(
        tenant,
        actor=actor,
        action="invoice.paid",
        target=invoice.public_id,
        amount_minor=invoice.amount_due_minor,
    )
    tenant_restore_if_settled(tenant, actor=actor)
    return invoice


@transaction.atomic
def invoice_void(tenant: Tenant, *, actor, invoice: Invoice, reason: str = "") -> Invoice:
    invoice = invoice_locked(invoice)
    if invoice.status == Status.VOID:
        return invoice
    if invoice.status == Status.PAID:
        raise Conflict(
            f"Invoice {invoice.public_id} is paid; issue a credit note instead.",
            code="invoice_paid",
        )
    invoice.status, invoice.voided_at = Status.VOID, timezone.now()
    invoice.save(update_fields=["status", "voided_at"])
    audit(tenant, actor=actor, action="invoice.voided", target=invoice.public_id, reason=reason)
    tenant_restore_if_settled(tenant, actor=actor)
    return invoice


@transaction.atomic
def invoice_payment_failed(
    tenant: Tenant, *, actor, invoice: Invoice, at: datetime, code: str = ""
) -> Invoice:
    """Record a failed collection: the tenant becomes past due (suspended after the grace)."""
    invoice = invoice_locked(invoice)
    if invoice.status != Status.OPEN:
        return invoice  # paid or void meanwhile: a stale failure changes nothing
    if invoice.payment_failed_at is None or at > invoice.payment_failed_at:
        invoice.payment_failed_at = at
        invoice.save(update_fields=["payment_failed_at"])
    audit(tenant, actor=actor, action="invoice.payment_failed", target=invoice.public_id, code=code)
    account = billing_account(tenant)
    if account.past_due_since is None:
        account.past_due_since = at
        account.save(update_fields=["past_due_since"])
    if tenant.status == Tenant.Status.ACTIVE:
        tenant_status_set(tenant, Tenant.Status.PAST_DUE, actor=actor, invoice=invoice.public_id)
    return invoice
