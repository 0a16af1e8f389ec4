"""The usage ledger's insert statement: exactly once per idempotency key.

billing.spend.metering records usage through it and keeps the spend totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

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
