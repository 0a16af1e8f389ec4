"""The operator's staff console (the Django admin): invoices across tenants, the revenue
report, and money decisions behind dedicated permissions — settlement (mark paid, void),
credit notes, and the second staff member's approval of a large credit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from billing.ledger.periods import period_containing
from billing.models import CreditNote, Invoice
from billing.pricing.closing import close_period
from billing.pricing.price_book import IMAGES_BASE, TRAINING_SECONDS
from tenants.models import AuditEvent, UnscopedAccess, User
from tests.billing.helpers import record, signed_in, staff_member

# Period close and the staff console read across tenants on the cross-tenant
# connection, which sees only what this test committed.
pytestmark = pytest.mark.django_db(transaction=True)

VIEW = ("billing.view_invoice", "billing.view_creditnote")
ISSUE, APPROVE, SETTLE = (
    "billing.issue_credit_note",
    "billing.approve_credit_note",
    "billing.settle_invoice",
)
INVOICES, CREDIT_NOTES = "/admin/billing/invoice/", "/admin/billing/creditnote/"

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


@pytest.fixture
def invoice_a(tenant_a, two_invoices) -> Invoice:
    """Tenant A's open invoice for last month: 180 (minor units) due."""
    with tenant_a.context():
        invoice = Invoice.objects.get()
    assert (invoice.status, invoice.total_minor) == ("open", 180)
    return invoice


def money_state(handle) -> tuple:
    """Everything a money decision could change for ``handle``'s tenant."""
    with handle.context():
        return (
            sorted(
                Invoice.objects.values_list(
                    "public_id", "status", "credited_minor", "paid_at", "voided_at"
                )
            ),
            sorted(CreditNote.objects.values_list("public_id", "status", "amount_minor")),
            AuditEvent.objects.count(),
        )


def run_action(client, page: str, action: str, *objects, **form):
    """A POST of the admin's action form for ``objects`` (what the changelist sends)."""
    data = {"action": action, "_selected_action": [obj.pk for obj in objects], **form}
    return client.post(page, data)


def issue_in_console(client, invoice: Invoice, amount: int, reason: str = "outage"):
    """The "Issue a credit note" action: its form, then the form sent back filled in."""
    form = run_action(client, INVOICES, "issue_credit_note", invoice)
    assert form.status_code == 200 and b'name="amount"' in form.content, form.content[:500]
    return run_action(
        client, INVOICES, "issue_credit_note", invoice, apply="1", amount=amount, reason=reason
    )


def only_note(handle) -> CreditNote:
    with handle.context():
        return CreditNote.objects.get()


def test_a_view_only_staff_member_sees_no_money_action_and_a_forged_one_changes_nothing(
    tenant_a, invoice_a, settings
):
    settings.BILLING_CREDIT_NOTE_APPROVAL_MINOR = 50
    viewer = signed_in(staff_member("billing.view_invoice"))
    listing = viewer.get(INVOICES)
    assert listing.status_code == 200 and invoice_a.public_id.encode() in listing.content
    assert listing.context["action_form"] is None  # no action offered at all
    before = money_state(tenant_a)

    for action in ("mark_paid", "mark_void", "issue_credit_note"):
        response = run_action(
            viewer, INVOICES, action, invoice_a, apply="1", amount=10, reason="forged"
        )
        assert response.status_code in (200, 302, 403)

    assert money_state(tenant_a) == before


def test_a_view_only_staff_member_cannot_approve_a_pending_credit_note(
    tenant_a, invoice_a, settings
):
    settings.BILLING_CREDIT_NOTE_APPROVAL_MINOR = 50
    issue_in_console(signed_in(staff_member(*VIEW, ISSUE)), invoice_a, 100)
    note = only_note(tenant_a)
    assert note.status == "pending_approval"
    viewer = signed_in(staff_member(*VIEW))
    assert viewer.get(CREDIT_NOTES).context["action_form"] is None
    before = money_state(tenant_a)

    for action in ("approve_credit_notes", "reject_credit_notes"):
        response = run_action(viewer, CREDIT_NOTES, action, note)
        assert response.status_code in (200, 302, 403)

    assert money_state(tenant_a) == before


def test_settlement_needs_its_own_permission_and_is_audited_as_the_staff_member(
    tenant_a, invoice_a
):
    issuer = signed_in(staff_member(*VIEW, ISSUE, APPROVE))
    before = money_state(tenant_a)
    run_action(issuer, INVOICES, "mark_paid", invoice_a)
    assert money_state(tenant_a) == before  # credit-note permissions do not settle

    settler = staff_member("billing.view_invoice", SETTLE)
    response = run_action(signed_in(settler), INVOICES, "mark_paid", invoice_a)

    assert response.status_code == 302
    with tenant_a.context():
        invoice_a.refresh_from_db()
        event = AuditEvent.objects.get(action="invoice.paid", target=invoice_a.public_id)
    assert invoice_a.status == "paid"
    assert event.actor == f"staff:{settler.pk}"


