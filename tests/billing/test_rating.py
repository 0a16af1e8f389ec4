"""Rating against the price book: worked examples plus properties checked by hypothesis."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.pricing.price_book import (
    COMMITTED,
    DEFAULT_PLANS,
    FREE,
    IMAGES_BASE,
    IMAGES_FINETUNED,
    METERS,
    PAYG,
    TRAINING_SECONDS,
    MeterPrice,
    Plan,
    Tier,
    get_plan,
)
from billing.pricing.rating import (
    project_usage,
    projected_invoice,
    rate,
    rate_invoice,
    spend_cap_exceeded,
    split_in_order,
    split_pro_rata,
    usage_cost_minor,
)

# 10 free units, units 11-20 at 3 cents, 21 and beyond at 1 cent.
SIMPLE = MeterPrice("m", 10, (Tier(20, Decimal(3)), Tier(None, Decimal(1))))


# --- worked examples -------------------------------------------------------


def test_allowance_is_free_and_tiers_start_right_after_it():
    assert rate(SIMPLE, 10).amount_minor == 0
    assert rate(SIMPLE, 11).amount_minor == 3
    assert rate(SIMPLE, 20).amount_minor == 30
    assert rate(SIMPLE, 21).amount_minor == 31
    assert rate(SIMPLE, 0).tiers == ()


def test_tier_breakdown_names_the_unit_positions_of_each_tier():
    line = rate(SIMPLE, 25)
    breakdown = [
        (t.first_unit, t.last_unit, t.quantity, t.unit_price, t.amount) for t in line.tiers
    ]
    assert breakdown == [
        (1, 10, 10, Decimal(0), Decimal(0)),
        (11, 20, 10, Decimal(3), Decimal(30)),
        (21, 25, 5, Decimal(1), Decimal(5)),
    ]
    assert line.exact_amount == Decimal(35)
    assert line.amount_minor == 35


def test_already_used_continues_the_allowance_and_tiers_of_the_period():
    line = rate(SIMPLE, 5, already_used=18)
    assert [(t.first_unit, t.last_unit) for t in line.tiers] == [(19, 20), (21, 23)]
    assert line.amount_minor == 2 * 3 + 3 * 1


def test_a_line_is_rounded_once_half_up_not_per_tier():
    # Each tier holds half a cent; rounding per tier would bill 2 cents.
    halves = MeterPrice("m", 0, (Tier(1, Decimal("0.5")), Tier(None, Decimal("0.5"))))
    assert rate(halves, 2).amount_minor == 1
    assert rate(halves, 1).amount_minor == 1  # 0.5 rounds half up
    quarter = MeterPrice("m", 0, (Tier(None, Decimal("0.25")),))
    assert rate(quarter, 1).amount_minor == 0


def test_payg_base_images_at_a_tier_boundary():
    assert rate(PAYG.price_for(IMAGES_BASE), 1_000_000).amount_minor == 50_000  # $500
    # One more image costs 0.04 cents: exact amount grows, rounded line does not.
    line = rate(PAYG.price_for(IMAGES_BASE), 1_000_001)
    assert line.exact_amount == Decimal("50000.04")
    assert line.amount_minor == 50_000


def test_committed_invoice_lists_fee_then_meters_then_models_and_adds_up():
    usage = [
        (TRAINING_SECONDS, "ft_1", 40_000),
        (IMAGES_BASE, "mdl_b", 1_500_000),
        (IMAGES_BASE, "mdl_a", 1_000_000),
        (IMAGES_FINETUNED, "mdl_c", 10),
    ]
    invoice = rate_invoice(COMMITTED, usage)
    summary = [(line.kind, line.meter, line.model_ref, line.amount_minor) for line in invoice.lines]
    assert summary == [
        ("base_fee", None, None, 50_000),
        # mdl_a comes first and takes 1M of the 2M allowance; mdl_b gets the
        # other 1M free and pays 500,000 images at 0.03 cents.
        ("usage", IMAGES_BASE, "mdl_a", 0),
        ("usage", IMAGES_BASE, "mdl_b", 15_000),
        ("usage", IMAGES_FINETUNED, "mdl_c", 0),
        ("usage", TRAINING_SECONDS, "ft_1", 200),  # 4,000 s past 10 h at 0.05
    ]
    assert invoice.total_minor == 65_200
    assert invoice.currency == "usd"


def test_repeated_rows_of_a_meter_and_model_are_merged_and_zero_rows_dropped():
    invoice = rate_invoice(
        PAYG, [(IMAGES_BASE, "a", 10), (IMAGES_BASE, "a", 30), (IMAGES_BASE, "b", 0)]
    )
    assert [(line.model_ref, line.quantity) for line in invoice.lines] == [("a", 40)]
    assert invoice.lines[0].amount_minor == 2  # 40 * 0.05 cents
    assert invoice.lines[0].effective_unit_price == Decimal("0.05")


def test_free_plan_never_costs_money_and_reports_its_cap_exceeded():
    within = [(IMAGES_BASE, "a", 5_000), (TRAINING_SECONDS, "ft", 1_800)]
    assert rate_invoice(FREE, within).total_minor == 0
    assert not spend_cap_exceeded(FREE, within)

    over = [(IMAGES_BASE, "a", 5_001)]
    assert spend_cap_exceeded(FREE, over)  # 0.05 cents is above a cap of 0
    heavy = [(IMAGES_BASE, "a", 1_000_000)]
    invoice = rate_invoice(FREE, heavy)
    assert invoice.total_minor == 0
    assert invoice.lines[-1].kind == "spend_cap_credit"
    assert invoice.lines[-1].amount_minor == -usage_cost_minor(FREE, heavy)


def test_payg_usage_is_credited_down_to_the_spend_cap():
    usage = [(IMAGES_FINETUNED, "a", 2_000_000)]  # $1,000 + $800
    assert usage_cost_minor(PAYG, usage) == 180_000
    invoice = rate_invoice(PAYG, usage)
    assert invoice.total_minor == PAYG.monthly_spend_cap_minor == 100_000
    assert sum(line.amount_minor for line in invoice.lines) == invoice.total_minor


def test_unknown_meters_and_bad_quantities_are_refused():
    with pytest.raises(KeyError, match="no price for meter 'gpu_hours'"):
        rate_invoice(PAYG, [("gpu_hours", "a", 1)])
    for bad in (-1, 1.5, True, Decimal(2)):
        with pytest.raises(ValueError, match="non-negative int"):
            rate(SIMPLE, bad)
    with pytest.raises(ValueError, match="already_used"):
        rate(SIMPLE, 1, already_used=-1)


def test_price_book_rejects_floats_and_malformed_tiers():
    with pytest.raises(TypeError, match="Decimal"):
        Tier(None, 0.05)
    with pytest.raises(ValueError, match="last tier"):
        MeterPrice("m", 0, (Tier(10, Decimal(1)),))
    with pytest.raises(ValueError, match="exceed the allowance"):
        MeterPrice("m", 100, (Tier(50, Decimal(1)), Tier(None, Decimal(1))))
    with pytest.raises(ValueError, match="increase"):
        MeterPrice("m", 0, (Tier(50, Decimal(1)), Tier(50, Decimal(1)), Tier(None, Decimal(1))))


def test_default_plans_price_every_meter_in_usd():
    assert set(DEFAULT_PLANS) == {"free", "payg", "committed"}
    for plan in DEFAULT_PLANS.values():
        assert plan.currency == "usd"
        assert plan.period == "month"
        assert set(plan.prices) == set(METERS)
    assert get_plan("payg") is PAYG
    with pytest.raises(KeyError, match="known: free, payg, committed"):
        get_plan("gold")


def test_projection_extrapolates_linearly_to_the_end_of_the_period():
    start = datetime(2026, 11, 1, tzinfo=UTC)
    end = datetime(2026, 12, 1, tzinfo=UTC)
    ten_days_in = start + timedelta(days=10)
    projected = project_usage(
        [(IMAGES_BASE, "a", 1_000)], period_start=start, period_end=end, now=ten_days_in
    )
    assert projected[0].quantity == 3_000
    invoice = projected_invoice(
        PAYG, [(IMAGES_BASE, "a", 1_000)], period_start=start, period_end=end, now=ten_days_in
    )
    assert invoice.total_minor == 150  # 3,000 images at 0.05 cents
    # Nothing elapsed yet, or the period is over: the usage stands as it is.
    assert (
        project_usage([(IMAGES_BASE, "a", 7)], period_start=start, period_end=end, now=start)[
            0
        ].quantity
        == 7
    )
    after = end + timedelta(days=3)
    assert (
        project_usage([(IMAGES_BASE, "a", 7)], period_start=start, period_end=end, now=after)[
            0
        ].quantity
        == 7
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        project_usage([], period_start=start.replace(tzinfo=None), period_end=end, now=end)


def test_projection_rounds_half_up():
    start = datetime(2026, 11, 1, tzinfo=UTC)
    end = start + timedelta(hours=4)
    # 3 units in 8/3 hours -> 4.5 units over 4 hours -> 5.
    now = start + timedelta(hours=8) / 3
    assert (
        project_usage([(IMAGES_BASE, "a", 3)], period_start=start, period_end=end, now=now)[
            0
        ].quantity
        == 5
    )


# --- properties ------------------------------------------------------------

unit_prices = st.decimals(
    min_value=0, max_value=50, places=4, allow_nan=False, allow_infinity=False
)


@st.composite
def meter_prices(draw: st.DrawFn, meter: str = "m") -> MeterPrice:
    included = draw(st.integers(0, 1_000))
    gaps = draw(st.lists(st.integers(1, 1_000), max_size=3))
    bounds = list(itertools.accumulate(gaps, initial=included))[1:]
    tiers = [Tier(bound, draw(unit_prices)) for bound in bounds]
    tiers.append(Tier(None, draw(unit_prices)))
    return MeterPrice(meter, included, tuple(tiers))


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    return Plan(
        code="p",
        name="P",
        currency="usd",
        base_fee_minor=draw(st.integers(0, 10_000)),
        prices=MappingProxyType({meter: draw(meter_prices(meter)) for meter in METERS}),
        monthly_spend_cap_minor=draw(st.none() | st.integers(0, 1_000_000)),
    )


usage_row_list = st.lists(
    st.tuples(
        st.sampled_from(METERS), st.sampled_from(["mdl_a", "mdl_b", "mdl_c"]), st.integers(0, 5_000)
    ),
    max_size=8,
)


@given(plans(), usage_row_list)
def test_lines_always_add_up_to_the_total_in_integers(plan, usage):
    invoice = rate_invoice(plan, usage)
    assert invoice.total_minor == sum(line.amount_minor for line in invoice.lines)
    assert type(invoice.total_minor) is int
    assert all(type(line.amount_minor) is int for line in invoice.lines)
    assert all(type(t.amount) is Decimal for line in invoice.lines for t in line.tiers)


@given(plans(), usage_row_list, st.data())
def test_total_never_decreases_when_a_quantity_grows(plan, usage, data):
    if not usage:
        usage = [(IMAGES_BASE, "mdl_a", 0)]
    index = data.draw(st.integers(0, len(usage) - 1))
    extra = data.draw(st.integers(1, 5_000))
    grown = list(usage)
    meter, model, quantity = grown[index]
    grown[index] = (meter, model, quantity + extra)
    assert rate_invoice(plan, grown).total_minor >= rate_invoice(plan, usage).total_minor


@given(meter_prices(), st.data())
def test_units_within_the_allowance_cost_nothing(meter_price, data):
    quantity = data.draw(st.integers(0, meter_price.included))
    line = rate(meter_price, quantity)
    assert line.amount_minor == 0
    assert line.exact_amount == 0


@given(meter_prices(), st.integers(0, 3_000), st.integers(0, 300))
def test_exact_amount_equals_pricing_each_unit_by_its_own_tier(meter_price, already_used, quantity):
    def price_of_unit(position: int) -> Decimal:
        if position <= meter_price.included:
            return Decimal(0)
        return next(
            t.unit_price for t in meter_price.tiers if t.up_to is None or position <= t.up_to
        )

    positions = range(already_used + 1, already_used + quantity + 1)
    expected = sum((price_of_unit(p) for p in positions), Decimal(0))
    line = rate(meter_price, quantity, already_used=already_used)
    assert line.exact_amount == expected
    assert sum(t.quantity for t in line.tiers) == quantity


@given(meter_prices(), st.lists(st.integers(0, 5_000), min_size=1, max_size=10))
def test_splitting_a_meter_over_k_lines_moves_the_total_by_at_most_floor_k_over_2(
    meter_price, parts
):
    used = 0
    split_exact = Decimal(0)
    split_total = 0
    for quantity in parts:
        line = rate(meter_price, quantity, already_used=used)
        used += quantity
        split_exact += line.exact_amount
        split_total += line.amount_minor
    whole = rate(meter_price, sum(parts))
    assert split_exact == whole.exact_amount  # the money itself is the same
    assert abs(split_total - whole.amount_minor) <= len(parts) // 2


@given(plans(), usage_row_list)
def test_capped_usage_never_bills_more_than_fee_plus_cap(plan, usage):
    invoice = rate_invoice(plan, usage)
    uncapped = plan.base_fee_minor + usage_cost_minor(plan, usage)
    cap = plan.monthly_spend_cap_minor
    expected = (
        uncapped if cap is None else plan.base_fee_minor + min(cap, usage_cost_minor(plan, usage))
    )
    assert invoice.total_minor == expected


# --- dividing a meter's amount among days and API keys (/v1/usage) ---------------


@given(meter_prices(), st.lists(st.integers(1, 5_000), min_size=1, max_size=31))
def test_days_add_up_to_the_meter_and_earlier_days_never_change(meter_price, days):
    amounts = split_in_order(meter_price, days)
    assert sum(amounts) == rate(meter_price, sum(days)).amount_minor
    assert all(type(a) is int and a >= 0 for a in amounts)
    # A day's amount is settled once it is over: later days do not move it.
    assert split_in_order(meter_price, days[:-1]) == amounts[:-1]


def test_a_day_pays_the_tiers_its_units_reached():
    # SIMPLE: 10 free, then 3 cents to unit 20, then 1 cent.
    assert split_in_order(SIMPLE, [8, 8, 8]) == [0, 3 * 6, 3 * 4 + 1 * 4]


@given(st.integers(0, 10**9), st.lists(st.integers(1, 10**7), min_size=1, max_size=20))
def test_keys_share_the_meter_amount_pro_rata_and_exactly(amount, quantities):
    shares = split_pro_rata(amount, quantities)
    assert sum(shares) == amount
    total = sum(quantities)
    for share, quantity in zip(shares, quantities, strict=True):
        assert abs(share - Fraction(amount * quantity, total)) < 1


def test_pro_rata_remainders_go_to_the_largest_fractions_then_the_earlier_key():
    assert split_pro_rata(10, [1, 1, 1]) == [4, 3, 3]
    assert split_pro_rata(5, [1, 2]) == [2, 3]  # 1.67 -> 2, 3.33 -> 3
    assert split_pro_rata(0, [0, 0]) == [0, 0]
