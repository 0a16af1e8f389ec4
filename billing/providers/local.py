"""The embedded default provider: invoices are issued and settled in our own database.

Nothing leaves the process.  Issuing an invoice is a no-op (period close has
already stored it open); collecting it is a person's job — finance marks it
paid or void (billing.services, the Django admin).  So ``pay_invoice`` only
reports what finance has recorded.
"""

from __future__ import annotations

from billing.providers.base import (
    CustomerRef,
    InvoiceDraft,
    IssuedInvoice,
    PaymentFailedError,
    ProviderError,
    RefundRequest,
    RemoteInvoice,
    RemoteRefund,
    SetupIntentResult,
)


class LocalBillingProvider:
    """``BillingProvider`` over the local ``Invoice`` table; ids are our public ids."""

    def ensure_customer(self, customer: CustomerRef) -> str:
        return customer.tenant_public_id

    def create_setup_intent(self, customer_id: str) -> SetupIntentResult:
        raise ProviderError("The local provider collects no payment methods.", code="unsupported")

    def ensure_subscription(self, customer_id: str, plan_code: str) -> str:
        return f"local_{customer_id}"

    def issue_invoice(self, draft: InvoiceDraft) -> IssuedInvoice:
        return IssuedInvoice(draft.invoice_public_id, draft.total_minor, "open")

    def pay_invoice(self, provider_invoice_id: str) -> str:
        status = self.get_invoice(provider_invoice_id).status
        if status != "paid":
            raise PaymentFailedError(
                f"invoice {provider_invoice_id} awaits settlement by finance",
                code="manual_settlement",
            )
        return status

    def get_invoice(self, provider_invoice_id: str) -> RemoteInvoice:
        from billing.models import Invoice
        from tenants.scoping import unscoped

        with unscoped(reason="billing: local provider reads an invoice by id"):
            invoice = Invoice.objects.filter(public_id=provider_invoice_id).first()
        if invoice is None:
            raise ProviderError(f"no invoice {provider_invoice_id}", code="resource_missing")
        return _remote(invoice)

    def list_invoices(self, customer_id: str) -> list[RemoteInvoice]:
        from billing.models import Invoice
        from tenants.scoping import unscoped

        with unscoped(reason="billing: local provider lists a tenant's invoices"):
            invoices = list(
                Invoice.objects.filter(tenant__public_id=customer_id).order_by("-period_start")
            )
        return [_remote(invoice) for invoice in invoices]

    def refund_invoice(self, request: RefundRequest) -> RemoteRefund:
        raise ProviderError(
            "The local provider moves no money; finance refunds a credit note by hand.",
            code="unsupported",
        )

    def get_refund(self, refund_id: str) -> RemoteRefund | None:
        raise ProviderError("The local provider keeps no refunds.", code="unsupported")


def _remote(invoice) -> RemoteInvoice:
    return RemoteInvoice(
        id=invoice.public_id,
        total_minor=invoice.total_minor,
        status=invoice.status,
        currency=invoice.currency,
        metadata={"modelhouse_invoice": invoice.public_id},
    )
