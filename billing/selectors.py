"""Reads for usage, invoices and spend settings; another tenant's invoice is "not found",
like a missing one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet

from billing.ledger.periods import Period, period_containing
from billing.ledger.rollup import WATERMARK
from billing.models import (
    ApiKeyQuota,
    BillingAccount,
    CreditNote,
    Invoice,
    InvoiceLine,
    UsageEvent,
)
from billing.pricing.price_book import Plan, get_plan
from billing.pricing.rating import (
    projected_invoice,
    rate,
    rate_invoice,
    split_in_order,
    split_pro_rata,
    usage_cost_minor,
)
from core.errors import NotFound
from tenants.models import Tenant


def invoice_list(tenant: Tenant) -> QuerySet[Invoice]:
    return Invoice.objects.filter(tenant=tenant)


def invoice_get(tenant: Tenant, *, public_id: str) -> Invoice:
    invoice = Invoice.objects.filter(tenant=tenant, public_id=public_id).first()
    if invoice is None:
        raise NotFound.for_id("invoice", public_id, param="id")
    return invoice


def invoice_line_list(tenant: Tenant, *, invoice: Invoice) -> QuerySet[InvoiceLine]:
    return InvoiceLine.objects.filter(tenant=tenant, invoice=invoice).order_by("position")


def credit_note_list(tenant: Tenant, *, invoice: Invoice | None = None) -> QuerySet[CreditNote]:
    """The credit notes that took effect (``issued``), of one invoice or all.

    What the tenant sees: a note awaiting a second staff member's approval does
    not change what it owes yet, and a rejected one never will.
    """
    notes = CreditNote.objects.filter(tenant=tenant, status=CreditNote.Status.ISSUED)
    if invoice is not None:
        notes = notes.filter(invoice=invoice)
    return notes


def usage_event_list(tenant: Tenant, *, line: InvoiceLine) -> QuerySet[UsageEvent]:
    """The ledger events a usage line billed: its meter and model, in its service period,
    below the invoice's transaction horizon (and, for an adjustment, from the earlier
    invoice's).  The time bounds only matter for invoices cut before horizons existed.
    """
    if line.kind != "usage":
        return UsageEvent.objects.none()
    service_end = period_containing(line.service_period_start).end
    events = UsageEvent.objects.filter(
        tenant=tenant,
        meter=line.meter,
        model_ref=line.model_ref,
        occurred_at__gte=line.service_period_start,
        occurred_at__lt=service_end,
        xact__lt=line.invoice.usage_horizon,
        created_at__lt=line.invoice.usage_cutoff,
    )
    if line.events_from_horizon is not None:
        events = events.filter(xact__gte=line.events_from_horizon)
    if line.events_created_from is not None:
        events = events.filter(created_at__gte=line.events_created_from)
    return events.order_by("occurred_at", "pk")


@dataclass(frozen=True)
class UsageRow:
    """Metered quantity of one meter within one group (a day, model, API key or meter)."""

    group: str
    meter: str
    quantity: int


# Per grouping: the expression on a rollup row and on a ledger row.
_GROUPS = {
    "day": ("date_trunc('day', hour)", "date_trunc('day', occurred_at)"),
    "model": ("model_ref", "model_ref"),
    "api_key": ("api_key_ref", "api_key_ref"),
    "meter": ("meter", "meter"),
}

# One statement, so one snapshot: the rollups and the watermark they were
# built up to are read together, then the ledger's events after the watermark
# are added.  (Two statements could see a rollup commit in between and count
# its window twice or not at all.)
_USAGE_SQL = """
WITH mark AS (
    SELECT coalesce(max(horizon), 0) AS horizon
    FROM billing_ledgerwatermark WHERE name = %(mark)s
)
SELECT grp, meter, sum(quantity) FROM (
    SELECT {rollup_group} AS grp, meter, quantity FROM billing_usagerollup
    WHERE tenant_id = %(tenant)s AND hour >= %(start)s AND hour < %(end)s
    UNION ALL
    SELECT {event_group} AS grp, meter, quantity FROM billing_usageevent, mark
    WHERE tenant_id = %(tenant)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
      AND xact >= mark.horizon
) AS usage
GROUP BY grp, meter ORDER BY grp, meter
"""


def usage_row_list(
    tenant: Tenant, *, start: datetime, end: datetime, group_by: str
) -> list[UsageRow]:
    """Quantities per group and meter for ``[start, end)``, both whole hours.

    The rollups hold every event below the watermark's transaction horizon; the
    few since are read from the ledger, so the answer is current to the second.
    """
    rollup_group, event_group = _GROUPS[group_by]
    sql = _USAGE_SQL.format(rollup_group=rollup_group, event_group=event_group)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"mark": WATERMARK, "tenant": tenant.pk, "start": start, "end": end})
        rows = cursor.fetchall()
    return [
        UsageRow(group.date().isoformat() if group_by == "day" else group, meter, int(quantity))
        for group, meter, quantity in rows
    ]


def period_usage_get(tenant: Tenant, *, period: Period, by_key: bool = False):
    """Usage of ``period`` so far as ``(meter, model, quantity)`` rows — or
    ``(meter, API key, quantity)`` with ``by_key``."""
    rows = usage_row_list(
        tenant, start=period.start, end=period.end, group_by="api_key" if by_key else "model"
    )
    return [(row.meter, row.group, row.quantity) for row in rows]


def spend_cap_get(tenant: Tenant) -> int | None:
    """The monthly cap in force: the lower of the plan's and the tenant's own (``None``:
    uncapped)."""
    own = (
        BillingAccount.objects.filter(tenant=tenant)
        .values_list("spend_cap_minor", flat=True)
        .first()
    )
    return get_plan(tenant.plan).spend_cap_in_force(own)


@dataclass(frozen=True)
class RunningPeriod:
    period: Period
    usage: list  # (meter, model_ref, quantity) so far
    amount_so_far: int  # what the invoice would total if the period closed now
    projected_amount: int  # ... and at the period's end, at the pace so far


def running_period_get(tenant: Tenant, *, plan: Plan, now: datetime) -> RunningPeriod:
    """The running period's usage and money, as ``/v1/usage`` and ``/v1/billing`` show it."""
    period = period_containing(now)
    usage = period_usage_get(tenant, period=period)
    projected = projected_invoice(
        plan, usage, period_start=period.start, period_end=period.end, now=now
    )
    return RunningPeriod(
        period, usage, rate_invoice(plan, usage).total_minor, projected.total_minor
    )


