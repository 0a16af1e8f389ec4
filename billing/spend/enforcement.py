"""Spend control on the request path: ``ensure_billable`` before work is queued.

Inference and training call::

    ensure_billable(tenant, meter=IMAGES_FINETUNED, quantity=len(images),
                    api_key_ref=principal.api_key_public_id)

right after authentication and input validation and before enqueueing; it
raises ``BillingError`` (HTTP 402, type ``billing_error``) with code

* ``account_suspended`` — the tenant is suspended for non-payment;
* ``api_key_quota_exceeded`` — the key's monthly quota of this meter would be crossed;
* ``spend_cap_exceeded`` — the period's usage charges would cross the hard cap
  (the tenant's own cap, else the plan's; the free plan's cap is 0, so this is
  also how its allowance is enforced).

It is one Redis round trip and no SQL on the warm path: each tenant's usage of
the running period (per meter and per key and meter) and its limits live in
two Redis hashes.  They are seeded from the database (rollups plus the events
after the watermark) when missing, expire after ``SEED_TTL_S`` so they
re-converge with the ledger, and are incremented after the metering transaction
commits — by ``usage_record`` only for rows really inserted, by the inference
worker for first deliveries (inference.runtime.metering) — so retries do not
count.

The check is not a reservation: concurrent requests admitted together may
overshoot a cap by what they carry between them.  Rating credits anything
above the plan's cap (billing.pricing.rating), so an overshoot of it is never billed.
A tenant's own cap limits admission only: it may be changed during the
period, and crediting at close whatever lies above the cap in force then would
let a tenant lower it after the fact; its overshoot (at most what the requests
in flight carry) is billed.  If Redis is
unreachable the totals are computed from the database instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache

import redis
from django.conf import settings
from django.utils import timezone

from billing.ledger.periods import Period, period_containing
from billing.models import ApiKeyQuota, BillingAccount
from billing.pricing.price_book import get_plan
from billing.pricing.rating import rate
from billing.selectors import period_usage_get
from core import redis as core_redis
from core.context import tenant_context
from core.errors import BillingError
from core.redis import Use
from tenants.models import Tenant

logger = logging.getLogger(__name__)

SEED_TTL_S = 300
_SEEDED = "_seeded"
_NO_CAP = "none"

# Increment only a hash that is seeded: a partial hash would read as "no usage".
_INCREMENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 0
"""


def ensure_billable(tenant: Tenant, *, meter: str, quantity: int, api_key_ref: str = "") -> None:
    """Refuse (``BillingError``, 402) work that the tenant may not be billed for; see above."""
    if tenant.status == Tenant.Status.SUSPENDED:
        raise BillingError(
            "This organisation is suspended for an unpaid invoice; pay it to resume.",
            code="account_suspended",
        )
    if quantity <= 0:
        return
    period = period_containing(timezone.now())
    state = _state(tenant, period)
    limit = state.quotas.get((api_key_ref, meter))
    if limit is not None and state.key_usage.get((api_key_ref, meter), 0) + quantity > limit:
        raise BillingError(
            f"This API key's monthly quota of {limit} {meter} would be exceeded.",
            code="api_key_quota_exceeded",
            param="api_key",
        )
    if state.cap is not None:
        usage = dict(state.usage)
        usage[meter] = usage.get(meter, 0) + quantity
        if usage_cost_exact(tenant.plan, usage) > state.cap:
            raise BillingError(
                f"This request would take the period's usage charges past the spend cap of "
                f"{state.cap} (minor units); raise the cap or wait for the next period.",
                code="spend_cap_exceeded",
            )


def usage_cost_exact(plan_code: str, usage: dict[str, int]) -> Decimal:
    """The exact (unrounded) usage charges of meter totals for a period."""
    plan = get_plan(plan_code)
    return sum(
        (
            rate(plan.price_for(meter), quantity).exact_amount
            for meter, quantity in usage.items()
            if quantity
        ),
        Decimal(0),
    )


@dataclass(frozen=True)
class _State:
    usage: dict[str, int]
    key_usage: dict[tuple[str, str], int]
    cap: int | None
    quotas: dict[tuple[str, str], int]


def _state(tenant: Tenant, period: Period) -> _State:
    usage_key, limits_key = _usage_key(tenant.pk, period), _limits_key(tenant.pk)
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.hgetall(usage_key)
        pipe.hgetall(limits_key)
        usage_hash, limits_hash = pipe.execute()
        if _SEEDED.encode() not in usage_hash:
            usage_hash = _seed(usage_key, _usage_fields(tenant, period))
        if _SEEDED.encode() not in limits_hash:
            limits_hash = _seed(limits_key, _limit_fields(tenant))
    except redis.RedisError:
        logger.warning("billing: Redis unavailable, spend check reads the database")
        usage_hash = _encoded(_usage_fields(tenant, period))
        limits_hash = _encoded(_limit_fields(tenant))
    return _parse(usage_hash, limits_hash)


