"""The Stripe provider with the real ``stripe`` client against localstripe, and webhook checks."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest
import stripe

from billing.stripe.provider import (
    CREDIT_NOTE_KEY,
    INVOICE_KEY,
    PLAN_KEY,
    StripeBillingProvider,
)
from billing.stripe.signature import WebhookSignatureError, verify_webhook
from billing.stripe.types import (
    CustomerRef,
    DraftLine,
    InvoiceDraft,
    PaymentFailedError,
    ProviderError,
    RefundRequest,
)
from tests.billing.localstripe_server import TEST_API_KEY, running_localstripe

GOOD_CARD = "4242424242424242"
DECLINED_ON_CHARGE_CARD = "4000000000000341"  # attaches fine, every charge fails


@pytest.fixture
def provider(localstripe_url) -> StripeBillingProvider:
    return StripeBillingProvider(
        api_key=TEST_API_KEY, api_base=localstripe_url, max_network_retries=0
    )


@pytest.fixture
def raw(localstripe_url) -> stripe.StripeClient:
    """A plain client for what a browser or Stripe itself would do, and for inspection."""
    return stripe.StripeClient(
        TEST_API_KEY, base_addresses={"api": localstripe_url}, max_network_retries=0
    )


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def new_customer(provider: StripeBillingProvider, plan_code: str = "payg") -> str:
    tenant = unique("org")
    customer_id = provider.ensure_customer(CustomerRef(tenant, "Acme", f"{tenant}@example.com"))
    provider.ensure_subscription(customer_id, plan_code)
    return customer_id


def add_card(
    provider: StripeBillingProvider, raw: stripe.StripeClient, customer_id: str, number: str
) -> str:
    """What the portal does: confirm a SetupIntent with a card, then the webhook handler's part."""
    intent = provider.create_setup_intent(customer_id)
    card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = raw.v1.payment_methods.create({"type": "card", "card": card})
    confirmed = raw.v1.setup_intents.confirm(intent.id, {"payment_method": method.id})
    assert confirmed.status == "succeeded"
    provider.set_default_payment_method(customer_id, method.id)
    return method.id


def three_line_draft(customer_id: str) -> InvoiceDraft:
    invoice_id = unique("inv")
    lines = (
        DraftLine(f"{invoice_id}_fee", "Committed use plan fee", 50_000),
        DraftLine(f"{invoice_id}_l1", "images_base (mdl_a)", 15_000),
        DraftLine(f"{invoice_id}_l2", "training_seconds (ft_1)", 201),
    )
    return InvoiceDraft(invoice_id, customer_id, "usd", lines, total_minor=65_201)


class WorkerDied(Exception):
    pass


def crash_after_items(*args: object) -> None:
    """Stands in for ``_create_invoice`` to leave a draft's items without their invoice."""
    raise WorkerDied


def remote_line_amounts(raw: stripe.StripeClient, invoice_id: str) -> list[int]:
    lines = raw.v1.invoices.retrieve(invoice_id).lines.data
    return sorted(line.amount for line in lines if line.amount)  # drop the $0 plan line


# --- customers, payment methods, subscriptions ------------------------------


def test_a_customer_is_created_once_per_tenant(provider, raw):
    tenant = unique("org")
    ref = CustomerRef(tenant, "Acme", f"{tenant}@example.com")
    first = provider.ensure_customer(ref)
    assert provider.ensure_customer(ref) == first
    other_tenant_same_email = CustomerRef(unique("org"), "Acme 2", ref.email)
    assert provider.ensure_customer(other_tenant_same_email) != first
    remote = raw.v1.customers.retrieve(first)
    assert (remote.name, remote.email, remote.metadata["modelhouse_tenant"]) == (
        "Acme",
        ref.email,
        tenant,
    )


def test_a_setup_intent_collects_a_card_that_becomes_the_default(provider, raw):
    customer_id = new_customer(provider)
    intent = provider.create_setup_intent(customer_id)
    assert intent.id.startswith("seti_")
    assert intent.client_secret.startswith(intent.id + "_secret_")
    method_id = add_card(provider, raw, customer_id, GOOD_CARD)
    customer = raw.v1.customers.retrieve(customer_id)
    assert customer.invoice_settings.default_payment_method == method_id


