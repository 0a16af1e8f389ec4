"""Hourly rollups of the usage ledger: one set-based statement per run.

Each run reads the ledger window ``created_at ∈ [watermark, cutoff)`` and adds
it to ``UsageRollup`` rows keyed by tenant, hour of ``occurred_at``, meter,
model and API key (``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE``).
The watermark moves to ``cutoff`` in the same transaction, so every event is
added exactly once, and a re-run finds an empty window and changes nothing.

A late event (one whose ``occurred_at`` is hours or months old) lands in the
rollup of its own hour; if that hour's period is already invoiced, the row's
``updated_at`` tells period close to bill it as an adjustment.

``cutoff`` trails the database clock by ``BILLING_LEDGER_LAG_S``: an event is
stamped ``created_at`` just before its transaction commits, and the lag must
exceed the longest such transaction, or an event committed behind the
watermark would be missed.  Rollups and period close take one advisory lock,
so they never interleave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction

from tenants.scoping import unscoped

WATERMARK = "usage_rollup"
LEDGER_LOCK = 0x6D68_626C  # one advisory lock for rollups and period close
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

_ROLLUP_SQL = """
WITH window_rows AS (
    INSERT INTO billing_usagerollup AS r
        (tenant_id, public_id, created_at, updated_at, hour, meter, model_ref, api_key_ref,
         quantity, events)
    SELECT e.tenant_id, '', %(stamp)s, %(stamp)s, date_trunc('hour', e.occurred_at), e.meter,
           e.model_ref, e.api_key_ref, sum(e.quantity), count(*)
    FROM billing_usageevent e
    WHERE e.created_at >= %(since)s AND e.created_at < %(cutoff)s
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
    since: datetime
    rolled_up_to: datetime
    stamp: datetime  # database time the run wrote its rows (after taking the lock)
    rows: int
    tenant_ids: tuple[int, ...]


def rollup_usage() -> RollupResult:
    """Roll the ledger up to ``now - BILLING_LEDGER_LAG_S`` for every tenant (audited)."""
    with unscoped(reason="billing: hourly usage rollup"), transaction.atomic():
        return rollup_locked()


def rollup_locked() -> RollupResult:
    """The rollup step; the caller holds a transaction and an ``unscoped`` block."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK])
        cursor.execute(
            "SELECT clock_timestamp(), clock_timestamp() - make_interval(secs => %s)",
            [settings.BILLING_LEDGER_LAG_S],
        )
        stamp, cutoff = cursor.fetchone()
        since = _watermark(cursor)
        cutoff = max(cutoff, since)
        counts: list[tuple[int, int]] = []
        if cutoff > since:
            cursor.execute(_ROLLUP_SQL, {"stamp": stamp, "since": since, "cutoff": cutoff})
            counts = cursor.fetchall()
            cursor.execute(
                """INSERT INTO billing_ledgerwatermark (name, rolled_up_to) VALUES (%s, %s)
                   ON CONFLICT (name) DO UPDATE SET rolled_up_to = EXCLUDED.rolled_up_to""",
                [WATERMARK, cutoff],
            )
    return RollupResult(
        since=since,
        rolled_up_to=cutoff,
        stamp=stamp,
        rows=sum(count for _, count in counts),
        tenant_ids=tuple(sorted(tenant_id for tenant_id, _ in counts)),
    )


def _watermark(cursor) -> datetime:
    cursor.execute(
        "SELECT rolled_up_to FROM billing_ledgerwatermark WHERE name = %s FOR UPDATE", [WATERMARK]
    )
    row = cursor.fetchone()
    return row[0] if row else _EPOCH
