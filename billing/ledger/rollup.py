"""Hourly rollups of the usage ledger: one set-based statement per run.

Each run reads the ledger window ``xact ∈ [watermark, horizon)`` — events by
the id of the transaction that inserted them — and adds it to ``UsageRollup``
rows keyed by tenant, hour of ``occurred_at``, meter, model and API key
(``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE``).  The watermark
moves to ``horizon`` in the same transaction, so every event is added exactly
once, and a re-run finds an empty window and changes nothing.

``horizon`` is the oldest transaction still running elsewhere when the run
starts: every transaction below it has committed or never will, so no event
can later appear behind the watermark — not one whose transaction ran long,
nor one written by a host with a skewed clock.  An event of a transaction
still open is read by the first run after it commits.  The run's own
transaction counts as ended, since what it wrote commits with the rollup;
nothing may record usage after a rollup in the same transaction (it would lie
behind the horizon).

A late event (one whose ``occurred_at`` is hours or months old) lands in the
rollup of its own hour; if that hour's period is already invoiced, the row's
``updated_at`` tells period close to bill it as an adjustment.  Rollups and
period close take one advisory lock, so they never interleave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from core.db import CROSS_TENANT, scoped_connection
from tenants.scoping import unscoped

WATERMARK = "usage_rollup"
LEDGER_LOCK = 0x6D68_626C  # one advisory lock for rollups and period close
# The first transaction id still running elsewhere in this database (else the next to
# be assigned): below it, every transaction that could write the ledger has ended, its
# rows committed or gone for good.  Transaction ids are the whole cluster's, so those
# pg_stat_activity places in another database are left out (an id it cannot place
# stays in: waiting longer is safe).  The rollup's own transaction counts as ended:
# what it wrote commits with it.
CURRENT_HORIZON = """coalesce(
    (SELECT min(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
     WHERE mod(x::text::bigint, 4294967296) NOT IN (
         SELECT backend_xid::text::bigint FROM pg_stat_activity
         WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())),
    greatest(pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
             pg_current_xact_id_if_assigned()::text::bigint + 1)
)"""
# The horizon of invoices cut before the ledger had transaction ids (migration 0006).
LEGACY_HORIZON = 2

_ROLLUP_SQL = """
WITH window_rows AS (
    INSERT INTO billing_usagerollup AS r
        (tenant_id, public_id, created_at, updated_at, hour, meter, model_ref, api_key_ref,
         quantity, events)
    SELECT e.tenant_id, '', %(stamp)s, %(stamp)s, date_trunc('hour', e.occurred_at), e.meter,
           e.model_ref, e.api_key_ref, sum(e.quantity), count(*)
    FROM billing_usageevent e
    WHERE e.xact >= %(since)s AND e.xact < %(horizon)s
    GROUP BY e.tenant_id, date_trunc('hour', e.occurred_at), e.meter, e.model_ref, e.api_key_ref
    ON CONFLICT (tenant_id, hour, meter, model_ref, api_key_ref) DO UPDATE
    SET quantity = r.quantity + EXCLUDED.quantity, events = r.events + EXCLUDED.events,
        updated_at = EXCLUDED.updated_at
    RETURNING r.tenant_id
)
SELECT tenant_id, count(*) FROM window_rows GROUP BY tenant_id
"""


@dataclass(frozen=True)
class RollupResult:
    since: int  # the transaction horizon the run started from
    horizon: int  # ... and the one it rolled up to
    stamp: datetime  # database time of the run (after taking the lock)
    rows: int
    tenant_ids: tuple[int, ...]


def rollup_usage() -> RollupResult:
    """Roll the ledger up to the current transaction horizon for every tenant (audited)."""
    with unscoped(reason="billing: hourly usage rollup"), transaction.atomic(using=CROSS_TENANT):
        return rollup_locked()


def rollup_locked() -> RollupResult:
    """The rollup step; the caller holds a transaction and an ``unscoped`` block."""
    with scoped_connection().cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK])
        cursor.execute(f"SELECT clock_timestamp(), {CURRENT_HORIZON}")
        stamp, horizon = cursor.fetchone()
        since = _watermark(cursor)
        horizon = max(horizon, since)
        counts: list[tuple[int, int]] = []
        if horizon > since:
            cursor.execute(_ROLLUP_SQL, {"stamp": stamp, "since": since, "horizon": horizon})
            counts = cursor.fetchall()
            cursor.execute(
                """INSERT INTO billing_ledgerwatermark (name, rolled_up_to, horizon)
                   VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE
                   SET rolled_up_to = EXCLUDED.rolled_up_to, horizon = EXCLUDED.horizon""",
                [WATERMARK, stamp, horizon],
            )
    return RollupResult(
        since=since,
        horizon=horizon,
        stamp=stamp,
        rows=sum(count for _, count in counts),
        tenant_ids=tuple(sorted(tenant_id for tenant_id, _ in counts)),
    )


def _watermark(cursor) -> int:
    cursor.execute(
        "SELECT horizon FROM billing_ledgerwatermark WHERE name = %s FOR UPDATE", [WATERMARK]
    )
    row = cursor.fetchone()
    return row[0] if row else 0