def test_a_subscription_is_created_once_and_relabelled_on_plan_change(provider, raw):
    tenant = unique("org")
    customer_id = provider.ensure_customer(CustomerRef(tenant, "Acme", f"{tenant}@example.com"))
    subscription_id = provider.ensure_subscription(customer_id, "payg")
    assert provider.ensure_subscription(customer_id, "payg") == subscription_id
    assert provider.ensure_subscription(customer_id, "committed") == subscription_id
    subscriptions = raw.v1.subscriptions.list({"customer": customer_id}).data
    assert [s.id for s in subscriptions] == [subscription_id]
    # Real Stripe now labels it "committed"; localstripe ignores metadata updates
    # of subscriptions, so only the label given at creation can be checked here.
    assert subscriptions[0].metadata[PLAN_KEY] == "payg"
    assert subscriptions[0].status == "active"  # a $0 plan needs no card


# --- invoices -----------------------------------------------------------------


def test_an_invoice_with_three_lines_has_the_drafts_total(provider, raw):
    customer_id = new_customer(provider)
    draft = three_line_draft(customer_id)
    issued = provider.issue_invoice(draft)
    assert issued.total_minor == 65_201
    assert issued.status == "draft"
    remote = provider.get_invoice(issued.provider_invoice_id)
    assert (remote.total_minor, remote.currency) == (65_201, "usd")
    assert remote.metadata[INVOICE_KEY] == draft.invoice_public_id
    assert remote_line_amounts(raw, issued.provider_invoice_id) == [201, 15_000, 50_000]


def test_issuing_the_same_draft_twice_creates_nothing_new(provider, raw):
    customer_id = new_customer(provider)
    draft = three_line_draft(customer_id)
    first = provider.issue_invoice(draft)
    invoices_before = [i.id for i in provider.list_invoices(customer_id)]
    again = provider.issue_invoice(draft)
    assert again == first
    assert [i.id for i in provider.list_invoices(customer_id)] == invoices_before
    assert remote_line_amounts(raw, first.provider_invoice_id) == [201, 15_000, 50_000]
    assert raw.v1.invoice_items.list({"customer": customer_id}).data == []  # none pending


class RecordingHttpClient(stripe.RequestsClient):
    """stripe-python's own transport, noting the idempotency key of every POST."""

    def __init__(self) -> None:
        super().__init__(timeout=10)
        self.keys: list[tuple[str, str]] = []

    def request(self, method, url, headers, post_data=None):
        if method == "post":
            self.keys.append((url.split("/v1/")[1], (headers or {}).get("Idempotency-Key", "")))
        return super().request(method, url, headers, post_data)


def test_creates_carry_idempotency_keys_derived_from_our_ids(localstripe_url):
    recorder = RecordingHttpClient()
    provider = StripeBillingProvider(
        api_key=TEST_API_KEY, api_base=localstripe_url, max_network_retries=0, http_client=recorder
    )
    tenant = unique("org")
    customer_id = provider.ensure_customer(CustomerRef(tenant, "Acme", f"{tenant}@example.com"))
    provider.ensure_subscription(customer_id, "payg")
    draft = three_line_draft(customer_id)
    provider.issue_invoice(draft)
    keys = dict(reversed(recorder.keys))  # the first POST to each path
    assert keys["customers"] == f"cus-{tenant}"
    assert keys["subscriptions"] == f"sub-{customer_id}"
    assert keys["invoices"] == f"in-{draft.invoice_public_id}"
    item_keys = [key for path, key in recorder.keys if path == "invoiceitems"]
    assert item_keys == [f"ii-{line.line_id}" for line in draft.lines]


def test_a_retry_after_a_crash_reuses_the_items_already_created(provider, raw, monkeypatch):
    customer_id = new_customer(provider)
    draft = three_line_draft(customer_id)

    with monkeypatch.context() as patch:
        patch.setattr(provider, "_create_invoice", crash_after_items)
        with pytest.raises(WorkerDied):
            provider.issue_invoice(draft)
    assert len(raw.v1.invoice_items.list({"customer": customer_id}).data) == 3

    issued = provider.issue_invoice(draft)
    assert issued.total_minor == draft.total_minor
    assert remote_line_amounts(raw, issued.provider_invoice_id) == [201, 15_000, 50_000]


