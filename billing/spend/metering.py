"""Recording metered usage: the ledger row and, after commit, the running spend totals."""

from __future__ import annotations

from django.db import connection, transaction

from billing.ledger.usage import UsageDraft, ledger_insert
from billing.spend import enforcement
from tenants.models import Tenant


def usage_record(tenant: Tenant, drafts: list[UsageDraft]) -> int:
    """Append ``drafts`` to the ledger in one statement; returns how many were new.

    Call it inside the transaction that stores what was metered, so the fact and
    its usage commit together.  After commit, the rows really inserted are
    added to the running spend totals (billing.spend.enforcement).
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
