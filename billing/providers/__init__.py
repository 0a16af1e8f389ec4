"""Billing providers: the contract (``base``) and its Stripe implementation.

The local provider, which settles invoices in the database, lives with the
billing services; settings choose the provider.
"""

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
]
