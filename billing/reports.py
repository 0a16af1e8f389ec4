"""Staff reports across tenants (finance staff, in the Django admin): one audited read each."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Sum
from django.db.models.functions import TruncMonth

from billing.models import CreditNote, Invoice, InvoiceLine
from tenants.scoping import unscoped


@dataclass(frozen=True)
class RevenueRow:
    month: str  # YYYY-MM of the invoice's period
    tenant: str  # public id
    tenant_name: str
    item: str  # a meter, "base_fee", "spend_cap_credit" or "credit_notes"
    currency: str
    amount_minor: int


def revenue_row_list(*, actor: str) -> list[RevenueRow]:
    """Invoiced revenue by month, tenant and meter (void invoices excluded), less issued
    credit notes (one awaiting approval or rejected has given nothing back)."""
    with unscoped(reason="staff: revenue report by month, tenant and meter", actor=actor):
        lines = list(
            InvoiceLine.objects.exclude(invoice__status=Invoice.Status.VOID)
            .values_list(
                "invoice__period_start",
                "tenant__public_id",
                "tenant__name",
                "meter",
                "kind",
                "invoice__currency",
            )
            .annotate(amount=Sum("amount_minor"))
            .order_by()
        )
        credits = list(
            CreditNote.objects.filter(status=CreditNote.Status.ISSUED)
            .annotate(month=TruncMonth("invoice__period_start"))
            .values_list("month", "tenant__public_id", "tenant__name", "invoice__currency")
            .annotate(amount=Sum("amount_minor"))
            .order_by()
        )
    rows = [
        RevenueRow(f"{start:%Y-%m}", tenant, name, meter or kind, currency, int(amount))
        for start, tenant, name, meter, kind, currency, amount in lines
    ]
    rows += [
        RevenueRow(f"{month:%Y-%m}", tenant, name, "credit_notes", currency, -int(amount))
        for month, tenant, name, currency, amount in credits
    ]
    return sorted(rows, key=lambda row: (row.month, row.tenant, row.item))
