"""Spend control on the request path: every unit of work is reserved before it is queued.

Inference and training call, right after authentication and input validation::

    reserve(tenant, hold_id=prediction_id, meter=IMAGES_FINETUNED, quantity=len(images),
            api_key_ref=principal.api_key_public_id, ttl_s=...)

A reservation (a *hold*) adds the work's maximum quantity to the tenant's held
totals and is then checked, with everything already used (billing.spend.totals)
and held, against the account's status, the key's quota and the spend cap in force
(the free plan's cap is 0: this is also how its allowance holds).  Refused work
raises ``BillingError`` (402) with code ``account_suspended``,
``api_key_quota_exceeded`` or ``spend_cap_exceeded`` — or ``RateLimited`` (429,
``too_many_queued_images``) past the tenant's queued-image limit — and its hold is
released; nothing was queued.

The hold and the check are one Redis round trip: a Lua script records the hold
and returns the used and held totals and the limits at that instant, including
every hold admitted before it.  Each admitted request was checked against totals
that held itself and every request admitted before it, so the requests admitted
together can never pass a cap, whatever the concurrency (racing requests may
instead both be refused, on totals that briefly held each other).

A hold ends exactly once (the script deletes it before subtracting it): when its
work is stored (:func:`settle`, after the metering transaction commits, adds the
usage and releases the hold in one atomic step, so at no instant is the work
counted in neither), when it fails, or at its deadline (:func:`release_expired`,
on beat) if its owner died.  If Redis is unreachable the check reads the
database and holds nothing; the inference lane is Redis too, so only training
can be admitted then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime

import redis
from django.conf import settings
from django.utils import timezone

from billing.ledger.periods import period_containing
from billing.pricing.price_book import IMAGES_BASE, IMAGES_FINETUNED
from billing.spend import totals
from billing.spend.totals import INCREMENT, Limits, Totals
from core.errors import BillingError, RateLimited
from tenants.models import Tenant

logger = logging.getLogger(__name__)

QUEUED_IMAGE_METERS = (IMAGES_BASE, IMAGES_FINETUNED)

# KEYS: held totals, holds, deadlines, usage, limits.
# ARGV: hold id, meter, key field, quantity, deadline, deadline member.
# Records the hold (once per id) and answers the totals it is checked against.
_HOLD = """
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'm:' .. ARGV[2], ARGV[4])
  redis.call('HINCRBY', KEYS[1], ARGV[3], ARGV[4])
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[6])
end
return {redis.call('HGETALL', KEYS[4]), redis.call('HGETALL', KEYS[1]),
        redis.call('HGETALL', KEYS[5])}
"""

# KEYS: held totals, holds, deadlines.  ARGV: tenant id, then hold ids.
# Ends each hold that still exists: deleted first, so it is subtracted once.
_RELEASE = """
local released = 0
for i = 2, #ARGV do
  local hold = redis.call('HGET', KEYS[2], ARGV[i])
  if hold then
    redis.call('HDEL', KEYS[2], ARGV[i])
    local meter, key_field, quantity = string.match(hold, '^(%S+) (%S+) (%S+)$')
    redis.call('HINCRBY', KEYS[1], 'm:' .. meter, -tonumber(quantity))
    redis.call('HINCRBY', KEYS[1], key_field, -tonumber(quantity))
    released = released + 1
  end
  redis.call('ZREM', KEYS[3], ARGV[1] .. ':' .. ARGV[i])
