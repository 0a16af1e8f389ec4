"""The Stripe side of billing: the provider (on the official client), its types,
webhook signatures and processing, invoice sync, refunds and reconciliation.

``BILLING_PROVIDER=local`` (the default) needs no provider: invoices are issued
and settled in the database, and the operator's staff mark them paid
(billing.services).  ``stripe`` hands them to :func:`stripe_provider`; there is
no provider interface beyond it, since nothing else would implement one.
"""

from django.conf import settings

from billing.stripe.provider import StripeBillingProvider
from billing.stripe.types import (
    CustomerRef,
    DraftLine,
    InvoiceDraft,
    IssuedInvoice,
    PaymentFailedError,
    ProviderError,
    RemoteInvoice,
    SetupIntentResult,
)


def stripe_provider() -> StripeBillingProvider:
    if not settings.STRIPE_API_KEY:
        raise ValueError("BILLING_PROVIDER=stripe needs STRIPE_API_KEY")
    return StripeBillingProvider(
        api_key=settings.STRIPE_API_KEY, api_base=settings.STRIPE_API_BASE or None
    )


__all__ = [
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
