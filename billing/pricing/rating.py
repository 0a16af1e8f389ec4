"""Rating: turning metered quantities into money with the price book.

Rounding rule (the one place money is rounded):

1. Within a line every tier amount is ``quantity * unit_price`` computed
   *exactly* as a ``Decimal`` (an exact context traps any inexact result, so
   no digit is ever dropped silently).
2. The tier amounts of a line are summed exactly, and the line is rounded
   ONCE to integer minor units with ``ROUND_HALF_UP``.
3. The invoice total is the sum of the rounded lines, so the lines shown to a
   customer always add up to the total.

Allowances and tiers count units from the start of the billing period. When one
meter is split over several lines (one line per model), the lines consume the
allowance and the tiers in a deterministic order (meters in ``METERS`` order,
then models sorted by reference) through ``rate(..., already_used=...)``. The
exact amounts then add up to the exact amount of a single line, and the rounded
lines differ from the single rounded line by at most ``floor(k / 2)`` minor
units for ``k`` lines (each rounding moves a line by at most half a unit).

Reports that split a meter's amount among days or API keys (``/v1/usage``)
never re-rate the slices on their own: ``split_in_order`` (days) and
``split_pro_rata`` (keys) divide the meter's single rounded amount, so the
rows always add up to it.

No float appears anywhere: quantities and amounts are ``int``, unit prices
``Decimal``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation
from fractions import Fraction
from typing import Literal, NamedTuple

from billing.pricing.price_book import METERS, MeterPrice, Plan

# Enough digits for any realistic quantity times a fractional price; an
# inexact result raises instead of being rounded behind our back.
_EXACT = Context(prec=60, traps=[Inexact, InvalidOperation])
_ZERO = Decimal(0)

LineKind = Literal["base_fee", "usage", "spend_cap_credit"]


class Usage(NamedTuple):
    """A metered quantity of one meter for one model in a billing period."""

    meter: str
    model_ref: str
    quantity: int


@dataclass(frozen=True)
class TierUsage:
    """The units of a line that fell into one tier (the allowance is a tier at price 0).

    ``first_unit`` and ``last_unit`` are positions in the billing period (1-based,
    inclusive), so an invoice can say "units 1,001-100,000 at 0.05".
    """

    first_unit: int
    last_unit: int
    unit_price: Decimal
    amount: Decimal

    @property
    def quantity(self) -> int:
        return self.last_unit - self.first_unit + 1


@dataclass(frozen=True)
class RatedLine:
    """``quantity`` units of ``meter`` after ``already_used`` earlier units of the period."""

    meter: str
    quantity: int
    already_used: int
    tiers: tuple[TierUsage, ...]
    exact_amount: Decimal
    amount_minor: int


@dataclass(frozen=True)
class InvoiceLine:
    """One line of a rated invoice.

    ``amount_minor`` is what is billed; ``exact_amount`` is the unrounded sum of
    the tiers (equal to ``amount_minor`` for fee and credit lines).
    ``meter``/``model_ref``/``quantity``/``tiers`` are set for usage lines only.
    ``effective_unit_price`` is for display (a line may span several tiers).
    """

    kind: LineKind
    description: str
    amount_minor: int
    exact_amount: Decimal
    meter: str | None = None
    model_ref: str | None = None
    quantity: int = 0
    tiers: tuple[TierUsage, ...] = ()

    @property
    def effective_unit_price(self) -> Decimal | None:
        if not self.quantity:
            return None
        return self.exact_amount / self.quantity


@dataclass(frozen=True)
class RatedInvoice:
    """The money of one period for one plan: ordered lines and their sum."""

    plan_code: str
    currency: str
    lines: tuple[InvoiceLine, ...]
    total_minor: int


def rate(meter_price: MeterPrice, quantity: int, *, already_used: int = 0) -> RatedLine:
    """Price ``quantity`` units that follow ``already_used`` units of the same period.

    Units at positions ``already_used + 1 .. already_used + quantity`` are
    priced by the segment they fall in: the free allowance, then each tier.
    Returns the non-empty segments and the line amount rounded once (see the
    module docstring).
    """
    _check_count("quantity", quantity)
    _check_count("already_used", already_used)
    start, end = already_used, already_used + quantity  # positions start+1 .. end
    tiers: list[TierUsage] = []
    for lower, upper, unit_price in _segments(meter_price):
        first = max(start, lower) + 1
        last = end if upper is None else min(end, upper)
        if last >= first:
            amount = _EXACT.multiply(Decimal(last - first + 1), unit_price)
            tiers.append(TierUsage(first, last, unit_price, amount))
    exact = _ZERO
    for tier in tiers:
        exact = _EXACT.add(exact, tier.amount)
    return RatedLine(
        meter=meter_price.meter,
        quantity=quantity,
        already_used=already_used,
        tiers=tuple(tiers),
        exact_amount=exact,
        amount_minor=round_minor(exact),
    )


def round_minor(amount: Decimal) -> int:
    """Round an exact amount to integer minor units, half up."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rate_invoice(plan: Plan, usage: Iterable[tuple[str, str, int]]) -> RatedInvoice:
    """Rate a period's usage: a base-fee line, one line per meter and model, a cap credit.

    ``usage`` holds ``(meter, model_ref, quantity)`` rows; rows repeating a
    meter and model are added together, zero quantities give no line. Lines come
    in ``METERS`` order, then by ``model_ref``; that order also decides which
    model consumes the allowance first. If the usage lines exceed the plan's
    spend cap, a negative ``spend_cap_credit`` line brings them back to it, so
    the total is ``base fee + min(usage, cap)``.
    """
    lines: list[InvoiceLine] = []
    if plan.base_fee_minor:
        fee = plan.base_fee_minor
        lines.append(InvoiceLine("base_fee", f"{plan.name} plan fee", fee, Decimal(fee)))
    usage_lines = _usage_lines(plan, usage)
    lines.extend(usage_lines)
    usage_total = sum(line.amount_minor for line in usage_lines)
    cap = plan.monthly_spend_cap_minor
    if cap is not None and usage_total > cap:
        credit = cap - usage_total
        lines.append(InvoiceLine("spend_cap_credit", "Spend cap credit", credit, Decimal(credit)))
    return RatedInvoice(
        plan_code=plan.code,
        currency=plan.currency,
        lines=tuple(lines),
        total_minor=sum(line.amount_minor for line in lines),
    )


