"""The usage ledger's insert statement: exactly once per idempotency key.

billing.spend.metering records usage through it and keeps the spend totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
# The database's clock, never the host's: created_at always, occurred_at unless given.
_ROW = "(%s, %s, now(), %s, %s, coalesce(%s, now()), %s, %s, %s, %s)"


@dataclass(frozen=True)
class UsageDraft:
    """One fact to meter; ``occurred_at=None`` means now, by the database's clock."""

    meter: str
    quantity: int
    idempotency_key: str
    source: str
    occurred_at: datetime | None = None
    model_ref: str = ""
    api_key_ref: str = ""


def ledger_insert(tenant: Tenant, drafts: list[UsageDraft]) -> tuple[str, list]:
    """The statement appending ``drafts`` to the ledger, and its parameters.

    Repeats of a key are ignored by the unique constraint (never check-then-insert).
    The database stamps each row with its transaction (``xact``, billing.ledger.rollup).
    """
    params: list = []
    public_ids = new_public_ids(UsageEvent.PUBLIC_ID_PREFIX, len(drafts))
    for d, public_id in zip(drafts, public_ids, strict=True):
        params += [
            tenant.pk,
            public_id,
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
