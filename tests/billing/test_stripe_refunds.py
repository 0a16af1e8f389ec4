"""Credit notes on Stripe invoices against localstripe with the real ``stripe`` client: a
credit on a paid invoice becomes one Stripe refund, one on an open invoice is refused, and
reconciliation reports credit notes whose refund is missing or differs."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from billing import tasks
from billing.models import CreditNote, Invoice
from billing.stripe.reconcile import reconcile_stripe
from tenants.models import AuditEvent
from tests.billing.test_stripe_flow import (
    DECLINED_ON_CHARGE_CARD,
    GOOD_CARD,
    add_card,
    close_and_sync,
    record_month,
)


@pytest.fixture
def paid(tenant_a, stripe_billing) -> Invoice:
    """Tenant A's last month, issued and paid in localstripe."""
    record_month(tenant_a)
    add_card(tenant_a, stripe_billing, GOOD_CARD)
    invoice = close_and_sync(tenant_a)
    assert invoice.status == "paid" and invoice.provider_invoice_id
    return invoice


def credit(handle, invoice: Invoice, amount: int) -> dict:
    response = handle.client.post(
        f"/v1/invoices/{invoice.public_id}/credit-notes",
        {"amount": amount, "reason": "training job crashed"},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def refund_now(handle, note_id: str) -> str:
    """What the worker runs after commit."""
    with handle.context():
        pk = CreditNote.objects.get(public_id=note_id).pk
    return tasks.refund_credit_note(handle.tenant.pk, pk)


def refunds_of(raw, invoice: Invoice) -> list:
    intent = raw.v1.invoices.retrieve(invoice.provider_invoice_id).payment_intent
    return raw.v1.refunds.list({"payment_intent": intent, "limit": 100}).data


def test_a_credit_on_a_paid_stripe_invoice_is_refunded_in_stripe(
    tenant_a,
    paid,
    stripe_billing,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks:
        note = credit(tenant_a, paid, 48)

    assert note["refund"] == {"id": None, "status": "pending"}
    assert len(callbacks) == 1  # billing.refund_credit_note, once the credit commits
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


def test_a_credit_on_an_open_stripe_invoice_is_409_and_changes_nothing(
    tenant_a,
    stripe_billing,
    django_capture_on_commit_callbacks,
):
    record_month(tenant_a)
    add_card(tenant_a, stripe_billing, DECLINED_ON_CHARGE_CARD)
    invoice = close_and_sync(tenant_a)
    assert invoice.status == "open" and invoice.provider_invoice_id
    with tenant_a.context():
        audit_before = AuditEvent.objects.count()

    with django_capture_on_commit_callbacks() as callbacks:
        response = tenant_a.client.post(
            f"/v1/invoices/{invoice.public_id}/credit-notes",
            {"amount": 48, "reason": "training job crashed"},
            format="json",
        )

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "credit_note_requires_payment"
    assert "once it is paid" in error["message"] and "void it" in error["message"]
    assert callbacks == []
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
