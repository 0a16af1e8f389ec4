"""The after-commit ``.delay()`` paths of billing through the real broker and a real
``default`` worker (tests/workers.py): webhook inbox → processing task, rollup → alert
checks, period close → Stripe sync, credit note → Stripe refund (against localstripe).
Each test waits for the effect in the database, so it passes only if the message really
travelled."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
import stripe
from django.utils import timezone

from billing import tasks
from billing.models import BillingAccount, CreditNote, Invoice, SpendAlert, StripeEvent
from billing.pricing.closing import close_period
from billing.pricing.price_book import IMAGES_BASE, TRAINING_SECONDS
from billing.stripe import sync as stripe_sync
from tenants.models import AuditEvent
from tests.billing.helpers import record, staff_credit
from tests.billing.localstripe_server import SECRET, TEST_API_KEY
from tests.billing.test_stripe_flow import GOOD_CARD, LAST_MONTH, deliver
from tests.workers import celery_worker

_WAIT_S = 30


@pytest.fixture(scope="module")
def default_worker(django_db_setup, localstripe_url):
    """One ``default`` worker for the module, configured like production with Stripe."""
    env = {
        "BILLING_PROVIDER": "stripe",
        "STRIPE_API_KEY": TEST_API_KEY,
        "STRIPE_API_BASE": localstripe_url,
        "STRIPE_WEBHOOK_SECRETS": SECRET,
    }
    with celery_worker("default", env=env) as worker:
        yield worker


@pytest.fixture
def stripe_billing(stripe_billing, default_worker):
    """The web side configured like the worker (tests/billing/conftest.py), worker running."""
    return stripe_billing


def eventually(check: Callable, what: str):
    """``check()``'s first truthy answer, polling: the worker commits in its own time."""
    deadline = time.monotonic() + _WAIT_S
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(0.05)
    raise AssertionError(f"the worker did not {what} within {_WAIT_S} s")


def processed(event_id: str) -> StripeEvent:
    return eventually(
        lambda: StripeEvent.objects.filter(event_id=event_id, processed_at__isnull=False).first(),
        f"process {event_id}",
    )


def add_card_through_the_worker(handle, raw: stripe.StripeClient) -> str:
    with handle.context():
        intent = stripe_sync.setup_intent_create(handle.tenant)
    card = {"number": GOOD_CARD, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = raw.v1.payment_methods.create({"type": "card", "card": card})
    confirmed = raw.v1.setup_intents.confirm(intent.id, {"payment_method": method.id})
    event = processed(deliver("setup_intent.succeeded", confirmed.to_dict()))
    assert event.outcome == f"payment method {method.id} is the default"
    return method.id


def test_a_signed_webhook_is_stored_then_applied_by_the_worker(live_a, stripe_billing):
    method = add_card_through_the_worker(live_a, stripe_billing)

    with live_a.context():
        assert AuditEvent.objects.filter(
            action="billing.payment_method_set", target=method, actor="stripe"
        ).exists()
        customer = BillingAccount.objects.get().stripe_customer_id
    remote = stripe_billing.v1.customers.retrieve(customer).to_dict()
    assert remote["invoice_settings"]["default_payment_method"] == method


def test_a_close_with_the_stripe_provider_ends_with_the_invoice_paid_in_stripe(
    live_a, stripe_billing
):
    add_card_through_the_worker(live_a, stripe_billing)
    record(live_a, IMAGES_BASE, 12_345, LAST_MONTH.start + timedelta(hours=2))
    record(live_a, TRAINING_SECONDS, 600, LAST_MONTH.start + timedelta(days=3))

    (public_id,) = close_period(LAST_MONTH, tenant=live_a.tenant).created  # commits

    def synced():
        with live_a.context():
            return Invoice.objects.filter(public_id=public_id, status="paid").first()

    invoice = eventually(synced, f"sync and collect {public_id}")
    remote = stripe_billing.v1.invoices.retrieve(invoice.provider_invoice_id).to_dict()
    assert remote["metadata"]["modelhouse_invoice"] == public_id
    assert (remote["total"], remote["status"]) == (invoice.total_minor, "paid")
    assert invoice.total_minor == 617 + 48  # 12,345 images at 0.05, 600 s at 0.08


def test_a_credit_on_a_paid_stripe_invoice_is_refunded_by_the_worker(live_a, stripe_billing):
    add_card_through_the_worker(live_a, stripe_billing)
    record(live_a, IMAGES_BASE, 12_345, LAST_MONTH.start + timedelta(hours=2))
    (public_id,) = close_period(LAST_MONTH, tenant=live_a.tenant).created

    def paid():
        with live_a.context():
            return Invoice.objects.filter(public_id=public_id, status="paid").first()

    invoice = eventually(paid, f"sync and collect {public_id}")
    # A staff member's credit commits, then enqueues billing.refund_credit_note.
    issued = staff_credit(live_a, public_id, 17, reason="outage")
    assert issued.status == "issued"

    def refunded():
        with live_a.context():
            return CreditNote.objects.filter(
                public_id=issued.public_id, refund_status="refunded"
            ).first()

    note = eventually(refunded, "refund the credit note")
    remote = stripe_billing.v1.refunds.retrieve(note.provider_refund_id)
    intent = stripe_billing.v1.invoices.retrieve(invoice.provider_invoice_id).payment_intent
    assert (remote.amount, remote.payment_intent) == (17, intent)


def test_a_rollup_through_the_broker_checks_the_spend_alerts_of_who_used_something(
    live_a, live_b, default_worker
):
    for handle in (live_a, live_b):
        response = handle.client.patch("/v1/billing", {"spend_cap": 1_000}, format="json")
        assert response.status_code == 200
    record(live_a, IMAGES_BASE, 16_000, timezone.now() - timedelta(minutes=1))  # 80 %

    tasks.rollup_usage.delay()

    def alerted():
        with live_a.context():
            found = sorted(SpendAlert.objects.values_list("subject", "threshold_percent"))
        return found if len(found) == 2 else None

    assert eventually(alerted, "roll up and send the alerts") == [
        ("spend_cap", 50),
        ("spend_cap", 80),
    ]
    with live_b.context():
        assert not SpendAlert.objects.exists()  # no usage: not even checked