def test_items_left_by_another_draft_block_issuing_without_side_effects(provider, raw, monkeypatch):
    customer_id = new_customer(provider)
    interrupted = three_line_draft(customer_id)
    with monkeypatch.context() as patch:
        patch.setattr(provider, "_create_invoice", crash_after_items)
        with pytest.raises(WorkerDied):
            provider.issue_invoice(interrupted)
    invoices_before = provider.list_invoices(customer_id)

    with pytest.raises(ProviderError, match=r"not part of invoice .*issue or delete it first"):
        provider.issue_invoice(three_line_draft(customer_id))
    assert provider.list_invoices(customer_id) == invoices_before
    assert len(raw.v1.invoice_items.list({"customer": customer_id}).data) == 3


def test_issuing_needs_a_subscription_and_matching_currency(provider):
    tenant = unique("org")
    customer_id = provider.ensure_customer(CustomerRef(tenant, "Acme", f"{tenant}@example.com"))
    with pytest.raises(ProviderError, match="call ensure_subscription first"):
        provider.issue_invoice(three_line_draft(customer_id))
    euro = InvoiceDraft(unique("inv"), customer_id, "eur", (), total_minor=0)
    with pytest.raises(ProviderError, match="in eur, this provider bills in usd"):
        provider.issue_invoice(euro)


def test_a_draft_whose_lines_do_not_add_up_is_refused():
    with pytest.raises(ValueError, match="lines add up to 3, not the total 4"):
        InvoiceDraft("inv_x", "cus_x", "usd", (DraftLine("l1", "a", 3),), total_minor=4)


# --- payment ------------------------------------------------------------------


def test_paying_an_invoice_sets_it_paid_and_paying_again_is_harmless(provider, raw):
    customer_id = new_customer(provider)
    add_card(provider, raw, customer_id, GOOD_CARD)
    issued = provider.issue_invoice(three_line_draft(customer_id))
    assert provider.pay_invoice(issued.provider_invoice_id) == "paid"
    assert provider.get_invoice(issued.provider_invoice_id).status == "paid"
    assert provider.pay_invoice(issued.provider_invoice_id) == "paid"
    statuses = {i.id: i.status for i in provider.list_invoices(customer_id)}
    assert statuses[issued.provider_invoice_id] == "paid"


def test_a_card_declined_on_charge_fails_payment_with_a_clear_error(provider, raw):
    customer_id = new_customer(provider)
    add_card(provider, raw, customer_id, DECLINED_ON_CHARGE_CARD)
    issued = provider.issue_invoice(three_line_draft(customer_id))
    with pytest.raises(PaymentFailedError, match="Your card was declined") as failure:
        provider.pay_invoice(issued.provider_invoice_id)
    assert failure.value.code == "card_declined"
    assert issued.provider_invoice_id in str(failure.value)
    assert provider.get_invoice(issued.provider_invoice_id).status == "open"


def test_paying_without_a_payment_method_fails_before_calling_stripe_pay(provider):
    customer_id = new_customer(provider)
    issued = provider.issue_invoice(three_line_draft(customer_id))
    with pytest.raises(PaymentFailedError, match="no payment method") as failure:
        provider.pay_invoice(issued.provider_invoice_id)
    assert failure.value.code == "no_payment_method"
    assert provider.get_invoice(issued.provider_invoice_id).status == "draft"


def test_a_refund_is_made_once_per_credit_note_and_only_on_a_paid_invoice(provider, raw):
    customer_id = new_customer(provider)
    add_card(provider, raw, customer_id, DECLINED_ON_CHARGE_CARD)
    issued = provider.issue_invoice(three_line_draft(customer_id))
    request = RefundRequest(unique("cn"), "inv_x", issued.provider_invoice_id, 201, "usd")
    with pytest.raises(PaymentFailedError):
        provider.pay_invoice(issued.provider_invoice_id)
    with pytest.raises(ProviderError, match="is open in Stripe; only a paid invoice"):
        provider.refund_invoice(request)

    add_card(provider, raw, customer_id, GOOD_CARD)
    provider.pay_invoice(issued.provider_invoice_id)
    first = provider.refund_invoice(request)
    assert provider.refund_invoice(request) == first  # a retry finds it by its metadata
    other = provider.refund_invoice(
        RefundRequest(unique("cn"), "inv_x", request.provider_invoice_id, 50, "usd")
    )

    intent = raw.v1.invoices.retrieve(issued.provider_invoice_id).payment_intent
    refunds = raw.v1.refunds.list({"payment_intent": intent}).data
    assert sorted((r.id, r.amount) for r in refunds) == sorted([(first.id, 201), (other.id, 50)])
    assert (first.status, first.metadata[CREDIT_NOTE_KEY]) == (
        "succeeded",
        request.credit_note_public_id,
    )
    assert provider.get_refund(first.id) == first
    assert provider.get_refund("re_missing") is None


