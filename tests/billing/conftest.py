"""Billing test set-up: localstripe once per module that asks for it, no ledger lag."""

from __future__ import annotations

import pytest

from tests.billing.localstripe_server import running_localstripe


@pytest.fixture(scope="module")
def localstripe_url():
    with running_localstripe() as url:
        yield url


@pytest.fixture(autouse=True)
def _no_ledger_lag(settings):
    # Production trails the clock by a couple of minutes (see billing.rollup);
    # tests roll up what they have just recorded.
    settings.BILLING_LEDGER_LAG_S = 0
