"""The Stripe billing provider, on the official ``stripe`` client.

Stripe never prices anything here: the local ledger rates every invoice and
Stripe receives one invoice item per rated line, then the invoice, then
collects it. Only calls that both real Stripe and ``localstripe`` (the test
double, see PITFALLS.md) accept are used: customers, payment methods, setup
intents, legacy plans, subscriptions, invoice items, invoices with pay, and
refunds of an invoice's payment intent. No prices, meters, Checkout, finalize
(paying a draft invoice finalizes it) or credit notes (a credit on a paid
invoice becomes a refund instead).

Why a subscription: an invoice can only be created for a customer with one
(localstripe requires it; real Stripe then pulls the subscription's pending
items). Each customer gets one subscription to a $0 monthly plan, labelled
with the Modelhouse plan code in its metadata; the base fee arrives as an
ordinary rated line like any other.

Idempotency, in two layers because a Celery task may run twice and
localstripe ignores ``Idempotency-Key`` headers:

* Every create carries an idempotency key derived from our own ids
  (``ii-<line id>``, ``in-<invoice public id>``, ``cus-<tenant id>``,
  ``re-<credit note id>``), so real
  Stripe replays the first answer within its 24-hour window.
* Before creating, the provider looks for what a previous attempt left:
  customers by email and tenant metadata, pending invoice items by line id,
  invoices by ``metadata["modelhouse_invoice"]``, refunds of the invoice's
  payment by ``metadata["modelhouse_credit_note"]``.

Invoices for one customer must be issued one at a time (the billing-period
task handles a tenant at a time): pending invoice items are per customer, and
an item left by another draft would land on this invoice. The provider refuses
to issue in that case and checks the remote total against the draft's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import stripe

from billing.stripe.types import (
    CustomerRef,
    InvoiceDraft,
    IssuedInvoice,
    PaymentFailedError,
    ProviderError,
    RefundRequest,
    RemoteInvoice,
    RemoteRefund,
    SetupIntentResult,
)

TENANT_KEY = "modelhouse_tenant"
PLAN_KEY = "modelhouse_plan"
INVOICE_KEY = "modelhouse_invoice"
LINE_KEY = "modelhouse_line"
CREDIT_NOTE_KEY = "modelhouse_credit_note"

_PAGE = 100
_COLLECTIBLE = ("draft", "open")


class StripeBillingProvider:
    """Issues and collects invoices in a Stripe account (or localstripe at ``api_base``)."""

    def __init__(
        self,
        *,
        api_key: str,
        api_base: str | None = None,
        currency: str = "usd",
        max_network_retries: int = 2,
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        """``api_base`` replaces ``https://api.stripe.com`` (settings' ``STRIPE_API_BASE``).

        ``http_client`` is stripe-python's transport, for timeouts or for tests.
        """
        base_addresses = {"api": api_base} if api_base else {}
        self._client = stripe.StripeClient(
            api_key,
            base_addresses=base_addresses,
            max_network_retries=max_network_retries,
            http_client=http_client,
        )
        self._currency = currency

    # --- customers and payment methods ---------------------------------------

    def ensure_customer(self, customer: CustomerRef) -> str:
        """The Stripe customer of this tenant, created once.

        Callers should store the id; the look-up by email and tenant metadata
        only catches a retry after a crash, not an email changed meanwhile.
        """
        with _stripe_errors("look up customer"):
            matches = self._client.v1.customers.list({"email": customer.email, "limit": _PAGE})
            for remote in matches.auto_paging_iter():
                if _metadata(remote).get(TENANT_KEY) == customer.tenant_public_id:
                    return remote.id
        with _stripe_errors("create customer"):
            created = self._client.v1.customers.create(
                {
                    "name": customer.name,
                    "email": customer.email,
                    "metadata": {TENANT_KEY: customer.tenant_public_id},
                },
                {"idempotency_key": f"cus-{customer.tenant_public_id}"},
            )
        return created.id

    def create_setup_intent(self, customer_id: str) -> SetupIntentResult:
        """A SetupIntent for off-session card payments; the portal confirms it with Stripe.js."""
        with _stripe_errors("create setup intent"):
            intent = self._client.v1.setup_intents.create(
                {"customer": customer_id, "usage": "off_session"}
            )
        return SetupIntentResult(id=intent.id, client_secret=intent.client_secret)

    def set_default_payment_method(self, customer_id: str, payment_method_id: str) -> None:
        """Attach a payment method (from a succeeded SetupIntent) and charge invoices to it."""
        with _stripe_errors("set default payment method"):
            method = self._client.v1.payment_methods.retrieve(payment_method_id)
            if method.customer != customer_id:
                self._client.v1.payment_methods.attach(payment_method_id, {"customer": customer_id})
            self._client.v1.customers.update(
                customer_id, {"invoice_settings": {"default_payment_method": payment_method_id}}
            )

    # --- subscriptions ---------------------------------------------------------

    def ensure_subscription(self, customer_id: str, plan_code: str) -> str:
        """The customer's one Modelhouse subscription, labelled with ``plan_code``.

        A plan change relabels the existing subscription instead of adding one
        (the label is informational: localstripe ignores the update).
        """
        existing = self._modelhouse_subscription(customer_id)
        if existing is not None:
            if _metadata(existing).get(PLAN_KEY) != plan_code:
                with _stripe_errors("relabel subscription"):
                    self._client.v1.subscriptions.update(
                        existing.id, {"metadata": {PLAN_KEY: plan_code}}
                    )
            return existing.id
        plan_id = self._ensure_zero_plan()
        with _stripe_errors("create subscription"):
            created = self._client.v1.subscriptions.create(
                {
                    "customer": customer_id,
                    "items": [{"plan": plan_id}],
                    "metadata": {PLAN_KEY: plan_code},
                },
                {"idempotency_key": f"sub-{customer_id}"},
            )
        return created.id

    def _modelhouse_subscription(self, customer_id: str) -> Any | None:
        with _stripe_errors("list subscriptions"):
            subscriptions = self._client.v1.subscriptions.list(
                {"customer": customer_id, "limit": _PAGE}
            )
            for subscription in subscriptions.auto_paging_iter():
                if PLAN_KEY in _metadata(subscription):
                    return subscription
        return None

    def _ensure_zero_plan(self) -> str:
        plan_id = f"modelhouse-usage-{self._currency}"
        if self._plan_exists(plan_id):
            return plan_id
        try:
            self._client.v1.plans.create(
                {
                    "id": plan_id,
                    "amount": 0,
                    "currency": self._currency,
                    "interval": "month",
                    "product": {"name": "Modelhouse usage"},
                },
                {"idempotency_key": f"plan-{plan_id}"},
            )
        except stripe.StripeError as error:
            # Another worker may have created it between our look-up and create.
            if not self._plan_exists(plan_id):
                raise _provider_error("create plan", error) from error
        return plan_id

    def _plan_exists(self, plan_id: str) -> bool:
        try:
            self._client.v1.plans.retrieve(plan_id)
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                return False
            raise _provider_error(f"look up plan {plan_id}", error) from error
        except stripe.StripeError as error:
            raise _provider_error(f"look up plan {plan_id}", error) from error
        return True

    # --- invoices --------------------------------------------------------------

    def issue_invoice(self, draft: InvoiceDraft) -> IssuedInvoice:
        """One invoice item per draft line, then the invoice; a repeat returns the first.

        Raises ``ProviderError`` if the customer has pending items of another
        draft, or if Stripe's total differs from the draft's.
        """
        if draft.currency != self._currency:
            raise ProviderError(
                f"invoice {draft.invoice_public_id} is in {draft.currency}, "
                f"this provider bills in {self._currency}"
            )
        existing = self._find_invoice(draft.customer_id, draft.invoice_public_id)
        if existing is None:
            subscription = self._modelhouse_subscription(draft.customer_id)
            if subscription is None:
                raise ProviderError(
                    f"customer {draft.customer_id} has no Modelhouse subscription; "
                    "call ensure_subscription first"
                )
            self._ensure_invoice_items(draft, subscription.id)
            existing = self._create_invoice(draft, subscription.id)
        if existing.total != draft.total_minor:
            raise ProviderError(
                f"Stripe invoice {existing.id} totals {existing.total}, "
                f"draft {draft.invoice_public_id} totals {draft.total_minor}"
            )
        return IssuedInvoice(
            provider_invoice_id=existing.id, total_minor=existing.total, status=existing.status
        )

    def _ensure_invoice_items(self, draft: InvoiceDraft, subscription_id: str) -> None:
        pending = self._pending_items_by_line(draft)
        for line in draft.lines:
            item = pending.get(line.line_id)
            if item is not None:
                if item.amount != line.amount_minor:
                    raise ProviderError(
                        f"pending Stripe item {item.id} for line {line.line_id} is "
                        f"{item.amount}, the draft says {line.amount_minor}"
                    )
                continue
            with _stripe_errors(f"create invoice item for line {line.line_id}"):
                self._client.v1.invoice_items.create(
                    {
                        "customer": draft.customer_id,
                        "subscription": subscription_id,
                        "amount": line.amount_minor,
                        "currency": draft.currency,
                        "description": line.description,
                        "metadata": {
                            INVOICE_KEY: draft.invoice_public_id,
                            LINE_KEY: line.line_id,
                        },
                    },
                    {"idempotency_key": f"ii-{line.line_id}"},
                )

    def _pending_items_by_line(self, draft: InvoiceDraft) -> dict[str, Any]:
        """Items not yet on an invoice, keyed by line id; refuses items of other drafts."""
        line_ids = {line.line_id for line in draft.lines}
        by_line: dict[str, Any] = {}
        with _stripe_errors("list pending invoice items"):
            items = self._client.v1.invoice_items.list(
                {"customer": draft.customer_id, "limit": _PAGE}
            )
            for item in items.auto_paging_iter():
                if item.invoice is not None:
                    continue
                metadata = _metadata(item)
                if (
                    metadata.get(INVOICE_KEY) != draft.invoice_public_id
                    or metadata.get(LINE_KEY) not in line_ids
                ):
                    raise ProviderError(
                        f"customer {draft.customer_id} has a pending invoice item {item.id} "
                        f"that is not part of invoice {draft.invoice_public_id}; "
                        "issue or delete it first"
                    )
                by_line[metadata[LINE_KEY]] = item
        return by_line

    def _create_invoice(self, draft: InvoiceDraft, subscription_id: str) -> Any:
        metadata = {INVOICE_KEY: draft.invoice_public_id}
        with _stripe_errors(f"create invoice {draft.invoice_public_id}"):
            invoice = self._client.v1.invoices.create(
                {
                    "customer": draft.customer_id,
                    "subscription": subscription_id,
                    "description": f"Modelhouse invoice {draft.invoice_public_id}",
                    "metadata": metadata,
                    "pending_invoice_items_behavior": "include",
                },
                {"idempotency_key": f"in-{draft.invoice_public_id}"},
            )
            # localstripe drops metadata given at creation; set it explicitly.
            if _metadata(invoice).get(INVOICE_KEY) != draft.invoice_public_id:
                invoice = self._client.v1.invoices.update(invoice.id, {"metadata": metadata})
        return invoice

    def _find_invoice(self, customer_id: str, invoice_public_id: str) -> Any | None:
        with _stripe_errors("list invoices"):
            invoices = self._client.v1.invoices.list({"customer": customer_id, "limit": _PAGE})
            for invoice in invoices.auto_paging_iter():
                if _metadata(invoice).get(INVOICE_KEY) == invoice_public_id:
                    return invoice
        return None

    def pay_invoice(self, provider_invoice_id: str) -> str:
        """Charge the customer's default payment method; a paid invoice stays paid.

        Raises ``PaymentFailedError`` (code ``card_declined``, ``no_payment_method``,
        ...) when the money cannot be collected, ``ProviderError`` otherwise.
        """
        with _stripe_errors(f"retrieve invoice {provider_invoice_id}"):
            invoice = self._client.v1.invoices.retrieve(provider_invoice_id)
        if invoice.status == "paid":
            return "paid"
        if invoice.status not in _COLLECTIBLE:
            raise ProviderError(f"invoice {provider_invoice_id} is {invoice.status}, not payable")
        if invoice.total > 0 and not self._has_payment_method(invoice.customer):
            raise PaymentFailedError(
                f"customer {invoice.customer} has no payment method for invoice "
                f"{provider_invoice_id}",
                code="no_payment_method",
            )
        with _stripe_errors(f"pay invoice {provider_invoice_id}"):
            invoice = self._client.v1.invoices.pay(provider_invoice_id)
        if invoice.status != "paid":
            # localstripe answers a declined charge with an open invoice
            # where real Stripe raises a CardError.
            code, message = self._payment_error(invoice)
            raise PaymentFailedError(
                f"payment of invoice {provider_invoice_id} failed: {message}", code=code
            )
        return invoice.status

    def _has_payment_method(self, customer_id: str) -> bool:
        with _stripe_errors(f"retrieve customer {customer_id}"):
            customer = self._client.v1.customers.retrieve(customer_id)
        settings = getattr(customer, "invoice_settings", None)
        default_method = getattr(settings, "default_payment_method", None)
        return bool(default_method or getattr(customer, "default_source", None))

    def _payment_error(self, invoice: Any) -> tuple[str | None, str]:
        intent_id = getattr(invoice, "payment_intent", None)
        if not intent_id:
            return None, f"invoice is {invoice.status}"
        with _stripe_errors("retrieve payment intent"):
            intent = self._client.v1.payment_intents.retrieve(intent_id)
        error = getattr(intent, "last_payment_error", None)
        message = getattr(error, "message", None) or f"payment intent is {intent.status}"
        return getattr(error, "code", None), message

    def get_invoice(self, provider_invoice_id: str) -> RemoteInvoice:
        with _stripe_errors(f"retrieve invoice {provider_invoice_id}"):
            return _remote(self._client.v1.invoices.retrieve(provider_invoice_id))

    def list_invoices(self, customer_id: str) -> list[RemoteInvoice]:
        with _stripe_errors(f"list invoices of {customer_id}"):
            invoices = self._client.v1.invoices.list({"customer": customer_id, "limit": _PAGE})
            return [_remote(invoice) for invoice in invoices.auto_paging_iter()]

    # --- refunds ---------------------------------------------------------------

    def refund_invoice(self, request: RefundRequest) -> RemoteRefund:
        """Refund part of a paid invoice's payment, once per credit note.

        A refund an earlier attempt made is found on the payment by its credit
        note metadata and returned instead of a second one.  Raises
        ``ProviderError`` if the invoice is not paid in Stripe, has no payment,
        or already carries this credit note's refund with another amount.
        """
        intent_id = self._paid_intent(request.provider_invoice_id)
        refund = self._find_refund(intent_id, request.credit_note_public_id)
        if refund is None:
            with _stripe_errors(f"refund credit note {request.credit_note_public_id}"):
                refund = self._client.v1.refunds.create(
                    {
                        "payment_intent": intent_id,
                        "amount": request.amount_minor,
                        "metadata": {
                            CREDIT_NOTE_KEY: request.credit_note_public_id,
                            INVOICE_KEY: request.invoice_public_id,
                        },
                    },
                    {"idempotency_key": f"re-{request.credit_note_public_id}"},
                )
        if refund.amount != request.amount_minor:
            raise ProviderError(
                f"Stripe refund {refund.id} of credit note {request.credit_note_public_id} "
                f"is {refund.amount}, the credit note {request.amount_minor}"
            )
        return _remote_refund(refund)

    def _paid_intent(self, provider_invoice_id: str) -> str:
        with _stripe_errors(f"retrieve invoice {provider_invoice_id}"):
            invoice = self._client.v1.invoices.retrieve(provider_invoice_id)
        if invoice.status != "paid":
            raise ProviderError(
                f"invoice {provider_invoice_id} is {invoice.status} in Stripe; "
                "only a paid invoice can be refunded"
            )
        intent_id = getattr(invoice, "payment_intent", None) or self._intent_of_payments(
            provider_invoice_id
        )
        if not intent_id:
            raise ProviderError(f"invoice {provider_invoice_id} has no payment to refund")
        return intent_id

    def _intent_of_payments(self, provider_invoice_id: str) -> str | None:
        # Stripe API versions since 2025-03-31 moved ``payment_intent`` off the
        # invoice onto its invoice payments; localstripe still sets it on the
        # invoice and has no invoice payments, so this runs against real Stripe only.
        with _stripe_errors(f"list payments of invoice {provider_invoice_id}"):
            payments = self._client.v1.invoice_payments.list(
                {"invoice": provider_invoice_id, "limit": _PAGE}
            )
            for payment in payments.auto_paging_iter():
                intent_id = getattr(getattr(payment, "payment", None), "payment_intent", None)
                if getattr(payment, "status", None) == "paid" and intent_id:
                    return intent_id
        return None

    def _find_refund(self, intent_id: str, credit_note_public_id: str) -> Any | None:
        with _stripe_errors(f"list refunds of {intent_id}"):
            refunds = self._client.v1.refunds.list({"payment_intent": intent_id, "limit": _PAGE})
            for refund in refunds.auto_paging_iter():
                if _metadata(refund).get(CREDIT_NOTE_KEY) == credit_note_public_id:
                    return refund
        return None

    def get_refund(self, refund_id: str) -> RemoteRefund | None:
        try:
            refund = self._client.v1.refunds.retrieve(refund_id)
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                return None
            raise _provider_error(f"retrieve refund {refund_id}", error) from error
        except stripe.StripeError as error:
            raise _provider_error(f"retrieve refund {refund_id}", error) from error
        return _remote_refund(refund)


def _remote_refund(refund: Any) -> RemoteRefund:
    return RemoteRefund(
        id=refund.id,
        amount_minor=refund.amount,
        status=refund.status,
        currency=refund.currency,
        metadata=_metadata(refund),
    )


def _remote(invoice: Any) -> RemoteInvoice:
    return RemoteInvoice(
        id=invoice.id,
        total_minor=invoice.total,
        status=invoice.status,
        currency=invoice.currency,
        metadata=_metadata(invoice),
    )


def _metadata(obj: Any) -> dict[str, str]:
    # stripe-python objects are not dicts; absent fields raise AttributeError.
    metadata = getattr(obj, "metadata", None)
    return metadata.to_dict() if metadata else {}


@contextmanager
def _stripe_errors(action: str) -> Iterator[None]:
    """Turn any Stripe error raised inside into a ``ProviderError`` naming ``action``."""
    try:
        yield
    except stripe.StripeError as error:
        raise _provider_error(action, error) from error


def _provider_error(action: str, error: stripe.StripeError) -> ProviderError:
    detail = error.user_message or str(error) or type(error).__name__
    status = f" (HTTP {error.http_status})" if error.http_status else ""
    message = f"Stripe could not {action}{status}: {detail}"
    if isinstance(error, stripe.CardError):
        return PaymentFailedError(message, code=error.code)
    return ProviderError(message, code=error.code)
