"""The admission cost of spend control and what a flood gets past a cap (bench/billing.py).

* **Latency**: reserving a prediction's cost (one Redis script that records the hold
  and returns the totals it is checked against; billing.spend.enforcement.reserve)
  against the reference, the check without reservations that admission ran before
  (one pipeline reading the used totals and the limits, the same evaluation).
* **Flood**: 32 clients at once, half synchronous and half asynchronous predictions of
  64 images each, from a free tenant with 1,000 images of its allowance left, through
  the inference services (no worker: nothing is stored meanwhile, the worst case).  The
  units admitted past the allowance are counted with reservations and, on a second
  tenant, with the reference check standing in for admission.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np
from django.conf import settings
from django.db import connections
from django.utils import timezone

from billing.ledger.periods import period_containing
from billing.ledger.usage import UsageDraft
from billing.pricing.price_book import FREE, IMAGES_BASE
from billing.spend import enforcement, totals
from billing.spend.metering import usage_record
from core.context import tenant_context
from core.errors import ApiError
from inference import lane, selectors, services
from inference.inputs import PredictInput
from inference.registry import base_model_register, committed_base_dir_list
from tenants import services as tenant_services
from tenants.authentication import ApiPrincipal

CLIENTS, IMAGES_PER_REQUEST, LEFT = 32, 64, 1_000


def todays_check(tenant, *, meter: str, quantity: int, api_key_ref: str = "") -> None:
    """The reference: admission as it was before reservations, holding nothing."""
    period = period_containing(timezone.now())
    pipe = totals.client().pipeline(transaction=False)
    pipe.hgetall(totals.usage_key(tenant.pk, period))
    pipe.hgetall(totals.limits_key(tenant.pk))
    used, limits = totals.seeded_or_seed(tenant, period, *pipe.execute())
    wanted = totals.Totals({meter: quantity}, {(api_key_ref, meter): quantity})
    enforcement._check(tenant, used, wanted, limits, meter=meter, api_key_ref=api_key_ref)


def latency(tenants: list, calls: int = 5000) -> dict[str, tuple[float, float]]:
    """p50 and p99 seconds of the reference check and of a reservation, interleaved."""
    for tenant in tenants:
        todays_check(tenant, meter=IMAGES_BASE, quantity=1)  # seed the totals
    samples: dict[str, list[float]] = {"check": [], "reserve": []}
    for n in range(calls):
        tenant = tenants[n % len(tenants)]
        started = time.perf_counter()
        todays_check(tenant, meter=IMAGES_BASE, quantity=1, api_key_ref="key_x")
        samples["check"].append(time.perf_counter() - started)
        started = time.perf_counter()
        enforcement.reserve(
            tenant,
            hold_id=f"bench_{n}",
            meter=IMAGES_BASE,
            quantity=1,
            api_key_ref="key_x",
            ttl_s=60,
        )
        samples["reserve"].append(time.perf_counter() - started)
        enforcement.release(tenant.pk, [f"bench_{n}"])  # the worker's part, not timed
    return {name: _p50_p99(values) for name, values in samples.items()}


def _us(p50: float, p99: float) -> str:
    return f"p50 {p50 * 1e6:5.0f} us, p99 {p99 * 1e6:5.0f} us"


def _p50_p99(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return statistics.median(values), values[int(len(values) * 0.99)]


def free_tenant(name: str):
    tenant, owner = tenant_services.tenant_create(
        name=name, owner_email=f"{name.lower()}@bench.test", plan="free"
    )
    with tenant_context(tenant):
        key = tenant_services.api_key_create(
            tenant, actor=owner, name="bench", scopes=["predict"]
        ).key
        usage_record(
            tenant,
            [UsageDraft(IMAGES_BASE, FREE.price_for(IMAGES_BASE).included - LEFT, name, "bench")],
        )
    return tenant, ApiPrincipal(tenant, key.pk, key.public_id, frozenset({"predict"}))


def flood(tenant, principal, *, reserve: bool) -> int:
    """Images admitted to the lane by ``CLIENTS`` concurrent predictions."""
    base = base_model_register(committed_base_dir_list()[0])
    with tenant_context(tenant):
        served = selectors.served_model_get(tenant, ref=base.public_id)
    images = np.zeros((IMAGES_PER_REQUEST, *served.input_size, 3), dtype=np.uint8)
    inputs = PredictInput(images, 1)

    def client(n: int) -> int:
        try:
            with tenant_context(tenant):
                if not reserve:  # the reference: what passed the check was queued
                    todays_check(tenant, meter=served.meter, quantity=IMAGES_PER_REQUEST)
                elif n % 2:
                    services.prediction_submit_async(
                        tenant, principal=principal, served=served, inputs=inputs
                    )
                else:
                    services.prediction_run_sync(
                        tenant, principal=principal, served=served, inputs=inputs
                    )
            return IMAGES_PER_REQUEST
        except ApiError as error:
            # 504: a synchronous call admitted and queued, its worker absent.
            return IMAGES_PER_REQUEST if error.status == 504 else 0
        finally:
            connections.close_all()

    settings.INFERENCE_SYNC_TIMEOUT_S = 0.5
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        admitted = sum(pool.map(client, range(CLIENTS)))
    lane.redis_client().delete(lane.lane_key("inference"))  # no worker will come
    return admitted


def report() -> dict:
    first, second = free_tenant("Flood"), free_tenant("Reference")
    figures = latency([first[0], second[0]])
    past_with_holds = max(0, flood(*first, reserve=True) - LEFT)
    past_reference = max(0, flood(*second, reserve=False) - LEFT)
    (check_p50, check_p99), (hold_p50, hold_p99) = figures["check"], figures["reserve"]
    print(f"\nadmission (warm), {datetime.now(UTC):%H:%M}:")
    print(f"  reference check (no holds) : {_us(check_p50, check_p99)}")
    print(
        f"  reservation                : {_us(hold_p50, hold_p99)}"
        f"  {hold_p50 / check_p50:4.2f}x the reference p50 (target <= 2x)"
    )
    print(
        f"\nflood: {CLIENTS} clients x {IMAGES_PER_REQUEST} images (sync and async), a free tenant "
        f"with {LEFT} images left\n"
        f"  images admitted past the allowance, with reservations  : {past_with_holds}"
        f"  (target 0)\n"
        f"  images admitted past the allowance, reference check    : {past_reference}"
    )
    return {"reserve_ratio": hold_p50 / check_p50, "past_cap": past_with_holds}
