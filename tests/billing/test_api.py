"""The usage and invoice API: shapes, CSV exports, drill-down, credit notes (read-only for
tenants: staff decide them), isolation."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.ledger.periods import period_containing
from billing.models import CreditNote, Invoice
from billing.pricing.closing import close_period
from billing.pricing.price_book import IMAGES_BASE, TRAINING_SECONDS
from tenants.models import AuditEvent
from tests.billing.helpers import record, staff_credit

# Period close and the staff console read across tenants on the cross-tenant
# connection, which sees only what this test committed.
pytestmark = pytest.mark.django_db(transaction=True)

LAST_MONTH = period_containing(timezone.now()).previous()


@pytest.fixture
def invoiced(tenant_a):
    """Tenant A with a closed invoice for last month: two models and training."""
    start = LAST_MONTH.start
    record(
        tenant_a,
        IMAGES_BASE,
        1_200,
        start + timedelta(hours=1),
        model_ref="mdl_a",
        api_key_ref="key_1",
    )
    record(
        tenant_a,
        IMAGES_BASE,
        800,
        start + timedelta(days=2),
        model_ref="mdl_b",
        api_key_ref="key_2",
    )
    record(tenant_a, TRAINING_SECONDS, 600, start + timedelta(days=2, hours=3), model_ref="ft_1")
    (public_id,) = close_period(LAST_MONTH, tenant=tenant_a.tenant).created
    return public_id


def csv_rows(response) -> list[dict]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.DictReader(io.StringIO(body.decode())))


def test_an_invoice_shows_its_lines_status_period_and_currency(tenant_a, invoiced):
    response = tenant_a.client.get(f"/v1/invoices/{invoiced}")
    assert response.status_code == 200
    body = response.json()
    assert (body["object"], body["status"], body["currency"]) == ("invoice", "open", "usd")
    assert body["period"]["start"].startswith(LAST_MONTH.start.strftime("%Y-%m-01T00:00:00"))
    assert [
        (ln["meter"], ln["model"], ln["quantity"], ln["unit_price"], ln["amount"])
        for ln in body["lines"]
    ] == [
        (IMAGES_BASE, "mdl_a", 1_200, "0.05", 60),
        (IMAGES_BASE, "mdl_b", 800, "0.05", 40),
        (TRAINING_SECONDS, "ft_1", 600, "0.08", 48),
    ]
    assert body["total"] == body["amount_due"] == 148
    assert body["lines"][1]["tiers"][0]["first_unit"] == 1_201  # mdl_b follows mdl_a's units


def test_invoice_list_is_paginated_with_a_fixed_number_of_queries(tenant_a, invoiced):
    with CaptureQueriesContext(connection) as queries:
        response = tenant_a.client.get("/v1/invoices?limit=5")
    body = response.json()
    assert [inv["id"] for inv in body["data"]] == [invoiced] and body["has_more"] is False
    assert len(body["data"][0]["lines"]) == 3
    selects = [q for q in queries if "billing_" in q["sql"]]
    assert len(selects) == 3  # invoices, their lines, their credit notes


def test_lines_export_as_csv(tenant_a, invoiced):
    response = tenant_a.client.get(f"/v1/invoices/{invoiced}/lines.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert [(r["meter"], r["quantity"], r["amount"]) for r in rows] == [
        (IMAGES_BASE, "1200", "60"),
        (IMAGES_BASE, "800", "40"),
        (TRAINING_SECONDS, "600", "48"),
    ]
    assert rows[1]["tiers"] == "1201-2000 @ 0.05"


def test_a_line_drills_down_to_its_usage_events_as_json_and_csv(tenant_a, invoiced):
    line = tenant_a.client.get(f"/v1/invoices/{invoiced}").json()["lines"][0]
    events = tenant_a.client.get(f"/v1/invoices/{invoiced}/lines/{line['id']}/events").json()
    assert [(e["meter"], e["model"], e["quantity"]) for e in events["data"]] == [
        (IMAGES_BASE, "mdl_a", 1_200)
    ]
    rows = csv_rows(tenant_a.client.get(f"/v1/invoices/{invoiced}/lines/{line['id']}/events.csv"))
    assert sum(int(r["quantity"]) for r in rows) == line["quantity"]


def test_usage_groups_by_meter_model_day_and_key_with_costs(tenant_a, invoiced):
    query = f"start={LAST_MONTH.start.isoformat()}&end={LAST_MONTH.end.isoformat()}"
    query = query.replace("+", "%2B")
    by_meter = tenant_a.client.get(f"/v1/usage?{query}&group_by=meter").json()
    assert [(r["group"], r["quantity"], r["amount"]) for r in by_meter["data"]] == [
        (IMAGES_BASE, 2_000, 100),
        (TRAINING_SECONDS, 600, 48),
    ]
    by_model = tenant_a.client.get(f"/v1/usage?{query}&group_by=model").json()
    assert {(r["group"], r["amount"]) for r in by_model["data"]} == {
        ("mdl_a", 60),
        ("mdl_b", 40),
        ("ft_1", 48),
    }
    by_day = tenant_a.client.get(f"/v1/usage?{query}&group_by=day").json()
    day1, day3 = LAST_MONTH.start.date(), (LAST_MONTH.start + timedelta(days=2)).date()
    assert [(r["group"], r["meter"], r["quantity"], r["amount"]) for r in by_day["data"]] == [
        (day1.isoformat(), IMAGES_BASE, 1_200, 60),
        (day3.isoformat(), IMAGES_BASE, 800, 40),
        (day3.isoformat(), TRAINING_SECONDS, 600, 48),
    ]
    by_key = tenant_a.client.get(f"/v1/usage?{query}&group_by=api_key").json()
    assert {(r["group"], r["quantity"], r["amount"]) for r in by_key["data"]} == {
        ("key_1", 1_200, 60),
        ("key_2", 800, 40),
        ("", 600, 48),
    }
    csv_body = csv_rows(tenant_a.client.get(f"/v1/usage.csv?{query}&group_by=meter"))
    assert [(r["meter"], r["quantity"], r["amount"]) for r in csv_body] == [
        (IMAGES_BASE, "2000", "100"),
        (TRAINING_SECONDS, "600", "48"),
    ]


def test_usage_of_the_running_period_includes_unrolled_events_and_a_projection(tenant_a):
    now = timezone.now()
    record(tenant_a, IMAGES_BASE, 2_000, now - timedelta(minutes=1))
    body = tenant_a.client.get("/v1/usage").json()
    assert [(r["meter"], r["quantity"]) for r in body["data"]] == [(IMAGES_BASE, 2_000)]
    current = body["current_period"]
    assert current["amount_so_far"] == 100 and current["spend_cap"] == 100_000
    assert current["projected_amount"] >= current["amount_so_far"]


def test_bad_usage_queries_are_400(tenant_a):
    assert tenant_a.client.get("/v1/usage?group_by=week").status_code == 400
    response = tenant_a.client.get("/v1/usage?start=2030-01-02T00:00:00Z&end=2030-01-01T00:00:00Z")
    assert response.status_code == 400 and response.json()["error"]["param"] == "start"


@pytest.mark.parametrize("scopes", [["admin"], ["read"], ["predict", "train", "read", "admin"]])
def test_no_tenant_key_can_credit_its_own_invoice(tenant_a, invoiced, scopes):
    _, key = tenant_a.new_key(scopes)
    with tenant_a.context():
        before = list(Invoice.objects.values_list("status", "total_minor", "credited_minor"))
        audit_before = AuditEvent.objects.count()
    path = f"/v1/invoices/{invoiced}/credit-notes"
    body = {"amount": 48, "reason": "refund myself"}

    response = key.post(path, body, format="json")
    replayed = key.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="refund-1")

    assert response.status_code == replayed.status_code == 405  # a read-only route
    assert response.json()["error"]["type"] == "invalid_request_error"
    with tenant_a.context():
        assert not CreditNote.objects.exists()
        assert AuditEvent.objects.count() == audit_before
        assert not AuditEvent.objects.filter(action__startswith="credit_note.").exists()
        after = list(Invoice.objects.values_list("status", "total_minor", "credited_minor"))
    assert after == before
    assert tenant_a.client.get(f"/v1/invoices/{invoiced}").json()["amount_due"] == 148


def test_the_schema_offers_tenants_credit_notes_to_read_and_none_to_create(tenant_a):
    paths = tenant_a.client.get("/v1/openapi.json").json()["paths"]
    operations = paths["/v1/invoices/{invoice_id}/credit-notes"]
    assert set(operations) - {"parameters"} == {"get"}
    assert not [
        (path, method)
        for path, item in paths.items()
        for method in item
        if "credit" in path and method != "get" and method != "parameters"
    ]


def test_an_invoice_lists_the_credit_notes_staff_issued(tenant_a, invoiced, settings):
    settings.BILLING_CREDIT_NOTE_APPROVAL_MINOR = 50
    first = staff_credit(tenant_a, invoiced, 48)
    second = staff_credit(tenant_a, invoiced, 20, reason="late results")
    staff_credit(tenant_a, invoiced, 60, reason="awaiting a second pair of eyes")  # pending
    _, reader = tenant_a.new_key(["read"])

    with CaptureQueriesContext(connection) as queries:
        response = reader.get(f"/v1/invoices/{invoiced}/credit-notes")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["object"], body["has_more"]) == ("list", False)
    assert [(n["id"], n["amount"], n["reason"], n["invoice"]) for n in body["data"]] == [
        (second.public_id, 20, "late results", invoiced),  # newest first
        (first.public_id, 48, "training job crashed", invoiced),
    ]
    assert body["data"][0]["refund"] is None  # the local provider: finance pays it back by hand
    assert len([q for q in queries if "billing_" in q["sql"]]) == 2  # the invoice, its notes
    paged = reader.get(f"/v1/invoices/{invoiced}/credit-notes?limit=1").json()
    assert [n["id"] for n in paged["data"]] == [second.public_id] and paged["has_more"]
    invoice = reader.get(f"/v1/invoices/{invoiced}").json()
    assert (invoice["amount_credited"], invoice["amount_due"]) == (68, 80)
    assert [n["id"] for n in invoice["credit_notes"]] == [first.public_id, second.public_id]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("get", "/lines.csv"),
        ("get", "/lines/LINE/events"),
        ("get", "/lines/LINE/events.csv"),
        ("get", "/credit-notes"),
    ],
)
def test_another_tenants_invoice_is_404_and_nothing_changes(
    tenant_a, tenant_b, invoiced, method, suffix
):
    with tenant_a.context():
        line_id = Invoice.objects.get().lines.order_by("position").first().public_id
        audit_before = AuditEvent.objects.count()
    path = f"/v1/invoices/{invoiced}{suffix.replace('LINE', line_id)}"
    response = getattr(tenant_b.client, method)(
        path, {"amount": 1, "reason": "steal"}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"
    with tenant_a.context():
        assert not CreditNote.objects.exists() and AuditEvent.objects.count() == audit_before
    listed = tenant_b.client.get("/v1/invoices").json()["data"]
    assert listed == []


def test_usage_never_includes_another_tenants_usage(tenant_a, tenant_b, invoiced):
    query = f"start={LAST_MONTH.start.isoformat()}&end={LAST_MONTH.end.isoformat()}"
    query = query.replace("+", "%2B")
    body = tenant_b.client.get(f"/v1/usage?{query}&group_by=model").json()
    assert body["data"] == []
    assert csv_rows(tenant_b.client.get(f"/v1/usage.csv?{query}")) == []
