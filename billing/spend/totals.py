"""What admission reads on the request path, cached in Redis: each tenant's usage of
the running period (per meter, and per API key and meter) and its limits (the cap in
force and the key quotas).

Two hashes per tenant, seeded from the database when missing (the rollups plus the
ledger's events past the rollup watermark; the account and its quotas) and expiring
after ``SEED_TTL_S`` so they re-converge with the ledger.  Usage is added after the
metering transaction commits (billing.spend.enforcement.settle), and only to a
seeded hash: a partial hash would read as "no usage".  If Redis is unreachable the
totals are computed from the database instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache

import redis
from django.conf import settings

from billing.ledger.periods import Period, period_containing
from billing.models import ApiKeyQuota, BillingAccount
from billing.pricing.price_book import get_plan
from billing.pricing.rating import rate
from billing.selectors import period_usage_get
from core import redis as core_redis
from core.context import tenant_context
from core.redis import Use
from tenants.models import Tenant

logger = logging.getLogger(__name__)

SEED_TTL_S = 300
SEEDED = "_seeded"
_NO_CAP = "none"

# Add to a hash only if it is seeded.
INCREMENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 0
"""


@dataclass(frozen=True)
class Totals:
    """Per meter, and per (API key, meter): what is used, or what is held."""

    meters: dict[str, int]
    keys: dict[tuple[str, str], int]

    @classmethod
    def parse(cls, fields: dict[bytes, bytes]) -> Totals:
        meters, keys = {}, {}
        for raw, value in fields.items():
            kind, _, rest = raw.decode().partition(":")
            if kind == "m":
                meters[rest] = int(value)
            elif kind == "k":
                key_ref, _, meter = rest.rpartition(":")
                keys[(key_ref, meter)] = int(value)
        return cls(meters, keys)

    def __add__(self, other: Totals) -> Totals:
        return Totals(_added(self.meters, other.meters), _added(self.keys, other.keys))


@dataclass(frozen=True)
class Limits:
    cap: int | None
    quotas: dict[tuple[str, str], int]

    @classmethod
    def parse(cls, fields: dict[bytes, bytes]) -> Limits:
        cap, quotas = None, {}
        for raw, value in fields.items():
            kind, _, rest = raw.decode().partition(":")
            if kind == "cap" and value.decode() != _NO_CAP:
                cap = int(value)
            elif kind == "q":
                key_ref, _, meter = rest.rpartition(":")
                quotas[(key_ref, meter)] = int(value)
        return cls(cap, quotas)


def _added(a: dict, b: dict) -> dict:
    return {name: a.get(name, 0) + b.get(name, 0) for name in a.keys() | b.keys()}


def fields(quantity: int, *, meter: str, api_key_ref: str) -> dict[str, int]:
    """The hash fields a quantity of ``meter`` through ``api_key_ref`` adds to."""
    return {f"m:{meter}": quantity, f"k:{api_key_ref}:{meter}": quantity}


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


def seeded_or_seed(tenant: Tenant, period: Period, usage: dict, limits: dict) -> tuple:
    """The usage and limits hashes as read, each seeded from the database if it was not."""
    if SEEDED.encode() not in usage:
        usage = _seed(usage_key(tenant.pk, period), _usage_fields(tenant, period))
    if SEEDED.encode() not in limits:
        limits = _seed(limits_key(tenant.pk), _limit_fields(tenant))
    return Totals.parse(usage), Limits.parse(limits)


def from_database(tenant: Tenant, period: Period) -> tuple[Totals, Limits]:
    """Redis is down: the same totals, read from the database."""
    logger.warning("billing: Redis unavailable, spend check reads the database")
    return (
        Totals.parse(_encoded(_usage_fields(tenant, period))),
        Limits.parse(_encoded(_limit_fields(tenant))),
    )


def _usage_fields(tenant: Tenant, period: Period) -> dict[str, int]:
    found: dict[str, int] = {}
    with tenant_context(tenant):
        for meter, _model, quantity in period_usage_get(tenant, period=period):
            found[f"m:{meter}"] = found.get(f"m:{meter}", 0) + quantity
        for meter, key_ref, quantity in period_usage_get(tenant, period=period, by_key=True):
            found[f"k:{key_ref}:{meter}"] = quantity
    return found


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
    found: dict[str, int | str] = {"cap": _NO_CAP if cap is None else cap}
    found.update({f"q:{key_ref}:{meter}": limit for key_ref, meter, limit in quotas})
    return found


def _seed(key: str, values: dict) -> dict:
    mapping = {SEEDED: 1, **values}
    pipe = client().pipeline(transaction=True)
    pipe.delete(key)
    pipe.hset(key, mapping=mapping)
    pipe.expire(key, SEED_TTL_S)
    pipe.execute()
    return _encoded(mapping)


def _encoded(values: dict) -> dict[bytes, bytes]:
    return {str(name).encode(): str(value).encode() for name, value in values.items()}


def usage_increments(
    rows_by_tenant: dict[int, list[tuple[str, int, datetime, str]]],
) -> dict[str, dict[str, int]]:
    """Per usage hash, the fields to add for ledger rows ``(meter, quantity, at, key)``."""
    increments: dict[str, dict[str, int]] = {}
    for tenant_id, rows in rows_by_tenant.items():
        for meter, quantity, at, key_ref in rows:
            added = increments.setdefault(usage_key(tenant_id, period_containing(at)), {})
            for name, value in fields(quantity, meter=meter, api_key_ref=key_ref).items():
                added[name] = added.get(name, 0) + value
    return increments


def forget_limits(tenant: Tenant) -> None:
    """Drop the cached limits after a cap or quota change (the next check re-reads them)."""
    try:
        client().delete(limits_key(tenant.pk))
    except redis.RedisError:
        logger.warning("billing: could not drop cached limits; they expire in %s s", SEED_TTL_S)


def usage_key(tenant_id: int, period: Period) -> str:
    return f"{namespace()}:usage:{tenant_id}:{period.label}"


def limits_key(tenant_id: int) -> str:
    return f"{namespace()}:limits:{tenant_id}"


@cache
def namespace() -> str:
    # Tenant ids are per database: two databases sharing a Redis must not share totals.
    return f"billing:{settings.DATABASES['default']['NAME']}"


def client() -> redis.Redis:
    return core_redis.client(Use.COUNTERS)