def usage_cost_minor(plan: Plan, usage: Iterable[tuple[str, str, int]]) -> int:
    """What the usage alone costs before the spend cap (for quota gates and dashboards)."""
    return sum(line.amount_minor for line in _usage_lines(plan, usage))


def spend_cap_exceeded(plan: Plan, usage: Iterable[tuple[str, str, int]]) -> bool:
    """Whether the exact usage charges are above the plan's cap (never when uncapped).

    Compared before rounding, so for the free plan (cap 0) this turns true with
    the first priced unit past the allowance, however cheap. A quota gate that
    admits a request only while this is false overshoots by at most one request.
    """
    cap = plan.monthly_spend_cap_minor
    if cap is None:
        return False
    exact = _ZERO
    for line in _usage_lines(plan, usage):
        exact = _EXACT.add(exact, line.exact_amount)
    return exact > cap


def project_usage(
    usage: Iterable[tuple[str, str, int]],
    *,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
) -> list[Usage]:
    """Extrapolate usage so far linearly to the end of the period.

    Each quantity is scaled by ``period length / elapsed time`` and rounded
    half up to a whole unit. Before any time has elapsed the usage is returned
    unchanged (there is no rate to extrapolate); after the period it is final.
    Datetimes must be timezone-aware.
    """
    for moment in (period_start, period_end, now):
        if moment.tzinfo is None:
            raise ValueError("project_usage needs timezone-aware datetimes")
    length = period_end - period_start
    elapsed = min(now, period_end) - period_start
    rows = [Usage(*row) for row in usage]
    if elapsed.total_seconds() <= 0 or elapsed >= length:
        return rows
    factor = Fraction(_microseconds(length), _microseconds(elapsed))
    return [row._replace(quantity=_round_half_up(row.quantity * factor)) for row in rows]


