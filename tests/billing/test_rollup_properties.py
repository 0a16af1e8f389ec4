"""Property: whatever events arrive, in whatever order and however late, the rollups add up
to the ledger after each run, and a period's invoice lines add up to its events."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.ledger.periods import period_containing
from billing.ledger.rollup import rollup_usage
from billing.models import InvoiceLine, UsageEvent, UsageRollup
from billing.pricing.closing import close_period
from billing.pricing.price_book import METERS
from tenants.scoping import unscoped
from tests.billing.helpers import record
from tests.factories import make_tenant

LAST_MONTH = period_containing(timezone.now()).previous()

event = st.tuples(
    st.integers(0, 1),  # which tenant
    st.sampled_from(METERS),
    st.sampled_from(["mdl_a", "mdl_b"]),
    st.sampled_from(["", "key_1"]),
    st.integers(0, 24 * 62 - 1),  # hours since the start of two months ago: late ones included
    st.integers(1, 5_000),
)
# Events arrive in batches; a rollup runs after each batch.
batches = st.lists(st.lists(event, max_size=8), min_size=1, max_size=4)


def totals(queryset) -> Counter:
    rows = queryset.values_list("tenant_id", "meter", "model_ref", "api_key_ref").annotate(
        q=Sum("quantity")
    )
    return Counter({tuple(row[:4]): row[4] for row in rows})


# Committed transactions, as in production: a rollup reads what other transactions
# committed before it (billing.ledger.rollup), never what its own wrote after it.
@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=batches)
def test_rollups_always_add_up_to_the_ledger(tenant_a, tenant_b, batches):
    handles = (tenant_a, tenant_b)
    origin = LAST_MONTH.previous().start
    for batch in batches:
        for who, meter, model, key, hour, quantity in batch:
            record(
                handles[who],
                meter,
                quantity,
                origin + timedelta(hours=hour),
                model_ref=model,
                api_key_ref=key,
            )
        rollup_usage()
        with unscoped(reason="test: compare rollups with the ledger"):
            assert totals(UsageRollup.objects.all()) == totals(UsageEvent.objects.all())


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=st.lists(event, min_size=1, max_size=12))
def test_invoice_lines_add_up_to_the_period_ledger(transactional_db, events):
    handles = (make_tenant("Initech"), make_tenant("Umbrella"))  # fresh: each example closes
    for who, meter, model, key, hour, quantity in events:
        at = LAST_MONTH.start + timedelta(hours=hour % (24 * 28))
        record(handles[who], meter, quantity, at, model_ref=model, api_key_ref=key)
    close_period(LAST_MONTH)
    for handle in handles:
        with handle.context():
            billed = InvoiceLine.objects.filter(kind="usage")
            assert per_line(billed) == per_line(UsageEvent.objects.all())


def per_line(queryset) -> Counter:
    rows = queryset.values_list("meter", "model_ref").annotate(q=Sum("quantity"))
    return Counter({tuple(row[:2]): row[2] for row in rows})
