"""Pushing local invoices to Stripe; runs in Celery tasks only, never on a request.

The local ledger is the source of truth: Stripe receives one invoice item per
local line (idempotency keys derived from the line ids, see
billing.stripe.provider), then the invoice, then a payment attempt.
Every step is safe to repeat, so a retried task finishes what a crashed one
began.  Stripe calls run outside database transactions; their results are
stored in short transactions afterwards.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from billing import services
from billing.models import BillingAccount, Invoice
from billing.selectors import invoice_line_list
from billing.stripe import stripe_provider
from billing.stripe.types import (
    CustomerRef,
    DraftLine,
    InvoiceDraft,
    PaymentFailedError,
    SetupIntentResult,
)
from tenants.models import Membership, Tenant
from tenants.roles import Role

logger = logging.getLogger(__name__)
ACTOR = "stripe"


def customer_ensure(tenant: Tenant, provider=None) -> BillingAccount:
    """The tenant's Stripe customer and subscription, created once and stored."""
    provider = provider or stripe_provider()
    account = services.billing_account(tenant)
    if account.stripe_customer_id and account.stripe_subscription_id:
        return account
    customer_id = account.stripe_customer_id or provider.ensure_customer(
        CustomerRef(tenant.public_id, tenant.name, _billing_email(tenant, account))
    )
    subscription_id = provider.ensure_subscription(customer_id, tenant.plan)
    BillingAccount.objects.filter(pk=account.pk).update(
        stripe_customer_id=customer_id, stripe_subscription_id=subscription_id
    )
    account.stripe_customer_id, account.stripe_subscription_id = customer_id, subscription_id
    return account


def setup_intent_create(tenant: Tenant, provider=None) -> SetupIntentResult:
    """Start collecting a card for off-session payments (the portal confirms it)."""
    provider = provider or stripe_provider()
    account = customer_ensure(tenant, provider)
    return provider.create_setup_intent(account.stripe_customer_id)


def invoice_sync(tenant: Tenant, invoice: Invoice, provider=None) -> Invoice:
    """Issue ``invoice`` in Stripe (once) and try to collect it.

    A declined payment marks the tenant past due (billing.services); Stripe's
    webhooks later report the same facts, and applying them twice is harmless.
    """
    provider = provider or stripe_provider()
    account = customer_ensure(tenant, provider)
    if not invoice.provider_invoice_id:
        lines = tuple(
            DraftLine(line.public_id, line.description, line.amount_minor)
            for line in invoice_line_list(tenant, invoice=invoice)
        )
        issued = provider.issue_invoice(
            InvoiceDraft(
                invoice_public_id=invoice.public_id,
                customer_id=account.stripe_customer_id,
                currency=invoice.currency,
                lines=lines,
                total_minor=invoice.total_minor,
            )
        )
        Invoice.objects.filter(pk=invoice.pk).update(
            provider_invoice_id=issued.provider_invoice_id, remote_status=issued.status
        )
        invoice.provider_invoice_id = issued.provider_invoice_id
    if invoice.status != Invoice.Status.OPEN or invoice.total_minor <= 0:
        return invoice
    try:
        status = provider.pay_invoice(invoice.provider_invoice_id)
    except PaymentFailedError as failure:
        logger.info("billing: payment of %s failed: %s", invoice.public_id, failure.message)
        return services.invoice_payment_failed(
            tenant, actor=ACTOR, invoice=invoice, at=timezone.now(), code=failure.code or ""
        )
    if status == "paid":
        with transaction.atomic():
            return services.invoice_mark_paid(tenant, actor=ACTOR, invoice=invoice)
    return invoice


def _billing_email(tenant: Tenant, account: BillingAccount) -> str:
    if account.billing_email:
        return account.billing_email
    owner = (
        Membership.objects.filter(tenant=tenant, role=Role.OWNER)
        .select_related("user")
        .order_by("pk")
        .first()
    )
    return owner.user.email if owner else ""
