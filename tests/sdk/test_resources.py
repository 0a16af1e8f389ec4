"""Each resource of the SDK against the live app (no workers: nothing here runs a model)."""

from __future__ import annotations

import pytest
from modelhouse import (
    AuthenticationError,
    Client,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)

from tests.sdk.helpers import write_dataset


def test_models_list_and_retrieve_by_name_with_typed_fields(client, live_base_model):
    page = client.models.list()
    assert [m.id for m in page] == [live_base_model.public_id] and not page.has_more
    model = client.models.retrieve(live_base_model.name)
    assert (model.id, model.kind, model.name) == (
        live_base_model.public_id,
        "base",
        live_base_model.name,
    )
    assert model.input["shape"] == list(live_base_model.input_shape)
    assert model.created_at is not None and model.created_at.tzinfo is not None
    assert model.raw["object"] == "model"


def test_api_keys_create_page_through_and_revoke(client, live_server):
    created = [client.api_keys.create(f"k{i}", ["read"]) for i in range(3)]
    assert all(key.secret and key.secret.startswith(key.prefix) for key in created)
    first = client.api_keys.list(limit=2)
    assert len(first.data) == 2 and first.has_more
    every = [key.id for key in client.api_keys.list()]
    assert len(every) == len(set(every)) == 4  # the three and the fixture's own
    revoked = client.api_keys.revoke(created[0].id)
    assert revoked.revoked and revoked.secret is None
    with (
        pytest.raises(AuthenticationError),
        Client(created[0].secret, base_url=live_server.url) as gone,
    ):
        gone.ping()


def test_errors_carry_type_code_message_param_and_request_id(client, live_server, live_a):
    with pytest.raises(NotFoundError) as missing:
        client.datasets.retrieve("ds_doesnotexist")
    error = missing.value
    assert (error.status, error.type, error.code) == (
        404,
        "invalid_request_error",
        "resource_missing",
    )
    assert "ds_doesnotexist" in error.message and error.request_id.startswith("req_")
    assert error.request_id in str(error)

    _, _ = live_a.new_key(["read"])
    read_only = client.api_keys.create("reader", ["read"])
    with (
        pytest.raises(PermissionDeniedError) as denied,
        Client(read_only.secret, base_url=live_server.url) as reader,
    ):
        reader.api_keys.list()
    assert (denied.value.type, denied.value.code) == ("permission_error", "insufficient_scope")

    with (
        pytest.raises(AuthenticationError) as refused,
        Client("mh_test_not-a-key", base_url=live_server.url) as stranger,
    ):
        stranger.models.list()
    assert refused.value.type == "authentication_error" and refused.value.request_id


def test_same_idempotency_key_with_another_body_is_a_conflict(client):
    client.api_keys.create("first", ["read"], idempotency_key="create-reader")
    with pytest.raises(ConflictError) as conflict:
        client.api_keys.create("second", ["read"], idempotency_key="create-reader")
    assert conflict.value.code == "idempotency_key_reused"
    assert conflict.value.param == "Idempotency-Key"
    assert [k.name for k in client.api_keys.list()].count("second") == 0


def test_datasets_and_fine_tunes_without_workers(client, live_base_model, tmp_path):
    folder = write_dataset(tmp_path / "pets", {"cat": 3, "dog": 3})
    dataset = client.datasets.create(folder, name="pets")
    assert (dataset.status, dataset.name) == ("processing", "pets")
    assert client.datasets.retrieve(dataset.id).bytes == dataset.bytes > 0
    assert [d.id for d in client.datasets.list()] == [dataset.id]

    job = client.fine_tunes.create(dataset.id, suffix="pets", hyperparameters={"epochs": 2})
    assert job.status in ("validating", "queued") and job.dataset == dataset.id
    assert job.hyperparameters["epochs"] == 2
    assert [j.id for j in client.fine_tunes.list()] == [job.id]
    cancelled = client.fine_tunes.cancel(job.id)
    assert cancelled.cancel_requested or cancelled.status == "cancelled"
    events = client.fine_tunes.events(job.id)
    assert all(event.message for event in events)

    with pytest.raises(NotFoundError):
        client.fine_tunes.create("ds_doesnotexist")


def test_usage_and_invoices_when_nothing_happened_yet(client):
    report = client.usage.retrieve(group_by="meter")
    assert report.group_by == "meter" and report.currency and report.start < report.end
    assert report.data == []
    assert client.usage.csv(group_by="day").splitlines()[0].startswith("day,meter,quantity")
    assert list(client.invoices.list()) == []


def test_invoices_read_what_period_close_issued(client, live_a, settings):
    from datetime import timedelta

    from django.utils import timezone

    from billing.ledger.periods import period_containing
    from billing.pricing.closing import close_period
    from tests.billing.helpers import record

    period = period_containing(timezone.now()).previous()
    record(live_a, "images_base", 250_000, period.start + timedelta(hours=2), model_ref="mdl_base")
    close_period(period, tenant=live_a.tenant)

    (listed,) = list(client.invoices.list())
    invoice = client.invoices.retrieve(listed.id)
    assert invoice.id.startswith("inv_") and invoice.total == listed.total > 0
    assert [line.quantity for line in invoice.lines if line.meter == "images_base"] == [250_000]
    assert sum(line.amount for line in invoice.lines) == invoice.total
    csv_rows = client.invoices.lines_csv(invoice.id).splitlines()
    assert len(csv_rows) == 1 + len(invoice.lines) and "images_base" in csv_rows[1]


def test_invoices_read_the_credit_notes_staff_issued_and_offer_no_way_to_credit(client, live_a):
    from datetime import timedelta

    from django.utils import timezone

    from billing.ledger.periods import period_containing
    from billing.pricing.closing import close_period
    from tests.billing.helpers import record, staff_credit

    period = period_containing(timezone.now()).previous()
    record(live_a, "images_base", 4_000, period.start + timedelta(hours=2), model_ref="mdl_base")
    (invoice_id,) = close_period(period, tenant=live_a.tenant).created
    note = staff_credit(live_a, invoice_id, 50, reason="outage")

    (listed,) = list(client.invoices.credit_notes(invoice_id))
    assert (listed.id, listed.invoice, listed.amount, listed.reason) == (
        note.public_id,
        invoice_id,
        50,
        "outage",
    )
    assert listed.currency == "usd" and listed.refund is None and listed.created_at is not None
    assert [n.id for n in client.invoices.retrieve(invoice_id).credit_notes] == [note.public_id]
    assert not [
        name for name in dir(client.invoices) if "credit" in name and name != "credit_notes"
    ]
    with pytest.raises(NotFoundError):
        list(client.invoices.credit_notes("inv_doesnotexist"))
