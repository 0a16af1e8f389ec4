"""Writing to the usage ledger: exactly once per idempotency key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from billing import enforcement
from billing.models import UsageEvent
from core.ids import new_public_ids
from tenants.models import Tenant

LEDGER_COLUMNS = (
    "tenant_id",
    "public_id",
    "created_at",
    "meter",
    "quantity",
    "occurred_at",
    "idempotency_key",
    "source",
    "model_ref",
    "api_key_ref",
)
_ROW = "(" + ", ".join(["%s"] * len(LEDGER_COLUMNS)) + ")"


@dataclass(frozen=True)
class UsageDraft:
    meter: str
    quantity: int
    occurred_at: datetime
    idempotency_key: str
    source: str
    model_ref: str = ""
    api_key_ref: str = ""


def ledger_insert(tenant: Tenant, drafts: list[UsageDraft]) -> tuple[str, list]:
    """The statement appending ``drafts`` to the ledger, and its parameters.

    Repeats of a key are ignored by the unique constraint (never check-then-insert).
    """
    now = timezone.now()
    params: list = []
    public_ids = new_public_ids(UsageEvent.PUBLIC_ID_PREFIX, len(drafts))
    for d, public_id in zip(drafts, public_ids, strict=True):
        params += [
            tenant.pk,
            public_id,
            now,
            d.meter,
            d.quantity,
            d.occurred_at,
            d.idempotency_key,
            d.source,
            d.model_ref,
            d.api_key_ref,
        ]
    sql = (
        f"INSERT INTO billing_usageevent ({', '.join(LEDGER_COLUMNS)}) "  # noqa: S608 - fixed
        f"VALUES {', '.join([_ROW] * len(drafts))} "
        "ON CONFLICT (tenant_id, idempotency_key) DO NOTHING"
    )
    return sql, params


def usage_record(tenant: Tenant, drafts: list[UsageDraft]) -> int:
    """Append ``drafts`` to the ledger in one statement; returns how many were new.

    Call it inside the transaction that stores what was metered, so the fact and
    its usage commit together.  After commit, the rows really inserted are
    added to the running spend totals (billing.enforcement).
    """
    if not drafts:
        return 0
    sql, params = ledger_insert(tenant, drafts)
    with connection.cursor() as cursor:
        cursor.execute(sql + " RETURNING meter, quantity, occurred_at, api_key_ref", params)
        inserted = cursor.fetchall()
    if inserted:
        transaction.on_commit(lambda: enforcement.count_usage(tenant.pk, inserted))
    return len(inserted)
