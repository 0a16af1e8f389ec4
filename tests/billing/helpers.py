"""Recording usage the way inference and training do, for billing tests."""

from __future__ import annotations

from datetime import datetime
from itertools import count

from billing.ledger.usage import UsageDraft
from billing.spend.metering import usage_record
from tests.factories import TenantHandle

_keys = count(1)


def record(
    handle: TenantHandle,
    meter: str,
    quantity: int,
    at: datetime,
    *,
    model_ref: str = "mdl_base",
    api_key_ref: str = "",
    key: str | None = None,
) -> str:
    """One usage event for ``handle``'s tenant; returns its idempotency key."""
    key = key or f"test-{next(_keys)}"
    with handle.context():
        usage_record(
            handle.tenant,
            [
                UsageDraft(
                    meter=meter,
                    quantity=quantity,
                    occurred_at=at,
                    idempotency_key=key,
                    source="test",
                    model_ref=model_ref,
                    api_key_ref=api_key_ref,
                )
            ],
        )
    return key
