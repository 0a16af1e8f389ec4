"""Billing providers: the contract (``base``) and its Stripe implementation.

``BILLING_PROVIDER=local`` (the default) needs no provider: invoices are issued
and settled in the database, and the operator's staff mark them paid
(billing.services).  ``stripe`` hands them to :func:`stripe_provider`.
"""

from django.conf import settings

from billing.providers.base import (
    BillingProvider,
    CustomerRef,
    DraftLine,
    InvoiceDraft,
    IssuedInvoice,
    PaymentFailedError,
    ProviderError,
    RemoteInvoice,
    SetupIntentResult,
)
from billing.providers.stripe_provider import StripeBillingProvider


def stripe_provider() -> StripeBillingProvider:
    if not settings.STRIPE_API_KEY:
        raise ValueError("BILLING_PROVIDER=stripe needs STRIPE_API_KEY")
    return StripeBillingProvider(
        api_key=settings.STRIPE_API_KEY, api_base=settings.STRIPE_API_BASE or None
    )


__all__ = [
    "BillingProvider",
    "CustomerRef",
    "DraftLine",
    "InvoiceDraft",
    "IssuedInvoice",
    "PaymentFailedError",
    "ProviderError",
    "RemoteInvoice",
    "SetupIntentResult",
    "StripeBillingProvider",
    "stripe_provider",
]
