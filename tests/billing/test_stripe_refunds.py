"""Credit notes on Stripe invoices against localstripe with the real ``stripe`` client: a
staff member's credit on a paid invoice becomes one Stripe refund (a large one only once a
second staff member approves it), one on an open invoice is refused, and reconciliation
reports credit notes whose refund is missing or differs."""

from __future__ import annotations

import pytest
from celery import current_app
from django.core.management import call_command

from billing import services, tasks
from billing.models import CreditNote, Invoice
from billing.stripe.reconcile import reconcile_stripe
from core.errors import Conflict
from tenants.models import AuditEvent
from tests.billing.helpers import staff_credit, staff_member
from tests.billing.test_stripe_flow import (
    DECLINED_ON_CHARGE_CARD,
    GOOD_CARD,
    add_card,
    close_and_sync,
    record_month,
)

# Period close and the staff console read across tenants on the cross-tenant
# connection, which sees only what this test committed.
pytestmark = pytest.mark.django_db(transaction=True)
REFUND = "billing.refund_credit_note"


@pytest.fixture
def paid(tenant_a, stripe_billing) -> Invoice:
    """Tenant A's last month, issued and paid in localstripe."""
    record_month(tenant_a)
    add_card(tenant_a, stripe_billing, GOOD_CARD)
    invoice = close_and_sync(tenant_a)
    assert invoice.status == "paid" and invoice.provider_invoice_id
    return invoice


def credit(handle, invoice: Invoice, amount: int) -> dict:
    """A staff member's credit, as the tenant then reads it."""
    note = staff_credit(handle, invoice.public_id, amount)
    response = handle.client.get(f"/v1/invoices/{invoice.public_id}/credit-notes?limit=100")
    (shown,) = [n for n in response.json()["data"] if n["id"] == note.public_id]
    return shown


def refund_now(handle, note_id: str) -> str:
    """What the worker runs after commit."""
    with handle.context():
        pk = CreditNote.objects.get(public_id=note_id).pk
    return tasks.refund_credit_note(handle.tenant.pk, pk)


def refunds_of(raw, invoice: Invoice) -> list:
    intent = raw.v1.invoices.retrieve(invoice.provider_invoice_id).payment_intent
    return raw.v1.refunds.list({"payment_intent": intent, "limit": 100}).data


@pytest.fixture
def sent_tasks(monkeypatch) -> list[str]:
    """The names of the tasks sent from here on (recorded, not sent)."""
    sent: list[str] = []
    monkeypatch.setattr(current_app, "send_task", lambda name, **kwargs: sent.append(name))
    return sent


def test_a_credit_on_a_paid_stripe_invoice_is_refunded_in_stripe(
    tenant_a,
    paid,
    stripe_billing,
    sent_tasks,
):
    note = credit(tenant_a, paid, 48)

    assert note["refund"] == {"id": None, "status": "pending"}
    assert sent_tasks == [REFUND]  # once the credit commits
    refund_id = refund_now(tenant_a, note["id"])

    remote = stripe_billing.v1.refunds.retrieve(refund_id)
    assert (remote.amount, remote.status) == (48, "succeeded")
    assert remote.metadata.to_dict() == {
        "modelhouse_credit_note": note["id"],
        "modelhouse_invoice": paid.public_id,
    }
    assert [r.id for r in refunds_of(stripe_billing, paid)] == [refund_id]
    shown = tenant_a.client.get(f"/v1/invoices/{paid.public_id}").json()
    assert shown["credit_notes"][0]["refund"] == {"id": refund_id, "status": "refunded"}
    assert shown["amount_credited"] == 48
    with tenant_a.context():
        assert AuditEvent.objects.filter(
            action="credit_note.refunded", target=note["id"], data__refund=refund_id
        ).exists()
    assert reconcile_stripe() == []


def test_a_retried_refund_task_refunds_once(tenant_a, paid, stripe_billing):
    note = credit(tenant_a, paid, 100)
    first = refund_now(tenant_a, note["id"])
    assert refund_now(tenant_a, note["id"]) == first  # a redelivered task
    # A worker that died after Stripe refunded but before the id was stored:
    with tenant_a.context():
        CreditNote.objects.filter(public_id=note["id"]).update(
            provider_refund_id="", refund_status="pending"
        )
    assert refund_now(tenant_a, note["id"]) == first  # found by its credit note metadata

    assert [(r.id, r.amount) for r in refunds_of(stripe_billing, paid)] == [(first, 100)]
    with tenant_a.context():
        assert CreditNote.objects.get(public_id=note["id"]).provider_refund_id == first


