"""Store a finished round: each prediction and its usage event, in one transaction.

The usage event's idempotency key is the prediction id, so a request that is
claimed again after a worker crashed rewrites the same prediction and bills
nothing more.

A round mixes many tenants.  Each tenant's rows are written by statements
preceded by that tenant's row-level-security settings (so the database checks
every row against its own tenant), and all of them go to the server as one
multi-statement round trip: per-tenant round trips made a round of 32 tenants
cost five times a round of one.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from itertools import groupby

from django.db import connection, transaction
from django.utils import timezone

from billing.ledger.usage import UsageDraft, ledger_insert
from billing.spend import enforcement
from core.context import database_settings_sql, tenant_context
from inference.models import Prediction
from tenants.models import Tenant

logger = logging.getLogger(__name__)


@lru_cache(maxsize=4096)
def _tenant(tenant_id: int) -> Tenant | None:
    return Tenant.objects.filter(pk=tenant_id).first()


_PREDICTION_COLUMNS = (
    "tenant_id",
    "public_id",
    "created_at",
    "model_ref",
    "status",
    "image_count",
    "top_k",
    "results",
    "error",
    "api_key_ref",
    "completed_at",
)
_ROW = "(" + ", ".join(["%s"] * len(_PREDICTION_COLUMNS)) + ")"


def _json(value) -> str | None:
    return None if value is None else json.dumps(value)


def _predictions_upsert(tenant: Tenant, pairs: list[tuple[dict, dict]], now) -> tuple[str, list]:
    """One multi-row upsert: a synchronous call's row is new; an asynchronous
    one's was created ``queued`` by the web process and is completed here."""
    params: list = []
    for payload, outcome in pairs:
        params += [
            tenant.pk,
            payload["prediction_id"],
            now,
            payload["model"]["id"],
            outcome["status"],
            payload["shape"][0],
            payload["top_k"],
            _json(outcome.get("results")),
            _json(outcome.get("error")),
            payload["api_key_ref"],
            now,
        ]
    sql = (
        f"INSERT INTO inference_prediction ({', '.join(_PREDICTION_COLUMNS)}) "  # noqa: S608
        f"VALUES {', '.join([_ROW] * len(pairs))} "
        "ON CONFLICT (tenant_id, public_id) DO UPDATE SET status = EXCLUDED.status, "
        "results = EXCLUDED.results, error = EXCLUDED.error, "
        "completed_at = EXCLUDED.completed_at;"
    )
    return sql, params


def _usage(payload: dict) -> UsageDraft:
    return UsageDraft(  # occurring now, by the database's clock
        meter=payload["meter"],
        quantity=payload["shape"][0],
        idempotency_key=f"prediction:{payload['prediction_id']}",
        source=f"prediction:{payload['prediction_id']}",
        model_ref=payload["model"]["id"],
        api_key_ref=payload["api_key_ref"],
    )


def record_outcomes(outcomes: list[tuple[dict, dict]]) -> None:
    """``outcomes``: (lane payload, {"status", "results" | "error"}) pairs.

    After commit, the running spend totals count the usage and every entry's
    hold ends (billing.spend.enforcement.settle).  An entry served again after a
    crash counts again (a multi-statement round trip cannot say which ledger
    rows were new, and its first count may have died with the worker): a double
    count only refuses early until the totals re-seed from the ledger, which is
    exact; a lost one could admit work past a cap.
    """
    if not outcomes:
        return
    now = timezone.now()
    statements: list[str] = []
    params: list = []
    counted: dict[int, list[tuple]] = {}
    settled: dict[int, list[str]] = {}
    ordered = sorted(outcomes, key=lambda pair: pair[0]["tenant_id"])
    for tenant_id, group in groupby(ordered, key=lambda pair: pair[0]["tenant_id"]):
        tenant = _tenant(tenant_id)
        pairs = list(group)
        if tenant is None:  # deleted while its requests queued: nothing to store or bill
            logger.warning("dropping %d predictions of unknown tenant %s", len(pairs), tenant_id)
            continue
        settled[tenant_id] = [payload["prediction_id"] for payload, _ in pairs]
        with tenant_context(tenant):
            statements.append(database_settings_sql())
        sql, values = _predictions_upsert(tenant, pairs, now)
        statements.append(sql)
        params += values
        billed = [
            payload
            for payload, outcome in pairs
            if outcome["status"] == Prediction.Status.SUCCEEDED
        ]
        if billed:
            drafts = [_usage(payload) for payload in billed]
            sql, values = ledger_insert(tenant, drafts)
            statements.append(sql + ";")
            params += values
            counted[tenant_id] = [
                (d.meter, d.quantity, now, d.api_key_ref)  # now: which period's totals
                for d in drafts
            ]
    if not statements:
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("".join(statements), params)
        transaction.on_commit(lambda: enforcement.settle(counted, settled))


def release_holds(payloads: list[dict]) -> None:
    """End the admission holds of entries that are not stored (metering off)."""
    by_tenant: dict[int, list[str]] = {}
    for payload in payloads:
        by_tenant.setdefault(payload["tenant_id"], []).append(payload["prediction_id"])
    enforcement.settle({}, by_tenant)
