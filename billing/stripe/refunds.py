"""Refunding credit notes of Stripe invoices; runs in Celery tasks only, never on a request.

A credit note issued on a paid Stripe invoice (billing.services: at once below
the approval threshold, else when a second staff member approves it) is stored
with ``refund_status`` ``pending``; after that transaction commits,
``billing.refund_credit_note`` calls ``credit_note_refund`` here, which refunds
the credited amount of the invoice's payment in Stripe and records the refund
on the credit note.  The provider call is safe to repeat (idempotency key and
look-up by credit note, see billing.stripe.provider) and runs outside any
database transaction; its result is stored in a short one afterwards.
"""

from __future__ import annotations

from billing import services
from billing.models import CreditNote
from billing.stripe import stripe_provider
from billing.stripe.types import RefundRequest
from tenants.models import Tenant

ACTOR = "stripe"


def credit_note_refund(tenant: Tenant, note: CreditNote, provider=None) -> CreditNote:
    """Refund ``note`` in Stripe once; a note already refunded, needing no refund or not
    issued (awaiting approval, rejected) is returned as it is."""
    if (
        note.status != CreditNote.Status.ISSUED
        or note.refund_status != CreditNote.RefundStatus.PENDING
        or note.provider_refund_id
    ):
        return note
    invoice = note.invoice
    provider = provider or stripe_provider()
    refund = provider.refund_invoice(
        RefundRequest(
            credit_note_public_id=note.public_id,
            invoice_public_id=invoice.public_id,
            provider_invoice_id=invoice.provider_invoice_id,
            amount_minor=note.amount_minor,
            currency=invoice.currency,
        )
    )
    return services.credit_note_refunded(
        tenant, actor=ACTOR, note=note, refund_id=refund.id, amount_minor=refund.amount_minor
    )