end
return released
"""


def reserve(
    tenant: Tenant,
    *,
    hold_id: str,
    meter: str,
    quantity: int,
    api_key_ref: str = "",
    ttl_s: float,
) -> None:
    """Hold ``quantity`` of ``meter`` for work about to be queued, or refuse it; see above.

    ``hold_id`` names the work (a prediction or fine-tune id): the hold ends when
    that work is settled or released, or ``ttl_s`` from now at the latest.
    """
    _refuse_if_suspended(tenant)
    if quantity <= 0:
        return
    period = period_containing(timezone.now())
    key_field = f"k:{api_key_ref}:{meter}"
    deadline = time.time() + ttl_s
    try:
        used, held, limits = _hold(tenant, period, hold_id, meter, key_field, quantity, deadline)
    except redis.RedisError:
        used, limits = totals.from_database(tenant, period)
        held = Totals({meter: quantity}, {(api_key_ref, meter): quantity})
    try:
        _check(tenant, used, held, limits, meter=meter, api_key_ref=api_key_ref)
    except BillingError as refused:
        release(tenant.pk, [hold_id])
        one_instead = Totals({meter: 1 - quantity}, {(api_key_ref, meter): 1 - quantity})
        if _refuses(tenant, used, held + one_instead, limits, meter=meter, api_key_ref=api_key_ref):
            # Not even one more unit fits: what follows through this key is refused too.
            _recent_refusals.put((tenant.pk, meter, api_key_ref), refused)
        raise
    except RateLimited:
        release(tenant.pk, [hold_id])
        raise


def refuse_known(
    tenant: Tenant, *, meter_of: Callable[[], str | None], api_key_ref: str = ""
) -> None:
    """Refuse at once what needs no look-up: a suspended tenant, or a meter through
    this key when this process found its quota or the cap exhausted (not one more unit
    fitting) a moment ago, remembered for ``REFUSAL_MEMORY_S``: a flood of refused
    requests then costs no Redis round trip and no reading of its bodies.  A cap or
    quota changed through billing.services is forgotten at once (forget_refusals).

    ``meter_of`` finds the request's meter (None: not known yet); it is called only
    when this process remembers a refusal for the tenant, so it costs others nothing.
    """
    _refuse_if_suspended(tenant)
    if not _recent_refusals.has_tenant(tenant.pk):
        return
    meter = meter_of()
    refused = meter and _recent_refusals.get((tenant.pk, meter, api_key_ref))
    if refused:
        raise BillingError(refused.message, code=refused.code, param=refused.param)


def forget_refusals(tenant_id: int) -> None:
    """Forget what this process remembers refusing ``tenant_id`` (its cap or a quota
    changed).  Other processes forget within REFUSAL_MEMORY_S."""
    _recent_refusals.forget(tenant_id)


def ensure_billable(tenant: Tenant, *, meter: str, quantity: int, api_key_ref: str = "") -> None:
    """What :func:`reserve` would refuse now, holding nothing (a preview, and the
    reference the bench compares reservations with)."""
    _refuse_if_suspended(tenant)
    if quantity <= 0:
        return
    used, held, limits = _read(tenant, period_containing(timezone.now()))
    wanted = Totals({meter: quantity}, {(api_key_ref, meter): quantity})
    _check(tenant, used, held + wanted, limits, meter=meter, api_key_ref=api_key_ref)


def affordable(tenant: Tenant, *, meter: str, at_most: int, api_key_ref: str = "") -> int:
    """The largest quantity up to ``at_most`` that :func:`ensure_billable` admits now."""
    low, high = 0, at_most
    while low < high:
        middle = (low + high + 1) // 2
        try:
            ensure_billable(tenant, meter=meter, quantity=middle, api_key_ref=api_key_ref)
        except (BillingError, RateLimited):
            high = middle - 1
        else:
            low = middle
    return low


def release(tenant_id: int, hold_ids: Iterable[str]) -> None:
    """End holds whose work failed or was never queued.  Never raises: a hold that
    cannot be released now ends at its deadline."""
    hold_ids = list(hold_ids)
    if not hold_ids:
        return
    try:
        _release(client().pipeline(transaction=False), tenant_id, hold_ids).execute()
    except redis.RedisError:
        logger.warning(
            "billing: could not release %d holds; they end at their deadline", len(hold_ids)
        )


def settle(
    usage: dict[int, list[tuple[str, int, datetime, str]]], holds: dict[int, list[str]]
) -> None:
    """After the metering transaction commits: add its new ledger rows
    ``(meter, quantity, at, api key)`` to the running totals and end the holds of the
    work it stored, in one atomic step.  Never raises (the totals re-seed, holds end
    at their deadlines)."""
    pipe = client().pipeline(transaction=True)
    for key, added in totals.usage_increments(usage).items():
        pipe.eval(INCREMENT, 1, key, *[item for pair in added.items() for item in pair])
    for tenant_id, hold_ids in holds.items():
        if hold_ids:
            _release(pipe, tenant_id, hold_ids)
    try:
        pipe.execute()
    except redis.RedisError:
        logger.warning("billing: could not settle usage and holds", exc_info=True)


def release_expired(now: float | None = None, *, batch: int = 1000) -> int:
    """End the holds past their deadline (their owner died); returns how many (beat)."""
    released = 0
    while True:
        due = client().zrangebyscore(_deadlines_key(), 0, now or time.time(), start=0, num=batch)
        if not due:
            return released
        by_tenant: dict[int, list[str]] = {}
        for member in due:
            tenant_id, _, hold_id = member.decode().partition(":")
            by_tenant.setdefault(int(tenant_id), []).append(hold_id)
        pipe = client().pipeline(transaction=False)
        for tenant_id, hold_ids in by_tenant.items():
            _release(pipe, tenant_id, hold_ids)
        released += sum(pipe.execute())


def held(tenant: Tenant) -> Totals:
    """What the tenant's admitted, not yet settled work holds."""
    return Totals.parse(client().hgetall(_held_key(tenant.pk)))


# --- the check --------------------------------------------------------------------

REFUSAL_MEMORY_S = 2.0


