"""Billing at scale: rollup and period close against a raw aggregate of the same rows.

Creates its own database (``modelhouse_bench_billing``, migrated as the owner
like the tests), loads usage events for many tenants into the ledger with
COPY, then times in one run:

* a single raw ``SELECT tenant_id, meter, sum(quantity) … GROUP BY tenant_id,
  meter`` over the ledger (the reference; best of two runs, before and after);
* ``rollup_usage()`` — the hourly rollup job, here over the whole load;
* ``close_period()`` — rating every tenant's month into invoices and lines;

and prints each with its ratio to the reference (target: rollup + close <= 3x).
Then bench/admission.py: the cost of admission with reservations against the check
without them, and what a flood of 32 clients gets past a free tenant's allowance.

Run: ``.venv/bin/python bench/billing.py [--events 1000000] [--tenants 1000] [--hours 1 24]``.
Each ``--hours`` value is one scenario, on a fresh database: the events are
spread over that many hours of last month.  Rollups have one row per tenant,
hour, meter, model and key, so it sets how much the rollup compresses the
ledger: one hour is what a scheduled run sees (beat rolls up every 15
minutes); 24 hours is a run catching up a day without rollups.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.test")
os.environ["MODELHOUSE_DB_NAME"] = os.environ.get("BENCH_DB_NAME", "modelhouse_bench_billing")
os.environ.setdefault("MODELHOUSE_REDIS_DB_OFFSET", "12")

import django  # noqa: E402

django.setup()

import psycopg2  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402

from bench import admission  # noqa: E402
from billing.ledger.periods import period_containing  # noqa: E402
from billing.ledger.rollup import rollup_usage  # noqa: E402
from billing.ledger.usage import LEDGER_COLUMNS  # noqa: E402
from billing.models import Invoice, InvoiceLine, UsageRollup  # noqa: E402
from billing.pricing.closing import close_period  # noqa: E402
from billing.pricing.price_book import IMAGES_BASE, IMAGES_FINETUNED, TRAINING_SECONDS  # noqa: E402
from saas import config  # noqa: E402
from saas.database_setup import ensure_roles_and_database  # noqa: E402
from tenants.models import Tenant  # noqa: E402
from tenants.scoping import unscoped  # noqa: E402

RAW_AGGREGATE = (
    "SELECT tenant_id, meter, sum(quantity) FROM billing_usageevent GROUP BY tenant_id, meter"
)


def fresh_database() -> dict:
    connections.close_all()  # the previous scenario's database is dropped
    plan = config.database_plan()
    ensure_roles_and_database(plan, recreate=True)
    call_command("migrate", database="owner", interactive=False, verbosity=0)
    connections["owner"].close()
    return plan.admin


def make_tenants(count: int) -> list[int]:
    Tenant.objects.bulk_create(
        [Tenant(name=f"Bench {n}", plan="payg") for n in range(count)], batch_size=1000
    )
    return list(Tenant.objects.order_by("pk").values_list("pk", flat=True))


def ledger_csv(tenant_ids: list[int], events: int, hours: int, start: datetime) -> io.StringIO:
    """Each tenant: two models, two keys; mostly base images, some fine-tuned, a little training."""
    rng = random.Random(7)
    created = datetime.now(UTC) - timedelta(minutes=5)
    per_tenant = events // len(tenant_ids)
    buffer = io.StringIO()
    write = buffer.write
    n = 0
    for tenant_id in tenant_ids:
        for _ in range(per_tenant):
            draw = rng.random()
            if draw < 0.6:
                meter, quantity, model = IMAGES_BASE, rng.randint(1, 4), "mdl_base"
            elif draw < 0.95:
                meter, quantity, model = IMAGES_FINETUNED, rng.randint(1, 4), f"mdl_{tenant_id}"
            else:
                meter, quantity, model = TRAINING_SECONDS, rng.randint(60, 600), f"ft_{tenant_id}"
            occurred = start + timedelta(seconds=rng.randrange(hours * 3600))
            key = f"key_{tenant_id}_{rng.randint(1, 2)}"
            write(
                f"{tenant_id}\tue_{n}\t{created.isoformat()}\t{meter}\t{quantity}\t"
                f"{occurred.isoformat()}\tbench-{n}\tbench\t{model}\t{key}\n"
            )
            n += 1
    buffer.seek(0)
    return buffer


def load(admin: dict, data: io.StringIO) -> None:
    # The superuser loads the fixture (COPY is refused under row-level security);
    # everything measured runs as the restricted app role.
    pg = psycopg2.connect(
        dbname=os.environ["MODELHOUSE_DB_NAME"],
        user=admin["USER"],
        host=admin["HOST"],
        port=admin["PORT"],
        password=admin.get("PASSWORD") or None,
    )
    pg.autocommit = True
    try:
        with pg.cursor() as cursor:
            columns = ", ".join(LEDGER_COLUMNS)
            cursor.copy_expert(f"COPY billing_usageevent ({columns}) FROM STDIN", data)
            cursor.execute("VACUUM ANALYZE billing_usageevent")
    finally:
        pg.close()


def raw_aggregate() -> tuple[float, int]:
    with unscoped(reason="bench: raw aggregate"), connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(RAW_AGGREGATE)
        rows = len(cursor.fetchall())
        return time.perf_counter() - started, rows


def timed(action):
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def scenario(events: int, tenants: int, hours: int, period) -> float:
    """Load ``events`` spread over ``hours`` into a fresh ledger, then time rollup and
    close against the raw aggregate; returns (rollup + close) / raw."""
    admin = fresh_database()
    tenant_ids = make_tenants(tenants)
    generate_s, data = timed(lambda: ledger_csv(tenant_ids, events, hours, period.start))
    load_s, _ = timed(lambda: load(admin, data))
    print(
        f"\nledger: {events:,} events, {tenants:,} tenants over {hours} h "
        f"(generated in {generate_s:.1f} s, COPY + ANALYZE in {load_s:.1f} s)"
    )

    raw_before, groups = raw_aggregate()
    rollup_s, rolled = timed(rollup_usage)
    close_s, closed = timed(lambda: close_period(period))
    raw_after, _ = raw_aggregate()
    raw_s = min(raw_before, raw_after)

    with unscoped(reason="bench: count results"):
        invoices, lines = Invoice.objects.count(), InvoiceLine.objects.count()
        rollups = UsageRollup.objects.count()
    print(
        f"raw GROUP BY tenant, meter : {raw_s * 1000:8.0f} ms  ({groups:,} groups; "
        f"runs {raw_before * 1000:.0f} / {raw_after * 1000:.0f} ms)"
    )
    print(
        f"rollup                     : {rollup_s * 1000:8.0f} ms  {rollup_s / raw_s:5.2f}x  "
        f"({rolled.rows:,} rollup rows)"
    )
    print(
        f"period close               : {close_s * 1000:8.0f} ms  {close_s / raw_s:5.2f}x  "
        f"({len(closed.created):,} invoices, {lines:,} lines)"
    )
    total = rollup_s + close_s
    print(f"rollup + close             : {total * 1000:8.0f} ms  {total / raw_s:5.2f}x")
    assert invoices == len(closed.created) and rollups == rolled.rows

    rerun_s, again = timed(lambda: close_period(period))
    print(f"close re-run               : {rerun_s * 1000:8.0f} ms  created {len(again.created)}")
    return total / raw_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--tenants", type=int, default=1_000)
    parser.add_argument("--hours", type=int, nargs="+", default=[1, 24])
    args = parser.parse_args()
    period = period_containing(datetime.now(UTC)).previous()

    ratios = {hours: scenario(args.events, args.tenants, hours, period) for hours in args.hours}
    admission.report()
    print("\nrollup + close vs the raw aggregate (target <= 3x for a scheduled run):")
    for hours, ratio in ratios.items():
        role = (
            "a scheduled run (beat rolls up every 15 min)"
            if hours <= 1
            else "catching up after rollups stopped"
        )
        verdict = "meets" if ratio <= 3 else "misses"
        print(f"  {hours:>3} h of ledger in one run, {role:<45}: {ratio:5.2f}x  {verdict} 3x")


if __name__ == "__main__":
    main()
