"""Credit notes are staff decisions (billing.services): who may issue and approve them, the
approval threshold, and the room an invoice has left for credit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import services
from billing.ledger.periods import period_containing
from billing.models import CreditNote, Invoice
from billing.pricing.closing import close_period
from billing.pricing.price_book import IMAGES_BASE
from core.errors import Conflict, InvalidRequest, PermissionDenied
from tenants.models import AuditEvent
from tests.billing.helpers import record, staff_credit, staff_member

# Period close and the staff console read across tenants on the cross-tenant
# connection, which sees only what this test committed.
pytestmark = pytest.mark.django_db(transaction=True)

LAST_MONTH = period_containing(timezone.now()).previous()
ISSUE, APPROVE = "billing.issue_credit_note", "billing.approve_credit_note"


@pytest.fixture
def invoice(tenant_a) -> Invoice:
    """Tenant A's open invoice: 3,000 base images, 150 (minor units)."""
    record(tenant_a, IMAGES_BASE, 3_000, LAST_MONTH.start + timedelta(hours=1))
    (public_id,) = close_period(LAST_MONTH, tenant=tenant_a.tenant).created
    with tenant_a.context():
        return Invoice.objects.get(public_id=public_id)


@pytest.fixture
def threshold(settings) -> int:
    settings.BILLING_CREDIT_NOTE_APPROVAL_MINOR = 50
    return 50


def state(handle) -> tuple:
    with handle.context():
        return (
            list(Invoice.objects.values_list("status", "credited_minor")),
            sorted(CreditNote.objects.values_list("status", "amount_minor", "refund_status")),
            AuditEvent.objects.count(),
        )


def approve(handle, note: CreditNote, by) -> CreditNote:
    with handle.context():
        return services.credit_note_approve(handle.tenant, actor=by, note=note)


@pytest.mark.parametrize(
    "who",
    [
        "an API key",
        "the tenant's owner",
        "staff without the permission",
        "a former staff member",
    ],
)
def test_only_staff_with_the_issue_permission_create_credit_notes(tenant_a, invoice, who):
    actor = {
        "an API key": lambda: tenant_a.key,
        "the tenant's owner": lambda: tenant_a.owner,
        "staff without the permission": lambda: staff_member("billing.view_invoice", APPROVE),
        "a former staff member": lambda: _not_staff_any_more(staff_member(ISSUE)),
    }[who]()
    before = state(tenant_a)

    with pytest.raises(PermissionDenied) as refused:
        staff_credit(tenant_a, invoice.public_id, 10, by=actor)

    assert refused.value.code == "staff_permission_required"
    assert state(tenant_a) == before


def _not_staff_any_more(user):
    user.is_staff = False
    user.save(update_fields=["is_staff"])
    return user


def test_a_credit_up_to_the_threshold_is_issued_at_once_and_above_it_waits(
    tenant_a, invoice, threshold
):
    at = staff_credit(tenant_a, invoice.public_id, threshold)
    above = staff_credit(tenant_a, invoice.public_id, threshold + 1)

    assert (at.status, above.status) == ("issued", "pending_approval")
    with tenant_a.context():
        invoice.refresh_from_db()
        created = dict(
            AuditEvent.objects.filter(action="credit_note.created").values_list("target", "data")
        )
    assert invoice.credited_minor == threshold  # the pending one owes nothing less yet
    assert created[above.public_id]["status"] == "pending_approval"


def test_nobody_approves_their_own_credit_note_not_even_a_superuser(tenant_a, invoice, threshold):
    boss = staff_member(ISSUE, APPROVE)
    boss.is_superuser = True
    boss.save(update_fields=["is_superuser"])
    note = staff_credit(tenant_a, invoice.public_id, 100, by=boss)
    before = state(tenant_a)

    with pytest.raises(PermissionDenied) as refused:
        approve(tenant_a, note, boss)

    assert refused.value.code == "credit_note_own_request"
    assert state(tenant_a) == before


def test_approval_needs_the_approve_permission(tenant_a, invoice, threshold):
    note = staff_credit(tenant_a, invoice.public_id, 100)
    before = state(tenant_a)

    with pytest.raises(PermissionDenied):
        approve(tenant_a, note, staff_member(ISSUE))

    assert state(tenant_a) == before


def test_an_approved_credit_lowers_the_amount_due_once(tenant_a, invoice, threshold):
    note = staff_credit(tenant_a, invoice.public_id, 100)
    approver = staff_member(APPROVE)

    approved = approve(tenant_a, note, approver)

    assert (approved.status, approved.reviewed_by) == ("issued", f"staff:{approver.pk}")
    with pytest.raises(Conflict) as again:
        approve(tenant_a, note, staff_member(APPROVE))
    assert again.value.code == "credit_note_not_pending"
    with tenant_a.context():
        invoice.refresh_from_db()
    assert (invoice.credited_minor, invoice.amount_due_minor) == (100, 50)


def test_pending_credits_hold_their_room_on_the_invoice(tenant_a, invoice, threshold):
    staff_credit(tenant_a, invoice.public_id, 100)  # pending

    with pytest.raises(InvalidRequest) as too_much:
        staff_credit(tenant_a, invoice.public_id, 51)

    assert too_much.value.code == "credit_exceeds_invoice"
    assert staff_credit(tenant_a, invoice.public_id, 50).status == "issued"


def test_a_pending_credit_on_an_invoice_voided_meanwhile_cannot_be_approved(
    tenant_a, invoice, threshold
):
    note = staff_credit(tenant_a, invoice.public_id, 100)
    with tenant_a.context():
        services.invoice_void(tenant_a.tenant, actor="staff:0", invoice=invoice)
    before = state(tenant_a)

    with pytest.raises(Conflict) as refused:
        approve(tenant_a, note, staff_member(APPROVE))

    assert refused.value.code == "invoice_void"
    assert state(tenant_a) == before
    with tenant_a.context():
        rejected = services.credit_note_reject(
            tenant_a.tenant, actor=staff_member(APPROVE), note=note
        )
    assert rejected.status == "rejected"


def test_a_credit_needs_a_reason_and_never_exceeds_the_invoice(tenant_a, invoice):
    with pytest.raises(InvalidRequest) as no_reason:
        staff_credit(tenant_a, invoice.public_id, 10, reason="  ")
    with pytest.raises(InvalidRequest) as too_much:
        staff_credit(tenant_a, invoice.public_id, 151)
    assert (no_reason.value.param, too_much.value.code) == ("reason", "credit_exceeds_invoice")
