"""The whole billing path against localstripe with the real ``stripe`` client: usage becomes
an invoice in Stripe, webhooks move invoices and the tenant's status, reconciliation reports."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import timedelta

import pytest
import stripe
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from billing import services, tasks
from billing.ledger.periods import period_containing
from billing.models import BillingAccount, Invoice, InvoiceLine, StripeEvent, UsageEvent
from billing.pricing.closing import close_period
from billing.pricing.price_book import IMAGES_BASE, IMAGES_FINETUNED, TRAINING_SECONDS
from billing.spend.enforcement import ensure_billable
from billing.stripe import sync as stripe_sync
from billing.stripe import webhooks
from billing.stripe.reconcile import reconcile_stripe
from core.errors import BillingError
from tenants.models import AuditEvent, Tenant
from tests.billing.helpers import record
from tests.billing.localstripe_server import SECRET

# Period close and the staff console read across tenants on the cross-tenant
# connection, which sees only what this test committed.
pytestmark = pytest.mark.django_db(transaction=True)

LAST_MONTH = period_containing(timezone.now()).previous()
GOOD_CARD = "4242424242424242"
DECLINED_ON_CHARGE_CARD = "4000000000000341"


def add_card(handle, raw: stripe.StripeClient, number: str) -> str:
    """The portal's part (SetupIntent confirmed in the browser), then Stripe's webhook."""
    with handle.context():
        intent = stripe_sync.setup_intent_create(handle.tenant)
    card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = raw.v1.payment_methods.create({"type": "card", "card": card})
    confirmed = raw.v1.setup_intents.confirm(intent.id, {"payment_method": method.id})
    event_id = deliver("setup_intent.succeeded", confirmed.to_dict())
    assert "is the default" in webhooks.stripe_event_process(event_id)
    return method.id


def deliver(
    event_type: str, obj: dict, *, created: int | None = None, event_id: str | None = None
) -> str:
    """POST a signed event to our endpoint, as Stripe does; returns the event id."""
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": event_type,
        "created": created or int(time.time()),
        "data": {"object": obj},
    }
    payload = json.dumps(event).encode()
    response = post_webhook(payload, sign(payload, SECRET))
    assert response.status_code == 200, response.content
    return event["id"]


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    timestamp = timestamp or int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def post_webhook(payload: bytes, signature: str):
    return APIClient().post(
        "/v1/stripe/webhook",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )


def close_and_sync(handle) -> Invoice:
    (public_id,) = close_period(LAST_MONTH, tenant=handle.tenant).created
    with handle.context():
        invoice = Invoice.objects.get(public_id=public_id)
    tasks.sync_invoice(handle.tenant.pk, invoice.pk)  # what the worker runs after commit
    with handle.context():
        invoice.refresh_from_db()
    return invoice


def remote_snapshot(raw, invoice: Invoice) -> dict:
    return raw.v1.invoices.retrieve(invoice.provider_invoice_id).to_dict()


def record_month(handle) -> None:
    start = LAST_MONTH.start
    record(handle, IMAGES_BASE, 12_345, start + timedelta(hours=2), model_ref="mdl_base")
    record(handle, IMAGES_FINETUNED, 678, start + timedelta(days=3), model_ref="mdl_ft")
    record(handle, TRAINING_SECONDS, 5_400, start + timedelta(days=4), model_ref="ft_1")


def test_usage_becomes_the_same_invoice_in_stripe_and_reruns_change_nothing(
    tenant_a, stripe_billing
):
    raw = stripe_billing
    record_month(tenant_a)
    add_card(tenant_a, raw, GOOD_CARD)

    invoice = close_and_sync(tenant_a)

    with tenant_a.context():
        lines = list(InvoiceLine.objects.filter(invoice=invoice).order_by("position"))
        ledger = {(e.meter, e.model_ref): e.quantity for e in UsageEvent.objects.all()}
    assert {(ln.meter, ln.model_ref): ln.quantity for ln in lines} == ledger
    remote = remote_snapshot(raw, invoice)
    assert remote["total"] == invoice.total_minor == sum(ln.amount_minor for ln in lines) > 0
    assert remote["metadata"]["modelhouse_invoice"] == invoice.public_id
    assert sorted(ln["amount"] for ln in remote["lines"]["data"] if ln["amount"]) == sorted(
        ln.amount_minor for ln in lines if ln.amount_minor
    )
    assert remote["status"] == "paid" and invoice.status == "paid"

    customer = remote["customer"]
    items_before = len(raw.v1.invoice_items.list({"customer": customer, "limit": 100}).data)
    assert close_period(LAST_MONTH).created == ()
    tasks.sync_invoice(tenant_a.tenant.pk, invoice.pk)  # a redelivered task
    assert len(raw.v1.invoice_items.list({"customer": customer, "limit": 100}).data) == items_before
    ours = [
        i
        for i in raw.v1.invoices.list({"customer": customer}).data
        if i.to_dict().get("metadata", {}).get("modelhouse_invoice")
    ]
    assert [i.id for i in ours] == [invoice.provider_invoice_id]
    assert reconcile_stripe() == []


def test_failed_payment_suspends_after_grace_and_payment_restores(tenant_a, stripe_billing):
    raw = stripe_billing
    record_month(tenant_a)
    add_card(tenant_a, raw, DECLINED_ON_CHARGE_CARD)

    invoice = close_and_sync(tenant_a)  # the charge is declined

    assert invoice.status == "open" and invoice.payment_failed_at is not None
    failed_at = int(time.time()) - 60
    failure = deliver("invoice.payment_failed", remote_snapshot(raw, invoice), created=failed_at)
    webhooks.stripe_event_process(failure)
    tenant = Tenant.objects.get(pk=tenant_a.tenant.pk)
    assert tenant.status == "past_due"
    ensure_billable(tenant, meter=IMAGES_BASE, quantity=1)  # still served during the grace

    later = timezone.now() + timedelta(days=8)
    assert services.suspend_after_grace(now=later) == [tenant.public_id]
    tenant.refresh_from_db()
    with pytest.raises(BillingError) as refused:
        ensure_billable(tenant, meter=IMAGES_BASE, quantity=1)
    assert refused.value.code == "account_suspended" and refused.value.status == 402

    add_card(tenant_a, raw, GOOD_CARD)
    tasks.sync_invoice(tenant_a.tenant.pk, invoice.pk)  # the retry collects it
    paid = deliver("invoice.paid", remote_snapshot(raw, invoice))
    assert webhooks.stripe_event_process(paid).startswith("paid")
    tenant.refresh_from_db()
    assert tenant.status == "active"
    ensure_billable(tenant, meter=IMAGES_BASE, quantity=1)
    with tenant_a.context():
        statuses = list(
            AuditEvent.objects.filter(action="tenant.billing_status")
            .order_by("pk")
            .values_list("data__status", flat=True)
        )
        assert BillingAccount.objects.get().past_due_since is None
    assert statuses == ["past_due", "suspended", "active"]


def test_replayed_and_reordered_webhooks_change_nothing(tenant_a, stripe_billing):
    raw = stripe_billing
    record_month(tenant_a)
    add_card(tenant_a, raw, DECLINED_ON_CHARGE_CARD)
    invoice = close_and_sync(tenant_a)
    add_card(tenant_a, raw, GOOD_CARD)
    failed_snapshot = remote_snapshot(raw, invoice)
    tasks.sync_invoice(tenant_a.tenant.pk, invoice.pk)
    paid_snapshot = remote_snapshot(raw, invoice)
    now = int(time.time())

    paid = deliver("invoice.paid", paid_snapshot, created=now)
    webhooks.stripe_event_process(paid)
    with tenant_a.context():
        audit_before = AuditEvent.objects.count()
    # the older failure arrives late, and the paid event is replayed
    stale = deliver("invoice.payment_failed", failed_snapshot, created=now - 30)
    assert webhooks.stripe_event_process(stale).startswith("stale")
    replay = post_webhook(*_signed_again(paid))
    assert replay.json()["duplicate"] is True
    assert webhooks.stripe_event_process(paid).startswith("paid")  # stored outcome, no effect
    assert StripeEvent.objects.filter(event_id=paid).count() == 1
    tenant = Tenant.objects.get(pk=tenant_a.tenant.pk)
    with tenant_a.context():
        invoice.refresh_from_db()
        assert AuditEvent.objects.count() == audit_before
    assert (invoice.status, tenant.status) == ("paid", "active")


def _signed_again(event_id: str) -> tuple[bytes, str]:
    payload = json.dumps(StripeEvent.objects.get(event_id=event_id).payload).encode()
    return payload, sign(payload, SECRET)


def test_a_bad_signature_or_old_timestamp_is_400_and_stores_nothing(db, stripe_billing):
    payload = json.dumps(
        {"id": "evt_forged", "type": "invoice.paid", "created": 1, "data": {"object": {}}}
    ).encode()
    for signature in (
        sign(payload, "whsec_wrong"),
        sign(payload, SECRET, int(time.time()) - 600),
        "",
    ):
        response = post_webhook(payload, signature)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_signature"
    assert not StripeEvent.objects.exists()


def test_reconciliation_reports_every_difference(tenant_a, tenant_b, stripe_billing, capsys):
    raw = stripe_billing
    for handle in (tenant_a, tenant_b):
        record_month(handle)
        add_card(handle, raw, GOOD_CARD)
    synced = close_and_sync(tenant_a)
    (unsynced_id,) = close_period(LAST_MONTH, tenant=tenant_b.tenant).created
    with tenant_a.context():
        Invoice.objects.filter(pk=synced.pk).update(
            total_minor=synced.total_minor + 1, status="open"
        )
        customer = BillingAccount.objects.get().stripe_customer_id
    raw.v1.invoice_items.create({"customer": customer, "amount": 999, "currency": "usd"})
    subscription = raw.v1.subscriptions.list({"customer": customer}).data[0].id
    stray = raw.v1.invoices.create({"customer": customer, "subscription": subscription})

    found = {(d.kind, d.invoice or d.stripe_invoice) for d in reconcile_stripe()}

    assert found == {
        ("amount", synced.public_id),
        ("status", synced.public_id),
        ("missing_in_stripe", unsynced_id),
        ("missing_locally", stray.id),
    }
    with pytest.raises(SystemExit):
        call_command("reconcile_stripe")
    assert "4 difference(s)" in capsys.readouterr().out