def test_a_credit_on_an_open_stripe_invoice_is_refused_and_changes_nothing(
    tenant_a,
    stripe_billing,
    monkeypatch,
):
    record_month(tenant_a)
    add_card(tenant_a, stripe_billing, DECLINED_ON_CHARGE_CARD)
    invoice = close_and_sync(tenant_a)
    assert invoice.status == "open" and invoice.provider_invoice_id
    with tenant_a.context():
        audit_before = AuditEvent.objects.count()

    sent: list[str] = []
    monkeypatch.setattr(current_app, "send_task", lambda name, **kwargs: sent.append(name))
    with pytest.raises(Conflict) as refused:
        staff_credit(tenant_a, invoice.public_id, 48)

    assert refused.value.code == "credit_note_requires_payment"
    assert "once it is paid" in refused.value.message and "void it" in refused.value.message
    assert sent == []
    with tenant_a.context():
        invoice.refresh_from_db()
        assert not CreditNote.objects.exists()
        assert AuditEvent.objects.count() == audit_before
    assert invoice.credited_minor == 0
    assert refunds_of(stripe_billing, invoice) == []


def test_reconciliation_reports_credit_notes_without_the_same_refund(
    tenant_a,
    paid,
    stripe_billing,
    capsys,
):
    never = credit(tenant_a, paid, 10)
    kept = credit(tenant_a, paid, 20)
    refund_now(tenant_a, kept["id"])

    found = [(d.kind, d.credit_note, d.invoice) for d in reconcile_stripe()]
    assert found == [("refund_missing", never["id"], paid.public_id)]

    refund_now(tenant_a, never["id"])
    assert reconcile_stripe() == []

    with tenant_a.context():
        CreditNote.objects.filter(public_id=kept["id"]).update(amount_minor=21)
        CreditNote.objects.filter(public_id=never["id"]).update(provider_refund_id="re_gone")
    found = {(d.kind, d.credit_note) for d in reconcile_stripe()}
    assert found == {("refund_amount", kept["id"]), ("refund_missing", never["id"])}
    with pytest.raises(SystemExit):
        call_command("reconcile_stripe")
    out = capsys.readouterr().out
    assert f"credit_note={never['id']}" in out and "2 difference(s)" in out


def test_a_large_credit_is_refunded_only_once_a_second_staff_member_approves_it(
    tenant_a,
    paid,
    stripe_billing,
    settings,
    sent_tasks,
):
    settings.BILLING_CREDIT_NOTE_APPROVAL_MINOR = 50
    requester, approver = (
        staff_member("billing.issue_credit_note"),
        staff_member("billing.approve_credit_note"),
    )
    note = staff_credit(tenant_a, paid.public_id, 100, by=requester)

    assert (note.status, note.refund_status) == ("pending_approval", "none")
    assert sent_tasks == []  # no refund task for a credit nobody approved
    assert tasks.refund_credit_note(tenant_a.tenant.pk, note.pk) == ""  # a stray task: nothing
    assert refunds_of(stripe_billing, paid) == []
    assert reconcile_stripe() == []  # nothing owed back yet, so nothing missing
    shown = tenant_a.client.get(f"/v1/invoices/{paid.public_id}").json()
    assert (shown["amount_credited"], shown["credit_notes"]) == (0, [])

    with tenant_a.context():
        services.credit_note_approve(tenant_a.tenant, actor=approver, note=note)

    assert sent_tasks == [REFUND]  # once the approval commits
    refund_id = refund_now(tenant_a, note.public_id)
    assert stripe_billing.v1.refunds.retrieve(refund_id).amount == 100
    shown = tenant_a.client.get(f"/v1/invoices/{paid.public_id}").json()
    assert shown["amount_credited"] == 100
    assert shown["credit_notes"][0]["refund"] == {"id": refund_id, "status": "refunded"}
    assert reconcile_stripe() == []
