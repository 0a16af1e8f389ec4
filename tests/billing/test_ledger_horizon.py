"""No usage can be skipped: the rollups read the ledger by transaction, so a row that
commits late behind a long transaction, or that a host with a skewed clock wrote, is
rolled up and invoiced like any other (billing.ledger.rollup).

Transactional tests: each write commits on its own, as in production."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connections
from django.db.models import Sum
from django.utils import timezone

from billing.ledger.periods import period_containing
from billing.ledger.rollup import rollup_usage
from billing.ledger.usage import UsageDraft, ledger_insert
from billing.models import InvoiceLine, UsageEvent, UsageRollup
from billing.pricing.closing import close_period
from billing.pricing.price_book import IMAGES_BASE
from core.context import tenant_context
from tenants.scoping import unscoped
from tests.billing.helpers import record

pytestmark = pytest.mark.django_db(transaction=True)
LAST_MONTH = period_containing(timezone.now()).previous()


def rolled_up() -> int:
    with unscoped(reason="test: what the rollups hold"):
        return UsageRollup.objects.aggregate(q=Sum("quantity"))["q"] or 0


def in_ledger() -> int:
    with unscoped(reason="test: what the ledger holds"):
        return UsageEvent.objects.aggregate(q=Sum("quantity"))["q"] or 0


def invoiced_quantity(handle) -> int:
    close_period(LAST_MONTH, tenant=handle.tenant)
    with handle.context():
        return InvoiceLine.objects.filter(kind="usage").aggregate(q=Sum("quantity"))["q"]


def test_a_row_committed_late_behind_a_long_transaction_is_rolled_up_and_invoiced(live_a):
    usage_at = LAST_MONTH.start + timedelta(hours=3)
    slow = connections.create_connection("default")  # another web or worker process
    try:
        slow.set_autocommit(False)
        with tenant_context(live_a.tenant), slow.cursor() as cursor:
            draft = UsageDraft(
                meter=IMAGES_BASE,
                quantity=7,
                occurred_at=usage_at,
                idempotency_key="slow-1",
                source="test",
            )
            cursor.execute(*ledger_insert(live_a.tenant, [draft]))
        record(live_a, IMAGES_BASE, 5, usage_at)  # others commit meanwhile
        rollup_usage()
        assert rolled_up() == 0  # the watermark waits at the open transaction
        slow.commit()  # long after the rollup read past the time it was written
    finally:
        slow.close()

    rollup_usage()

    assert rolled_up() == in_ledger() == 12
    assert invoiced_quantity(live_a) == 12


def test_a_row_written_by_a_host_whose_clock_is_behind_is_rolled_up_and_invoiced(
    live_a, monkeypatch
):
    usage_at = LAST_MONTH.start + timedelta(hours=3)
    record(live_a, IMAGES_BASE, 5, usage_at)
    rollup_usage()
    behind = timezone.now() - timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: behind)  # this host's clock is an hour late

    record(live_a, IMAGES_BASE, 7, usage_at)
    monkeypatch.undo()
    rollup_usage()

    assert rolled_up() == in_ledger() == 12
    assert invoiced_quantity(live_a) == 12


def test_ledger_times_come_from_the_database_clock(live_a, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: timezone.datetime(2001, 1, 1, tzinfo=timezone.UTC))
    with live_a.context():
        from billing.spend.metering import usage_record

        usage_record(live_a.tenant, [UsageDraft(IMAGES_BASE, 1, "now-1", "test")])
    monkeypatch.undo()
    with live_a.context():
        event = UsageEvent.objects.get()
    assert abs(event.created_at - timezone.now()) < timedelta(minutes=1)
    assert abs(event.occurred_at - timezone.now()) < timedelta(minutes=1)