# --- spend settings -------------------------------------------------------------


def key_quota_list(tenant: Tenant) -> QuerySet[ApiKeyQuota]:
    return ApiKeyQuota.objects.filter(tenant=tenant).order_by("api_key_ref", "meter")


@dataclass(frozen=True)
class KeyQuotaUse:
    quota: ApiKeyQuota
    used: int  # units of its meter through its key so far this period


def key_quota_use_list(tenant: Tenant, *, now: datetime) -> list[KeyQuotaUse]:
    """Every key quota with what its key used of it in the running period."""
    quotas = list(key_quota_list(tenant))
    if not quotas:
        return []
    rows = period_usage_get(tenant, period=period_containing(now), by_key=True)
    used = {(key_ref, meter): quantity for meter, key_ref, quantity in rows}
    return [KeyQuotaUse(quota, used.get((quota.api_key_ref, quota.meter), 0)) for quota in quotas]


@dataclass(frozen=True)
class BillingOverview:
    plan: Plan
    status: str  # the tenant's: active, past_due or suspended
    past_due_since: datetime | None
    period: Period
    spend_cap: int | None  # in force: the tenant's own, else the plan's (None: uncapped)
    spend_cap_source: str  # "account" (the tenant's own) or "plan"
    usage_charges: int  # the period's usage so far, before any spend-cap credit
    amount_so_far: int  # what the invoice would total if the period closed now
    projected_amount: int  # ... and at the period's end, at the pace so far
    quotas: list[KeyQuotaUse]


