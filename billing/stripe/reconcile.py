"""Reconciliation: every difference between local invoices and Stripe's.

The local ledger is the source of truth; this job only reports (the daily
beat task logs, the ``reconcile_stripe`` command prints).  It reads every
tenant's invoices and credit notes, so it runs in one audited ``unscoped`` block.

Every issued credit note on a Stripe invoice should be a Stripe refund of the same
amount (billing.stripe.refunds): one without a refund (never made, or not found in
Stripe) is ``refund_missing``, one whose refund differs is ``refund_amount``,
and one whose refund Stripe failed or cancelled is ``refund_status``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from billing.models import BillingAccount, CreditNote, Invoice
from billing.stripe import stripe_provider
from billing.stripe.provider import INVOICE_KEY
from tenants.scoping import unscoped

# Local status -> the Stripe statuses that agree with it.
_AGREEING = {"open": {"draft", "open"}, "paid": {"paid"}, "void": {"void"}}


@dataclass(frozen=True)
class Difference:
    # missing_in_stripe | missing_locally | amount | currency | status
    # | refund_missing | refund_amount | refund_status
    kind: str
    tenant: str
    invoice: str  # local public id ("" when Stripe has one we do not)
    stripe_invoice: str
    detail: str
    credit_note: str = ""  # the refund_* kinds: the credit note's public id

    def __str__(self) -> str:
        note = f" credit_note={self.credit_note}" if self.credit_note else ""
        return (
            f"{self.kind}: tenant={self.tenant} invoice={self.invoice or '-'}{note} "
            f"stripe={self.stripe_invoice or '-'} {self.detail}"
        )


def reconcile_stripe(provider=None) -> list[Difference]:
    provider = provider or stripe_provider()
    with unscoped(reason="billing: reconcile local invoices with Stripe"):
        accounts = list(
            BillingAccount.objects.exclude(stripe_customer_id="").values_list(
                "tenant_id", "stripe_customer_id", "tenant__public_id"
            )
        )
        local: dict[int, list[Invoice]] = defaultdict(list)
        for invoice in (
            Invoice.objects.filter(provider="stripe")
            .select_related("tenant")
            .order_by("period_start")
        ):
            local[invoice.tenant_id].append(invoice)
        notes = list(
            CreditNote.objects.filter(invoice__provider="stripe", status=CreditNote.Status.ISSUED)
            .select_related("invoice", "tenant")
            .order_by("pk")
        )
    customers = {tenant_id: customer for tenant_id, customer, _ in accounts}
    names = {tenant_id: public_id for tenant_id, _, public_id in accounts}
    differences: list[Difference] = []
    for tenant_id in sorted(set(customers) | set(local)):
        remote = provider.list_invoices(customers[tenant_id]) if tenant_id in customers else []
        differences += _compare(local.get(tenant_id, []), remote, names.get(tenant_id, ""))
    for note in notes:
        differences += _compare_refund(note, provider)
    return differences


_REFUND_FAILED = {"failed", "canceled"}


def _compare_refund(note: CreditNote, provider) -> list[Difference]:
    invoice = note.invoice

    def difference(kind: str, detail: str) -> Difference:
        return Difference(
            kind,
            note.tenant.public_id,
            invoice.public_id,
            invoice.provider_invoice_id,
            detail,
            credit_note=note.public_id,
        )

    credited = f"{note.amount_minor} {invoice.currency}"
    if not note.provider_refund_id:
        return [
            difference("refund_missing", f"credit {credited} never refunded ({note.refund_status})")
        ]
    theirs = provider.get_refund(note.provider_refund_id)
    if theirs is None:
        return [difference("refund_missing", f"refund {note.provider_refund_id} not in Stripe")]
    found = []
    if theirs.amount_minor != note.amount_minor:
        found.append(
            difference(
                "refund_amount",
                f"refund {theirs.id}: local {note.amount_minor}, Stripe {theirs.amount_minor}",
            )
        )
    if theirs.status in _REFUND_FAILED:
        found.append(difference("refund_status", f"refund {theirs.id} is {theirs.status}"))
    return found


def _compare(invoices: list[Invoice], remote: list, tenant_name: str) -> list[Difference]:
    by_local_id = {r.metadata.get(INVOICE_KEY): r for r in remote if r.metadata.get(INVOICE_KEY)}
    unmatched = {r.id: r for r in remote}
    found: list[Difference] = []
    for invoice in invoices:
        tenant = invoice.tenant.public_id
        theirs = by_local_id.get(invoice.public_id)
        if theirs is None:
            if invoice.total_minor > 0 and invoice.status != Invoice.Status.VOID:
                found.append(
                    Difference(
                        "missing_in_stripe",
                        tenant,
                        invoice.public_id,
                        "",
                        f"total {invoice.total_minor} {invoice.currency}",
                    )
                )
            continue
        unmatched.pop(theirs.id, None)
        if theirs.total_minor != invoice.total_minor:
            found.append(
                Difference(
                    "amount",
                    tenant,
                    invoice.public_id,
                    theirs.id,
                    f"local {invoice.total_minor}, Stripe {theirs.total_minor}",
                )
            )
        if theirs.currency and theirs.currency != invoice.currency:
            found.append(
                Difference(
                    "currency",
                    tenant,
                    invoice.public_id,
                    theirs.id,
                    f"local {invoice.currency}, Stripe {theirs.currency}",
                )
            )
        if theirs.status not in _AGREEING[invoice.status]:
            found.append(
                Difference(
                    "status",
                    tenant,
                    invoice.public_id,
                    theirs.id,
                    f"local {invoice.status}, Stripe {theirs.status}",
                )
            )
    for theirs in unmatched.values():
        if theirs.total_minor == 0 and not theirs.metadata.get(INVOICE_KEY):
            continue  # the $0 invoices Stripe cuts for the $0 usage subscription itself
        found.append(
            Difference(
                "missing_locally",
                tenant_name,
                "",
                theirs.id,
                f"total {theirs.total_minor} {theirs.currency}, status {theirs.status}",
            )
        )
    return found
