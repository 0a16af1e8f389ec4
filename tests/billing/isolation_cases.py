"""Billing's entries for the cross-tenant suite (tests/isolation/cases.py), ready to register::

    from tests.billing import isolation_cases as billing

    CASES += [Case(method, route, billing.make_invoice, billing.state, body)
              for method, route, body in billing.ROUTES]
    CASES += [Case(method, route, billing.make_key, billing.spend_state, body)
              for method, route, body in billing.KEY_ROUTES]
    LIST_ROUTES["v1/invoices"] = billing.list_ids
    PUBLIC_ROUTES |= billing.NOT_OBJECT_ROUTES

``make_invoice`` gives every path parameter the routes use (``invoice_id`` and
``line_id``); ``state`` is what a cross-tenant call could change.  The key
routes name tenant A's API key in their body instead of their path.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from billing.ledger.periods import period_containing
from billing.models import ApiKeyQuota, BillingAccount, CreditNote, Invoice, InvoiceLine
from billing.pricing.closing import close_period
from billing.pricing.price_book import IMAGES_BASE
from tenants.models import AuditEvent
from tests.billing.helpers import record

_INVOICE = "v1/invoices/<str:invoice_id>"
ROUTES = [
    ("GET", _INVOICE, lambda params: {}),
    ("GET", f"{_INVOICE}/lines.csv", lambda params: {}),
    ("GET", f"{_INVOICE}/lines/<str:line_id>/events", lambda params: {}),
    ("GET", f"{_INVOICE}/lines/<str:line_id>/events.csv", lambda params: {}),
    ("GET", f"{_INVOICE}/credit-notes", lambda params: {}),
]
KEY_ROUTES = [
    (
        "PUT",
        "v1/billing/quotas",
        lambda params: {"api_key": params["key_id"], "meter": IMAGES_BASE, "monthly_limit": 1},
    ),
]
# Not lists of objects with ids (usage is aggregated; tests/billing/test_api.py checks
# that it never includes another tenant's usage), the caller's own account (only
# ever its own: tests/billing/test_spend_api.py checks that) or not tenant data
# (the webhook).
NOT_OBJECT_ROUTES = {"v1/usage", "v1/usage.csv", "v1/billing", "v1/stripe/webhook"}


def make_invoice(handle) -> dict:
    """Tenant A's invoice for last month, with one usage line."""
    period = period_containing(timezone.now()).previous()
    record(handle, IMAGES_BASE, 10, period.start + timedelta(hours=1))
    close_period(period, tenant=handle.tenant)
    with handle.context():
        line = InvoiceLine.objects.select_related("invoice").get()
    return {"invoice_id": line.invoice.public_id, "line_id": line.public_id}


def list_ids(handle) -> list[str]:
    return [make_invoice(handle)["invoice_id"]]


def make_key(handle) -> dict:
    key, _ = handle.new_key(["predict"])
    return {"key_id": key.public_id}


def spend_state(handle):
    with handle.context():
        return (
            list(BillingAccount.objects.values_list("spend_cap_minor", flat=True)),
            sorted(ApiKeyQuota.objects.values_list("api_key_ref", "meter", "monthly_limit")),
            AuditEvent.objects.count(),
        )


def state(handle):
    with handle.context():
        return (
            sorted(Invoice.objects.values_list("public_id", "status", "credited_minor")),
            CreditNote.objects.count(),
            AuditEvent.objects.count(),
        )