def test_a_settler_voids_an_open_invoice(tenant_a, invoice_a):
    settler = staff_member("billing.view_invoice", SETTLE)
    run_action(signed_in(settler), INVOICES, "mark_void", invoice_a)
    with tenant_a.context():
        invoice_a.refresh_from_db()
        event = AuditEvent.objects.get(action="invoice.voided", target=invoice_a.public_id)
    assert (invoice_a.status, event.actor) == ("void", f"staff:{settler.pk}")


def test_a_small_credit_takes_effect_at_once_and_is_audited_as_the_staff_member(
    tenant_a, invoice_a
):
    issuer = staff_member(*VIEW, ISSUE)

    response = issue_in_console(signed_in(issuer), invoice_a, 48, "training job crashed")

    assert response.status_code == 302
    note = only_note(tenant_a)
    assert (note.status, note.amount_minor, note.reason) == ("issued", 48, "training job crashed")
    assert (note.requested_by, note.reviewed_by) == (f"staff:{issuer.pk}", "")
    with tenant_a.context():
        invoice_a.refresh_from_db()
        event = AuditEvent.objects.get(action="credit_note.created", target=note.public_id)
    assert invoice_a.credited_minor == 48 and event.actor == f"staff:{issuer.pk}"
    shown = tenant_a.client.get(f"/v1/invoices/{invoice_a.public_id}").json()
    assert (shown["amount_credited"], shown["amount_due"]) == (48, 132)


def test_a_credit_above_the_threshold_waits_for_a_second_staff_member(
    tenant_a, invoice_a, settings
):
    settings.BILLING_CREDIT_NOTE_APPROVAL_MINOR = 50
    requester = staff_member(*VIEW, ISSUE, APPROVE)
    approver = staff_member(*VIEW, APPROVE)
    console = signed_in(requester)

    assert issue_in_console(console, invoice_a, 100).status_code == 302

    note = only_note(tenant_a)
    assert (note.status, note.requested_by) == ("pending_approval", f"staff:{requester.pk}")
    shown = tenant_a.client.get(f"/v1/invoices/{invoice_a.public_id}").json()
    assert (shown["amount_credited"], shown["amount_due"], shown["credit_notes"]) == (0, 180, [])
    listed = tenant_a.client.get(f"/v1/invoices/{invoice_a.public_id}/credit-notes").json()
    assert listed["data"] == []

    # The requester holds the approve permission too, and still cannot approve their own.
    before = money_state(tenant_a)
    refused = run_action(console, CREDIT_NOTES, "approve_credit_notes", note)
    assert refused.status_code == 302
    assert money_state(tenant_a) == before

    approved = run_action(signed_in(approver), CREDIT_NOTES, "approve_credit_notes", note)

    assert approved.status_code == 302
    note = only_note(tenant_a)
    assert (note.status, note.reviewed_by) == ("issued", f"staff:{approver.pk}")
    assert note.reviewed_at is not None
    with tenant_a.context():
        event = AuditEvent.objects.get(action="credit_note.approved", target=note.public_id)
    assert event.actor == f"staff:{approver.pk}"
    shown = tenant_a.client.get(f"/v1/invoices/{invoice_a.public_id}").json()
    assert (shown["amount_credited"], shown["amount_due"]) == (100, 80)
    assert [n["id"] for n in shown["credit_notes"]] == [note.public_id]


def test_a_rejected_credit_changes_nothing_and_frees_the_room_it_held(
    tenant_a, invoice_a, settings
):
    settings.BILLING_CREDIT_NOTE_APPROVAL_MINOR = 50
    issue_in_console(signed_in(staff_member(*VIEW, ISSUE)), invoice_a, 150)
    note = only_note(tenant_a)
    approver = staff_member(*VIEW, APPROVE)

    run_action(signed_in(approver), CREDIT_NOTES, "reject_credit_notes", note)

    note = only_note(tenant_a)
    assert (note.status, note.reviewed_by) == ("rejected", f"staff:{approver.pk}")
    with tenant_a.context():
        invoice_a.refresh_from_db()
        assert AuditEvent.objects.filter(
            action="credit_note.rejected", target=note.public_id, actor=f"staff:{approver.pk}"
        ).exists()
    assert invoice_a.credited_minor == 0
    assert tenant_a.client.get(f"/v1/invoices/{invoice_a.public_id}").json()["amount_due"] == 180


def test_an_invoice_shows_its_credit_notes_in_the_console(tenant_a, invoice_a, settings):
    settings.BILLING_CREDIT_NOTE_APPROVAL_MINOR = 50
    issue_in_console(signed_in(staff_member(*VIEW, ISSUE)), invoice_a, 100)
    note = only_note(tenant_a)
    viewer = signed_in(staff_member(*VIEW))

    page = viewer.get(f"{INVOICES}{invoice_a.pk}/change/")
    notes = viewer.get(f"{CREDIT_NOTES}?status__exact=pending_approval")

    assert page.status_code == 200 and note.public_id.encode() in page.content
    assert notes.status_code == 200 and note.public_id.encode() in notes.content