def billing_overview_get(tenant: Tenant, *, now: datetime) -> BillingOverview:
    """The tenant's plan, status, spend cap and key quotas, and the running period's money.

    Reads only: a tenant that never changed a setting has no account row yet.
    The amounts are rated like ``/v1/usage``'s ``current_period``.
    """
    plan = get_plan(tenant.plan)
    account = BillingAccount.objects.filter(tenant=tenant).first()
    own_cap = account.spend_cap_minor if account else None
    running = running_period_get(tenant, plan=plan, now=now)
    return BillingOverview(
        plan=plan,
        status=tenant.status,
        past_due_since=account.past_due_since if account else None,
        period=running.period,
        spend_cap=plan.spend_cap_in_force(own_cap),
        spend_cap_source="account" if own_cap == plan.spend_cap_in_force(own_cap) else "plan",
        usage_charges=usage_cost_minor(plan, running.usage),
        amount_so_far=running.amount_so_far,
        projected_amount=running.projected_amount,
        quotas=key_quota_use_list(tenant, now=now),
    )


@dataclass(frozen=True)
class UsageReport:
    start: datetime
    end: datetime
    group_by: str
    currency: str
    rows: list[dict]
    current_period: dict


def usage_report_get(
    tenant: Tenant, *, start: datetime, end: datetime, group_by: str, now: datetime
) -> UsageReport:
    """Quantities per group and meter, with the usage charges of each row.

    Costs rate the range as if it were a billing period of its own (so for a
    whole period they equal the invoice's lines), before the base fee and any
    spend-cap credit: per meter, and per model and meter like invoice lines.
    Days and API keys share a meter's tiers, so they divide the meter's amount
    (``_shared_amounts``) and their rows add up to it exactly.
    ``current_period`` holds the running period's charges so far and their
    projection to its end.
    """
    plan = get_plan(tenant.plan)
    rows = usage_row_list(tenant, start=start, end=end, group_by=group_by)
    amounts: dict[tuple[str, str], int] = {}
    if group_by == "meter":
        for row in rows:
            amounts[(row.group, row.meter)] = rate(
                plan.price_for(row.meter), row.quantity
            ).amount_minor
    elif group_by == "model":
        rated = rate_invoice(plan, [(row.meter, row.group, row.quantity) for row in rows])
        for line in rated.lines:
            if line.kind == "usage":
                amounts[(line.model_ref, line.meter)] = line.amount_minor
    else:
        amounts = _shared_amounts(plan, rows, in_order=group_by == "day")
    running = running_period_get(tenant, plan=plan, now=now)
    return UsageReport(
        start=start,
        end=end,
        group_by=group_by,
        currency=plan.currency,
        rows=[
            {
                "group": row.group,
                "meter": row.meter,
                "quantity": row.quantity,
                "amount": amounts.get((row.group, row.meter)),
            }
            for row in rows
        ],
        current_period={
            "start": running.period.start,
            "end": running.period.end,
            "plan": plan.code,
            "amount_so_far": running.amount_so_far,
            "projected_amount": running.projected_amount,
            "spend_cap": spend_cap_get(tenant),
        },
    )


def _shared_amounts(
    plan: Plan, rows: list[UsageRow], *, in_order: bool
) -> dict[tuple[str, str], int]:
    """Each meter's amount divided among its rows: days in time order (each day pays
    for the units it added to the period, at the tiers they reached), API keys pro
    rata (no order among them: each pays the meter's average price).  See
    docs/billing.md, "Usage amounts".
    """
    by_meter: dict[str, list[UsageRow]] = {}
    for row in rows:  # ordered by group: for days, chronologically
        by_meter.setdefault(row.meter, []).append(row)
    amounts = {}
    for meter, group in by_meter.items():
        price, quantities = plan.price_for(meter), [row.quantity for row in group]
        if in_order:
            split = split_in_order(price, quantities)
        else:
            split = split_pro_rata(rate(price, sum(quantities)).amount_minor, quantities)
        amounts.update(
            {(row.group, meter): amount for row, amount in zip(group, split, strict=True)}
        )
    return amounts
