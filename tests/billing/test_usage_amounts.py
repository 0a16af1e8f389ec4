"""``GET /v1/usage``: the day and API-key rows of a meter always add up to its ``meter`` row,
whatever the plan, tiers crossed and spread of the usage."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.ledger.periods import period_containing
from billing.pricing.price_book import DEFAULT_PLANS, METERS
from tests.billing.helpers import record
from tests.factories import make_tenant

LAST_MONTH = period_containing(timezone.now()).previous()
QUERY = f"start={LAST_MONTH.start.isoformat()}&end={LAST_MONTH.end.isoformat()}".replace("+", "%2B")

# Big enough to cross the allowances and the first tier bounds (1M, 2M units).
events = st.lists(
    st.tuples(
        st.integers(0, 27),  # day of the month
        st.integers(0, 23),  # hour
        st.sampled_from(METERS),
        st.sampled_from(["", "key_a", "key_b", "key_c"]),
        st.integers(1, 1_500_000),
    ),
    min_size=1,
    max_size=12,
)


def amounts_by_meter(handle, group_by: str) -> Counter:
    body = handle.client.get(f"/v1/usage?{QUERY}&group_by={group_by}").json()
    assert all(type(row["amount"]) is int for row in body["data"]), body
    totals: Counter = Counter()
    for row in body["data"]:
        totals[row["meter"]] += row["amount"]
    return totals


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(plan=st.sampled_from(sorted(DEFAULT_PLANS)), usage=events)
def test_day_and_key_rows_add_up_to_the_meter_total(db, plan, usage):
    handle = make_tenant("Sums", plan=plan)
    for day, hour, meter, key, quantity in usage:
        at = LAST_MONTH.start + timedelta(days=day, hours=hour)
        record(handle, meter, quantity, at, api_key_ref=key)

    by_meter = amounts_by_meter(handle, "meter")

    assert set(by_meter) == {meter for _, _, meter, _, _ in usage}
    assert amounts_by_meter(handle, "day") == by_meter
    assert amounts_by_meter(handle, "api_key") == by_meter