def test_stripe_errors_are_wrapped_in_provider_error(provider):
    with pytest.raises(ProviderError, match=r"retrieve invoice in_missing \(HTTP 404\)"):
        provider.get_invoice("in_missing")


def test_an_unreachable_stripe_is_a_provider_error():
    with running_localstripe() as url:
        dead = url  # the server is gone once the block ends
    offline = StripeBillingProvider(api_key=TEST_API_KEY, api_base=dead, max_network_retries=0)
    with pytest.raises(ProviderError, match="Stripe could not retrieve invoice"):
        offline.get_invoice("in_any")


# --- webhook signatures -------------------------------------------------------

EVENT = {"id": "evt_1", "object": "event", "type": "invoice.paid", "data": {"object": {}}}
PAYLOAD = json.dumps(EVENT).encode()


def stripe_header(payload: bytes, *secrets: str, timestamp: int | None = None) -> str:
    """Sign as Stripe documents it: HMAC-SHA256 of "t.body", one v1 per secret."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    signatures = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets]
    return ",".join([f"t={timestamp}"] + [f"v1={sig}" for sig in signatures])


def test_a_correctly_signed_webhook_gives_the_event():
    header = stripe.WebhookSignature.generate_signature_header(PAYLOAD.decode(), "whsec_a")
    assert verify_webhook(PAYLOAD, header, ["whsec_a"]) == EVENT
    assert verify_webhook(PAYLOAD, stripe_header(PAYLOAD, "whsec_a"), ["whsec_a"]) == EVENT


def test_rotated_secrets_are_accepted_on_either_side():
    # We roll our secret: the old one is still configured first.
    assert verify_webhook(PAYLOAD, stripe_header(PAYLOAD, "whsec_new"), ["whsec_old", "whsec_new"])
    # Stripe rolls its secret: the header carries one v1 per active secret.
    header = stripe_header(PAYLOAD, "whsec_new", "whsec_old")
    assert verify_webhook(PAYLOAD, header, ["whsec_old"]) == EVENT


def test_an_old_timestamp_is_rejected_as_a_replay():
    stale = stripe_header(PAYLOAD, "whsec_a", timestamp=int(time.time()) - 301)
    with pytest.raises(WebhookSignatureError, match="tolerance"):
        verify_webhook(PAYLOAD, stale, ["whsec_other", "whsec_a"])
    recent = stripe_header(PAYLOAD, "whsec_a", timestamp=int(time.time()) - 200)
    assert verify_webhook(PAYLOAD, recent, ["whsec_a"]) == EVENT


def test_a_tampered_body_or_unknown_secret_is_rejected():
    header = stripe_header(PAYLOAD, "whsec_a")
    tampered = PAYLOAD.replace(b"invoice.paid", b"invoice.void")
    with pytest.raises(WebhookSignatureError, match="No signatures found matching"):
        verify_webhook(tampered, header, ["whsec_a"])
    with pytest.raises(WebhookSignatureError, match="No signatures found matching"):
        verify_webhook(PAYLOAD, header, ["whsec_b"])


def test_missing_header_secret_or_event_id_is_rejected():
    with pytest.raises(WebhookSignatureError, match="header is missing"):
        verify_webhook(PAYLOAD, "", ["whsec_a"])
    with pytest.raises(WebhookSignatureError, match="no webhook signing secret"):
        verify_webhook(PAYLOAD, stripe_header(PAYLOAD, "whsec_a"), ["", ""])
    with pytest.raises(WebhookSignatureError, match="Unable to extract timestamp"):
        verify_webhook(PAYLOAD, "v1=abc", ["whsec_a"])
    not_an_event = b'{"hello": "world"}'
    with pytest.raises(WebhookSignatureError, match="not a Stripe event"):
        verify_webhook(not_an_event, stripe_header(not_an_event, "whsec_a"), ["whsec_a"])
