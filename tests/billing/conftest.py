"""Billing test set-up: localstripe once per module that asks for it, Stripe settings
pointing at it, no ledger lag."""

from __future__ import annotations

import pytest
import stripe

from tests.billing.localstripe_server import SECRET, TEST_API_KEY, running_localstripe


@pytest.fixture(scope="module")
def localstripe_url():
    with running_localstripe() as url:
        yield url


@pytest.fixture
def stripe_billing(settings, localstripe_url):
    """This process configured for Stripe against localstripe; a raw client for checks."""
    settings.BILLING_PROVIDER = "stripe"
    settings.STRIPE_API_KEY = TEST_API_KEY
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    return stripe.StripeClient(
        TEST_API_KEY, base_addresses={"api": localstripe_url}, max_network_retries=0
    )