def _parse(usage_hash: dict, limits_hash: dict) -> _State:
    usage, key_usage, quotas = {}, {}, {}
    for raw, value in usage_hash.items():
        kind, _, rest = raw.decode().partition(":")
        if kind == "m":
            usage[rest] = int(value)
        elif kind == "k":
            key_ref, _, meter = rest.rpartition(":")
            key_usage[(key_ref, meter)] = int(value)
    cap = None
    for raw, value in limits_hash.items():
        kind, _, rest = raw.decode().partition(":")
        if kind == "cap" and value.decode() != _NO_CAP:
            cap = int(value)
        elif kind == "q":
            key_ref, _, meter = rest.rpartition(":")
            quotas[(key_ref, meter)] = int(value)
    return _State(usage, key_usage, cap, quotas)


def _usage_fields(tenant: Tenant, period: Period) -> dict[str, int]:
    fields: dict[str, int] = {}
    with tenant_context(tenant):
        for meter, _model, quantity in period_usage_get(tenant, period=period):
            fields[f"m:{meter}"] = fields.get(f"m:{meter}", 0) + quantity
        for meter, key_ref, quantity in period_usage_get(tenant, period=period, by_key=True):
            fields[f"k:{key_ref}:{meter}"] = quantity
    return fields


def _limit_fields(tenant: Tenant) -> dict[str, int | str]:
    with tenant_context(tenant):
        own_cap = (
            BillingAccount.objects.filter(tenant=tenant)
            .values_list("spend_cap_minor", flat=True)
            .first()
        )
        quotas = list(
            ApiKeyQuota.objects.filter(tenant=tenant).values_list(
                "api_key_ref", "meter", "monthly_limit"
            )
        )
    cap = get_plan(tenant.plan).spend_cap_in_force(own_cap)
    fields: dict[str, int | str] = {"cap": _NO_CAP if cap is None else cap}
    fields.update({f"q:{key_ref}:{meter}": limit for key_ref, meter, limit in quotas})
    return fields


def _seed(key: str, fields: dict) -> dict:
    mapping = {_SEEDED: 1, **fields}
    pipe = _redis().pipeline(transaction=True)
    pipe.delete(key)
    pipe.hset(key, mapping=mapping)
    pipe.expire(key, SEED_TTL_S)
    pipe.execute()
    return _encoded(mapping)


def _encoded(fields: dict) -> dict[bytes, bytes]:
    return {str(name).encode(): str(value).encode() for name, value in fields.items()}


# --- keeping the totals current -------------------------------------------------


def count_usage(tenant_id: int, rows: list[tuple[str, int, datetime, str]]) -> None:
    """Add freshly inserted ledger rows ``(meter, quantity, occurred_at, api_key_ref)``.

    Called after commit by ``usage_record``; a hash that is not seeded is left
    alone (its next seed reads the ledger).  Never raises: the TTL repairs a
    lost increment.
    """
    count_usage_of_tenants({tenant_id: rows})


def count_usage_of_tenants(rows_by_tenant: dict[int, list[tuple[str, int, datetime, str]]]) -> None:
    """``count_usage`` for several tenants in one Redis round trip."""
    increments: dict[str, dict[str, int]] = {}
    for tenant_id, rows in rows_by_tenant.items():
        for meter, quantity, occurred_at, key_ref in rows:
            key = _usage_key(tenant_id, period_containing(occurred_at))
            fields = increments.setdefault(key, {})
            for field in (f"m:{meter}", f"k:{key_ref}:{meter}"):
                fields[field] = fields.get(field, 0) + quantity
    if not increments:
        return
    try:
        pipe = _redis().pipeline(transaction=False)
        for key, fields in increments.items():
            args = [item for pair in fields.items() for item in pair]
            pipe.eval(_INCREMENT, 1, key, *args)
        pipe.execute()
    except redis.RedisError:
        logger.warning("billing: could not update running usage totals", exc_info=True)


def forget_limits(tenant: Tenant) -> None:
    """Drop the cached limits after a cap or quota change (the next check re-reads them)."""
    try:
        _redis().delete(_limits_key(tenant.pk))
    except redis.RedisError:
        logger.warning("billing: could not drop cached limits; they expire in %s s", SEED_TTL_S)


def _usage_key(tenant_id: int, period: Period) -> str:
    return f"{_namespace()}:usage:{tenant_id}:{period.label}"


def _limits_key(tenant_id: int) -> str:
    return f"{_namespace()}:limits:{tenant_id}"


@cache
def _namespace() -> str:
    # Tenant ids are per database: two databases sharing a Redis must not share totals.
    return f"billing:{settings.DATABASES['default']['NAME']}"


def _redis() -> redis.Redis:
    return core_redis.client(Use.COUNTERS)
