"""The billing provider chosen by ``BILLING_PROVIDER``: ``local`` (default) or ``stripe``."""

from __future__ import annotations

from django.conf import settings

from billing.providers.base import BillingProvider
from billing.providers.local import LocalBillingProvider
from billing.providers.stripe_provider import StripeBillingProvider


def get_provider() -> BillingProvider:
    if settings.BILLING_PROVIDER == "stripe":
        return stripe_provider()
    if settings.BILLING_PROVIDER == "local":
        return LocalBillingProvider()
    raise ValueError(
        f"BILLING_PROVIDER must be 'local' or 'stripe', not {settings.BILLING_PROVIDER!r}"
    )


def stripe_provider() -> StripeBillingProvider:
    if not settings.STRIPE_API_KEY:
        raise ValueError("BILLING_PROVIDER=stripe needs STRIPE_API_KEY")
    return StripeBillingProvider(
        api_key=settings.STRIPE_API_KEY, api_base=settings.STRIPE_API_BASE or None
    )
