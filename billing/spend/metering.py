"""Recording metered usage: the ledger row and, after commit, the running spend totals."""

from __future__ import annotations

from django.db import connection, transaction

from billing.ledger.usage import UsageDraft, ledger_insert
from billing.spend import enforcement
from tenants.models import Tenant


def usage_record(tenant: Tenant, drafts: list[UsageDraft], *, settles: list[str] = ()) -> int:
    """Append ``drafts`` to the ledger in one statement; returns how many were new.

    Call it inside the transaction that stores what was metered, so the fact and
    its usage commit together.  After commit, the rows really inserted are added
    to the running spend totals and the holds ``settles`` names (the metered work's
    reservations, billing.spend.enforcement) end, in one step.
    """
    inserted = []
    if drafts:
        sql, params = ledger_insert(tenant, drafts)
        with connection.cursor() as cursor:
            cursor.execute(sql + " RETURNING meter, quantity, occurred_at, api_key_ref", params)
            inserted = cursor.fetchall()
    if inserted or settles:
        usage, holds = {tenant.pk: inserted}, {tenant.pk: list(settles)}
        transaction.on_commit(lambda: enforcement.settle(usage, holds))
    return len(inserted)