def projected_invoice(
    plan: Plan,
    usage: Iterable[tuple[str, str, int]],
    *,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
) -> RatedInvoice:
    """The invoice the period would end with if usage kept its pace so far."""
    projected = project_usage(usage, period_start=period_start, period_end=period_end, now=now)
    return rate_invoice(plan, projected)


def split_in_order(meter_price: MeterPrice, quantities: Sequence[int]) -> list[int]:
    """The amounts of consecutive slices of one meter's usage (the days of a period).

    Slice ``i`` costs the rounded rate of everything up to its end minus the
    rounded rate of everything before it, so the slices consume the allowance
    and tiers in time order, sum exactly to the single rounded line of the
    total, and a slice's amount never changes when later slices are added.
    """
    amounts, used, billed = [], 0, 0
    for quantity in quantities:
        used += quantity
        so_far = rate(meter_price, used).amount_minor
        amounts.append(so_far - billed)
        billed = so_far
    return amounts


def split_pro_rata(amount_minor: int, quantities: Sequence[int]) -> list[int]:
    """Share ``amount_minor`` among ``quantities`` in proportion, by largest remainder.

    For groups with no order of their own (API keys): each pays the meter's
    average unit price.  The floors of the exact shares are handed the missing
    units by largest fraction (ties: the earlier group), so the shares sum
    exactly to ``amount_minor``.
    """
    for quantity in quantities:
        _check_count("quantity", quantity)
    total = sum(quantities)
    if total == 0:
        if amount_minor:
            raise ValueError("cannot share a non-zero amount among zero quantities")
        return [0] * len(quantities)
    shares = [Fraction(amount_minor * quantity, total) for quantity in quantities]
    amounts = [share.numerator // share.denominator for share in shares]
    by_fraction = sorted(range(len(shares)), key=lambda i: (amounts[i] - shares[i], i))
    for i in by_fraction[: amount_minor - sum(amounts)]:
        amounts[i] += 1
    return amounts


def _usage_lines(plan: Plan, usage: Iterable[tuple[str, str, int]]) -> list[InvoiceLine]:
    totals: dict[tuple[str, str], int] = {}
    for meter, model_ref, quantity in usage:
        _check_count("quantity", quantity)
        plan.price_for(meter)  # an unknown meter fails here, before any rating
        totals[(meter, model_ref)] = totals.get((meter, model_ref), 0) + quantity
    order = {meter: index for index, meter in enumerate(METERS)}
    keys = sorted(
        (key for key, quantity in totals.items() if quantity),
        key=lambda key: (order.get(key[0], len(order)), key[0], key[1]),
    )
    used: dict[str, int] = {}
    lines = []
    for meter, model_ref in keys:
        rated = rate(
            plan.price_for(meter), totals[(meter, model_ref)], already_used=used.get(meter, 0)
        )
        used[meter] = used.get(meter, 0) + rated.quantity
        lines.append(
            InvoiceLine(
                kind="usage",
                description=f"{meter} ({model_ref})",
                amount_minor=rated.amount_minor,
                exact_amount=rated.exact_amount,
                meter=meter,
                model_ref=model_ref,
                quantity=rated.quantity,
                tiers=rated.tiers,
            )
        )
    return lines


def _segments(meter_price: MeterPrice) -> Iterable[tuple[int, int | None, Decimal]]:
    """``(lower, upper, unit_price)``: units at positions ``lower+1 .. upper`` share a price."""
    if meter_price.included:
        yield 0, meter_price.included, _ZERO
    lower = meter_price.included
    for tier in meter_price.tiers:
        yield lower, tier.up_to, tier.unit_price
        if tier.up_to is not None:
            lower = tier.up_to


def _check_count(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _round_half_up(value: Fraction) -> int:
    return int((value * 2 + 1) // 2)