class _RecentRefusals:
    """The last refusal per (tenant, meter, key), for ``REFUSAL_MEMORY_S``; bounded."""

    def __init__(self, size: int = 10_000) -> None:
        self._entries: dict[tuple, tuple[float, BillingError]] = {}
        self._tenants: dict[int, float] = {}  # tenant -> when its last entry expires
        self._size = size
        self._lock = threading.Lock()

    def put(self, key: tuple, refused: BillingError) -> None:
        with self._lock:
            if len(self._entries) >= self._size:
                self._clear_locked()  # a flood of distinct keys: start over, cheaply
            expires = time.monotonic() + REFUSAL_MEMORY_S
            self._entries[key] = (expires, refused)
            self._tenants[key[0]] = expires

    def has_tenant(self, tenant_id: int) -> bool:
        return self._tenants.get(tenant_id, 0.0) >= time.monotonic()

    def get(self, key: tuple) -> BillingError | None:
        found = self._entries.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def forget(self, tenant_id: int) -> None:
        with self._lock:
            for key in [key for key in self._entries if key[0] == tenant_id]:
                del self._entries[key]
            self._tenants.pop(tenant_id, None)

    def clear(self) -> None:
        with self._lock:
            self._clear_locked()

    def _clear_locked(self) -> None:
        self._entries.clear()
        self._tenants.clear()


_recent_refusals = _RecentRefusals()


def _refuse_if_suspended(tenant: Tenant) -> None:
    if tenant.status == Tenant.Status.SUSPENDED:
        raise BillingError(
            "This organisation is suspended for an unpaid invoice; pay it to resume.",
            code="account_suspended",
        )


def _refuses(tenant: Tenant, used: Totals, held: Totals, limits: Limits, **kwargs) -> bool:
    try:
        _check(tenant, used, held, limits, **kwargs)
    except BillingError:
        return True
    except RateLimited:
        return False
    return False


def _check(
    tenant: Tenant, used: Totals, held: Totals, limits: Limits, *, meter: str, api_key_ref: str
) -> None:
    """Refuse if the used and held totals (the new work held among them) cross a limit."""
    limit = limits.quotas.get((api_key_ref, meter))
    through_key = used.keys.get((api_key_ref, meter), 0) + held.keys.get((api_key_ref, meter), 0)
    if limit is not None and through_key > limit:
        raise BillingError(
            f"This API key's monthly quota of {limit} {meter} would be exceeded.",
            code="api_key_quota_exceeded",
            param="api_key",
        )
    cap = limits.cap
    if cap is not None and totals.usage_cost_exact(tenant.plan, (used + held).meters) > cap:
        raise BillingError(
            f"This request would take the period's usage charges past the spend cap of "
            f"{limits.cap} (minor units); lower your usage or wait for the next period.",
            code="spend_cap_exceeded",
        )
    queued = sum(held.meters.get(name, 0) for name in QUEUED_IMAGE_METERS)
    if meter in QUEUED_IMAGE_METERS and queued > settings.INFERENCE_MAX_QUEUED_IMAGES_PER_TENANT:
        raise RateLimited(
            f"This organisation already has {settings.INFERENCE_MAX_QUEUED_IMAGES_PER_TENANT} "
            "images queued for prediction; retry when some have finished.",
            code="too_many_queued_images",
            headers={"Retry-After": "1"},
        )


# --- Redis ------------------------------------------------------------------------


def _hold(tenant, period, hold_id, meter, key_field, quantity, deadline):
    keys = [
        _held_key(tenant.pk),
        _holds_key(tenant.pk),
        _deadlines_key(),
        totals.usage_key(tenant.pk, period),
        totals.limits_key(tenant.pk),
    ]
    args = [hold_id, meter, key_field, quantity, deadline, f"{tenant.pk}:{hold_id}"]
    used, held_now, limits = client().eval(_HOLD, len(keys), *keys, *args)
    used, limits = totals.seeded_or_seed(tenant, period, _pairs(used), _pairs(limits))
    return used, Totals.parse(_pairs(held_now)), limits


def _read(tenant: Tenant, period) -> tuple[Totals, Totals, Limits]:
    try:
        pipe = client().pipeline(transaction=False)
        pipe.hgetall(totals.usage_key(tenant.pk, period))
        pipe.hgetall(_held_key(tenant.pk))
        pipe.hgetall(totals.limits_key(tenant.pk))
        used, held_now, limits = pipe.execute()
    except redis.RedisError:
        used, limits = totals.from_database(tenant, period)
        return used, Totals({}, {}), limits
    used, limits = totals.seeded_or_seed(tenant, period, used, limits)
    return used, Totals.parse(held_now), limits


def _release(pipe, tenant_id: int, hold_ids: list[str]):
    keys = [_held_key(tenant_id), _holds_key(tenant_id), _deadlines_key()]
    return pipe.eval(_RELEASE, len(keys), *keys, tenant_id, *hold_ids)


def _pairs(flat: list) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _held_key(tenant_id: int) -> str:
    return f"{totals.namespace()}:held:{tenant_id}"


def _holds_key(tenant_id: int) -> str:
    return f"{totals.namespace()}:holds:{tenant_id}"


def _deadlines_key() -> str:
    return f"{totals.namespace()}:hold-deadlines"


def client() -> redis.Redis:
    return totals.client()
