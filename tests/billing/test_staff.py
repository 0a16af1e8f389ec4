"""Finance staff: invoices across tenants and the revenue report in the Django admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from billing.ledger.periods import period_containing
from billing.models import Invoice
from billing.pricing.closing import close_period
from billing.pricing.price_book import IMAGES_BASE, TRAINING_SECONDS
from tenants.models import AuditEvent, UnscopedAccess, User
from tests.billing.helpers import record

LAST_MONTH = period_containing(timezone.now()).previous()


@pytest.fixture
def staff(db) -> Client:
    user = User.objects.create_superuser("finance@modelhouse.test", "pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def two_invoices(tenant_a, tenant_b):
    record(tenant_a, IMAGES_BASE, 2_000, LAST_MONTH.start + timedelta(hours=1))
    record(tenant_a, TRAINING_SECONDS, 1_000, LAST_MONTH.start + timedelta(hours=2))
    record(tenant_b, IMAGES_BASE, 400, LAST_MONTH.start + timedelta(hours=1))
    return close_period(LAST_MONTH).created


def test_staff_see_revenue_by_month_tenant_and_meter(staff, tenant_a, tenant_b, two_invoices):
    response = staff.get("/admin/billing/invoice/revenue/")
    assert response.status_code == 200
    rows = [(r.tenant, r.item, r.amount_minor) for r in response.context["rows"]]
    assert sorted(rows) == sorted(
        [
            (tenant_a.tenant.public_id, IMAGES_BASE, 100),
            (tenant_a.tenant.public_id, TRAINING_SECONDS, 80),
            (tenant_b.tenant.public_id, IMAGES_BASE, 20),
        ]
    )
    assert response.context["totals"] == {"usd": 200}
    assert UnscopedAccess.objects.filter(reason__startswith="staff: revenue report").exists()


def test_the_revenue_report_is_for_staff_only(tenant_a, two_invoices):
    member = Client()
    member.force_login(tenant_a.owner)
    response = member.get("/admin/billing/invoice/revenue/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_staff_mark_an_invoice_paid_in_the_admin(staff, tenant_a, two_invoices):
    listing = staff.get("/admin/billing/invoice/")
    assert listing.status_code == 200 and all(i.encode() in listing.content for i in two_invoices)
    with tenant_a.context():
        invoice = Invoice.objects.get()
    response = staff.post(
        "/admin/billing/invoice/", {"action": "mark_paid", "_selected_action": [invoice.pk]}
    )
    assert response.status_code == 302
    with tenant_a.context():
        invoice.refresh_from_db()
        assert invoice.status == "paid"
        assert AuditEvent.objects.filter(action="invoice.paid", target=invoice.public_id).exists()
