"""Writing to the usage ledger: exactly once per idempotency key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing.models import UsageEvent
from tenants.ids import new_public_id
from tenants.models import Tenant


@dataclass(frozen=True)
class UsageDraft:
    meter: str
    quantity: int
    occurred_at: datetime
    idempotency_key: str
    source: str
    model_ref: str = ""
    api_key_ref: str = ""


def usage_record(tenant: Tenant, drafts: list[UsageDraft]) -> None:
    """Append ``drafts`` to the ledger in one statement.

    Call it inside the transaction that stores what was metered, so the fact and
    its usage commit together.  Repeats of a key are ignored by the unique
    constraint (never check-then-insert).
    """
    rows = [UsageEvent(tenant=tenant, public_id=new_public_id(UsageEvent.PUBLIC_ID_PREFIX),
                       meter=d.meter, quantity=d.quantity, occurred_at=d.occurred_at,
                       idempotency_key=d.idempotency_key, source=d.source,
                       model_ref=d.model_ref, api_key_ref=d.api_key_ref) for d in drafts]
    UsageEvent.objects.bulk_create(rows, ignore_conflicts=True)
