"""Rollups and period close: invoices that match the ledger, re-runs that change nothing,
late events that become adjustments."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from billing import selectors
from billing.ledger.periods import period_containing
from billing.ledger.rollup import rollup_usage
from billing.models import Invoice, InvoiceLine, UsageEvent, UsageRollup
from billing.pricing.closing import close_period
from billing.pricing.price_book import IMAGES_BASE, IMAGES_FINETUNED, TRAINING_SECONDS
from core.errors import InvalidRequest
from tests.billing.helpers import record

# Period close and the staff console read across tenants on the cross-tenant
# connection, which sees only what this test committed.
pytestmark = pytest.mark.django_db(transaction=True)

LAST_MONTH = period_containing(timezone.now()).previous()
TWO_MONTHS_AGO = LAST_MONTH.previous()


def at(period, hours: float):
    return period.start + timedelta(hours=hours)


def lines_of(handle, invoice) -> list[InvoiceLine]:
    with handle.context():
        return list(selectors.invoice_line_list(handle.tenant, invoice=invoice))


def test_usage_becomes_one_line_per_meter_and_model_matching_the_ledger(tenant_a, tenant_b):
    record(tenant_a, IMAGES_BASE, 1_500, at(LAST_MONTH, 1), model_ref="mdl_a")
    record(tenant_a, IMAGES_BASE, 500, at(LAST_MONTH, 30), model_ref="mdl_a")
    record(tenant_a, IMAGES_FINETUNED, 40, at(LAST_MONTH, 2), model_ref="mdl_ft")
    record(tenant_a, TRAINING_SECONDS, 3_600, at(LAST_MONTH, 5), model_ref="ft_1")
    record(tenant_b, IMAGES_BASE, 7, at(LAST_MONTH, 1))

    result = close_period(LAST_MONTH)

    assert len(result.created) == 2
    with tenant_a.context():
        invoice = Invoice.objects.get()
    lines = lines_of(tenant_a, invoice)
    assert [(ln.meter, ln.model_ref, ln.quantity) for ln in lines] == [
        (IMAGES_BASE, "mdl_a", 2_000),
        (IMAGES_FINETUNED, "mdl_ft", 40),
        (TRAINING_SECONDS, "ft_1", 3_600),
    ]
    # payg: 0.05 c/image, 0.10 c/fine-tuned image, 0.08 c/training second
    assert [ln.amount_minor for ln in lines] == [100, 4, 288]
    assert [ln.unit_price for ln in lines] == ["0.05", "0.1", "0.08"]
    assert lines[0].tiers == [
        {
            "first_unit": 1,
            "last_unit": 2000,
            "quantity": 2000,
            "unit_price": "0.05",
            "amount": "100.00",
        }
    ]
    assert invoice.total_minor == 392 and invoice.status == "open"
    with tenant_a.context():
        for line in lines:
            drilled = selectors.usage_event_list(tenant_a.tenant, line=line)
            assert drilled.aggregate(q=Sum("quantity"))["q"] == line.quantity
        assert UsageEvent.objects.aggregate(q=Sum("quantity"))["q"] == sum(
            ln.quantity for ln in lines
        )


def test_a_rerun_of_period_close_changes_nothing(tenant_a):
    record(tenant_a, IMAGES_BASE, 10, at(LAST_MONTH, 1))
    first = close_period(LAST_MONTH)
    with tenant_a.context():
        before = list(InvoiceLine.objects.values_list("public_id", "amount_minor"))
    again = close_period(LAST_MONTH)
    assert again.created == () and again.already_closed == 1 and len(first.created) == 1
    with tenant_a.context():
        assert list(InvoiceLine.objects.values_list("public_id", "amount_minor")) == before
        assert Invoice.objects.count() == 1


def test_closing_for_one_tenant_leaves_the_others_open(tenant_a, tenant_b):
    record(tenant_a, IMAGES_BASE, 10, at(LAST_MONTH, 1))
    record(tenant_b, IMAGES_BASE, 10, at(LAST_MONTH, 1))
    assert len(close_period(LAST_MONTH, tenant=tenant_a.tenant).created) == 1
    with tenant_b.context():
        assert not Invoice.objects.exists()
    assert len(close_period(LAST_MONTH).created) == 1


def test_the_running_period_cannot_be_closed(db):
    with pytest.raises(InvalidRequest, match="has not ended"):
        close_period(period_containing(timezone.now()))


@pytest.mark.django_db(transaction=True)  # the late event commits after the close
def test_a_late_event_for_a_closed_period_becomes_an_adjustment_line(tenant_a):
    record(tenant_a, IMAGES_BASE, 1_000, at(TWO_MONTHS_AGO, 3), model_ref="mdl_a")
    close_period(TWO_MONTHS_AGO)
    late_key = record(tenant_a, IMAGES_BASE, 300, at(TWO_MONTHS_AGO, 4), model_ref="mdl_a")
    record(tenant_a, IMAGES_BASE, 100, at(LAST_MONTH, 1), model_ref="mdl_a")

    close_period(LAST_MONTH)

    with tenant_a.context():
        invoice = Invoice.objects.get(period_start=LAST_MONTH.start)
    regular, adjustment = lines_of(tenant_a, invoice)
    assert (regular.quantity, regular.amount_minor, regular.is_adjustment) == (100, 5, False)
    assert adjustment.is_adjustment and adjustment.service_period_start == TWO_MONTHS_AGO.start
    assert (adjustment.quantity, adjustment.amount_minor) == (300, 15)
    assert "Adjustment for" in adjustment.description
    with tenant_a.context():
        assert [
            e.idempotency_key for e in selectors.usage_event_list(tenant_a.tenant, line=adjustment)
        ] == [late_key]
        assert (
            selectors.usage_event_list(tenant_a.tenant, line=regular).aggregate(q=Sum("quantity"))[
                "q"
            ]
            == 100
        )
    assert invoice.total_minor == 20
    # closing the earlier period again adds nothing there either
    assert close_period(TWO_MONTHS_AGO).created == ()


@pytest.mark.django_db(transaction=True)  # each event commits on its own, as in production
def test_rollups_are_idempotent_and_pick_up_late_hours(tenant_a):
    record(tenant_a, IMAGES_BASE, 5, at(LAST_MONTH, 1))
    first = rollup_usage()
    assert first.rows == 1
    assert rollup_usage().rows == 0
    record(tenant_a, IMAGES_BASE, 2, at(LAST_MONTH, 1))
    record(tenant_a, IMAGES_BASE, 4, at(TWO_MONTHS_AGO, 1))
    assert rollup_usage().tenant_ids == (tenant_a.tenant.pk,)
    with tenant_a.context():
        assert sorted(UsageRollup.objects.values_list("quantity", "events")) == [(4, 1), (7, 2)]


def test_the_close_command_takes_a_tenant_and_a_period(tenant_a, tenant_b, capsys):
    record(tenant_a, IMAGES_BASE, 10, at(LAST_MONTH, 1))
    record(tenant_b, IMAGES_BASE, 10, at(LAST_MONTH, 1))
    call_command(
        "close_billing_period", "--tenant", tenant_a.tenant.public_id, "--period", LAST_MONTH.label
    )
    out = capsys.readouterr().out
    assert "1 invoice(s) created" in out
    with tenant_a.context():
        assert Invoice.objects.get().public_id in out
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("close_billing_period", "--period", "2026-13")


def test_the_beat_task_closes_last_month_once(tenant_a):
    from billing import tasks

    record(tenant_a, IMAGES_BASE, 10, at(LAST_MONTH, 1))
    first = tasks.close_previous_period()
    again = tasks.close_previous_period()
    assert (len(first["created"]), again["created"], again["already_closed"]) == (1, [], 1)
    assert first["period"] == LAST_MONTH.label
