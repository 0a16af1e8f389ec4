"""``/v1/fine-tunes`` without a worker: creation, estimates, validation of input, the
state machine's edges (dataset settling, tenant slots, cancel, lost workers), isolation."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from billing.models import UsageEvent
from tests.training.helpers import dataset_files, upload, zip_bytes
from training.models import FineTuneEvent, FineTuneJob
from training.services import lifecycle
from training.tasks import validate_dataset

GOOD = zip_bytes(dataset_files({"cat": 6, "dog": 6}))


def _dataset(handle, data: bytes = GOOD, *, validate: bool = True) -> str:
    dataset_id = upload(handle, data).json()["id"]
    if validate:
        validate_dataset(handle.tenant.pk, dataset_id)
    return dataset_id


def _create(handle, dataset_id: str, **body):
    return handle.client.post("/v1/fine-tunes", {"dataset": dataset_id, **body}, format="json")


def _job(handle, job_id: str) -> FineTuneJob:
    with handle.context():
        return FineTuneJob.objects.get(public_id=job_id)


def test_a_job_on_a_ready_dataset_is_queued_with_its_estimate_and_cap(tenant_a, base_model):
    dataset_id = _dataset(tenant_a)

    response = _create(
        tenant_a, dataset_id, suffix="pets", hyperparameters={"epochs": 3, "max_seconds": 600}
    )

    assert response.status_code == 201, response.content
    job = response.json()
    assert job["id"].startswith("ft_") and job["object"] == "fine_tune"
    assert (job["status"], job["dataset"], job["suffix"]) == ("queued", dataset_id, "pets")
    assert job["base_model"] == base_model.public_id
    assert job["hyperparameters"]["epochs"] == 3
    assert job["hyperparameters"]["learning_rate"] == "auto"
    estimate = job["estimate"]
    assert estimate["max_seconds"] == 600 and 0 < estimate["seconds"] <= 600
    assert 0 < estimate["cost"] <= estimate["max_cost"] and estimate["currency"] == "usd"
    assert estimate["max_cost"] == 48  # payg: 600 s at 0.08 cents a second
    assert job["model"] is None and job["error"] is None and job["metrics"]["series"] == {}
    assert _job(tenant_a, job["id"]).dispatched_at is not None


def test_a_job_waits_in_validating_until_its_dataset_is_ready(tenant_a, base_model):
    dataset_id = _dataset(tenant_a, validate=False)

    job = _create(tenant_a, dataset_id).json()
    assert job["status"] == "validating"
    assert job["estimate"]["seconds"] == job["estimate"]["max_seconds"] == 3600

    validate_dataset(tenant_a.tenant.pk, dataset_id)

    job = tenant_a.client.get(f"/v1/fine-tunes/{job['id']}").json()
    assert job["status"] == "queued" and job["estimate"]["seconds"] < 3600
    events = tenant_a.client.get(f"/v1/fine-tunes/{job['id']}/events").json()["data"]
    assert [e["data"].get("status") for e in events[::-1]] == ["validating", "queued"]


def test_a_job_on_a_dataset_that_fails_validation_fails_with_its_reason(tenant_a, base_model):
    dataset_id = _dataset(tenant_a, zip_bytes(dataset_files({"cat": 9})), validate=False)
    job = _create(tenant_a, dataset_id).json()

    validate_dataset(tenant_a.tenant.pk, dataset_id)

    job = tenant_a.client.get(f"/v1/fine-tunes/{job['id']}").json()
    assert job["status"] == "failed" and job["error"]["code"] == "dataset_failed"
    assert "at least 2 classes" in job["error"]["message"]
    refused = _create(tenant_a, dataset_id)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "dataset_failed"


@pytest.mark.parametrize(
    ("hyperparameters", "param"),
    [
        ({"epochs": 0}, "hyperparameters.epochs"),
        ({"epochs": 2.5}, "hyperparameters.epochs"),
        ({"learning_rate": "fast"}, "hyperparameters.learning_rate"),
        ({"validation_split": 0.9}, "hyperparameters.validation_split"),
        ({"augment": "rotate"}, "hyperparameters.augment"),
        ({"seed": "auto"}, "hyperparameters.seed"),
        ({"max_seconds": 10**6}, "hyperparameters.max_seconds"),
        ({"momentum": 0.9}, "hyperparameters.momentum"),
        ("fast", "hyperparameters"),
    ],
)
def test_bad_hyperparameters_are_refused_with_their_name(
    tenant_a, base_model, hyperparameters, param
):
    response = _create(tenant_a, _dataset(tenant_a), hyperparameters=hyperparameters)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    with tenant_a.context():
        assert not FineTuneJob.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"suffix": "Bad Name"}, 400, "suffix"),
        ({"suffix": "mh-base-v1"}, 400, "suffix"),
        ({"base_model": "no-such-base"}, 404, "base_model"),
    ],
)
def test_bad_suffix_or_base_model_is_refused(tenant_a, base_model, body, status, param):
    response = _create(tenant_a, _dataset(tenant_a), **body)

    assert response.status_code == status
    assert response.json()["error"]["param"] == param


def test_another_tenants_dataset_cannot_be_fine_tuned(tenant_a, tenant_b, base_model):
    dataset_id = _dataset(tenant_a)

    response = _create(tenant_b, dataset_id)

    assert response.status_code == 404 and response.json()["error"]["param"] == "dataset"
    for handle in (tenant_a, tenant_b):
        with handle.context():
            assert not FineTuneJob.objects.exists()


def test_another_tenants_job_is_not_found_and_cannot_be_cancelled(tenant_a, tenant_b, base_model):
    job_id = _create(tenant_a, _dataset(tenant_a)).json()["id"]

    for path in (f"/v1/fine-tunes/{job_id}", f"/v1/fine-tunes/{job_id}/events"):
        assert tenant_b.client.get(path).status_code == 404
    assert tenant_b.client.post(f"/v1/fine-tunes/{job_id}/cancel").status_code == 404
    assert _job(tenant_a, job_id).status == "queued"
    assert tenant_b.client.get("/v1/fine-tunes").json()["data"] == []


@override_settings(TRAINING_MAX_CONCURRENT_JOBS_PER_TENANT=1)
def test_jobs_past_the_tenants_limit_wait_queued_until_a_slot_frees(tenant_a, tenant_b, base_model):
    first, second = (_create(tenant_a, _dataset(tenant_a)).json()["id"] for _ in range(2))
    other = _create(tenant_b, _dataset(tenant_b)).json()["id"]

    assert _job(tenant_a, first).dispatched_at is not None
    assert _job(tenant_a, second).dispatched_at is None
    assert _job(tenant_b, other).dispatched_at is not None  # limits are per tenant

    tenant_a.client.post(f"/v1/fine-tunes/{first}/cancel")

    assert _job(tenant_a, second).dispatched_at is not None


def test_cancelling_a_queued_job_ends_it_at_once_and_bills_nothing(tenant_a, base_model):
    job_id = _create(tenant_a, _dataset(tenant_a)).json()["id"]

    response = tenant_a.client.post(f"/v1/fine-tunes/{job_id}/cancel")

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert response.json()["trained_seconds"] == 0
    again = tenant_a.client.post(f"/v1/fine-tunes/{job_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "fine_tune_finished"
    with tenant_a.context():
        assert not UsageEvent.objects.exists()
    with tenant_a.context():
        assert lifecycle.job_start(tenant_a.tenant, job_id=job_id, worker="w") is None


def test_cancelling_a_running_job_asks_the_worker_to_stop(tenant_a, base_model):
    job_id = _create(tenant_a, _dataset(tenant_a)).json()["id"]
    with tenant_a.context():
        started = lifecycle.job_start(tenant_a.tenant, job_id=job_id, worker="w1")

    response = tenant_a.client.post(f"/v1/fine-tunes/{job_id}/cancel").json()

    assert response["status"] == "running" and response["cancel_requested"] is True
    with tenant_a.context():
        keep_going = lifecycle.job_record_progress(
            tenant_a.tenant,
            job_id=job_id,
            attempt=started.attempt,
            progress={"epoch": 1},
            history=[],
            events=[],
        )
    assert keep_going is False


def test_a_second_claim_of_a_running_job_fails_it_instead_of_running_it_twice(tenant_a, base_model):
    job_id = _create(tenant_a, _dataset(tenant_a)).json()["id"]
    with tenant_a.context():
        assert lifecycle.job_start(tenant_a.tenant, job_id=job_id, worker="w1").attempt == 1
        now = timezone.now()
        FineTuneJob.objects.filter(public_id=job_id).update(
            started_at=now - timedelta(seconds=90), heartbeat_at=now - timedelta(seconds=30)
        )

        # The first worker died; its message came back to another one.
        assert lifecycle.job_start(tenant_a.tenant, job_id=job_id, worker="w2") is None

        job = FineTuneJob.objects.get(public_id=job_id)
        assert job.status == "failed" and job.error["code"] == "worker_lost"
        assert job.attempts == 1 and job.billed_seconds == 60  # up to the last heartbeat
        # The dead attempt can no longer report or finish anything.
        assert not lifecycle.job_record_progress(
            tenant_a.tenant, job_id=job_id, attempt=1, progress={}, history=[], events=[]
        )
        assert (
            lifecycle.job_finish(tenant_a.tenant, job_id=job_id, attempt=1, status="succeeded")
            is None
        )
        usage = list(UsageEvent.objects.values_list("meter", "quantity", "idempotency_key"))
    assert usage == [("training_seconds", 60, f"fine_tune:{job_id}")]


@override_settings(TRAINING_STALE_AFTER_S=120)
@pytest.mark.django_db(transaction=True)  # the reaper reads across tenants: committed rows
def test_silent_running_jobs_are_reaped_and_billed_to_their_last_report(tenant_a, base_model):
    silent, alive = (_create(tenant_a, _dataset(tenant_a)).json()["id"] for _ in range(2))
    with tenant_a.context():
        for job_id in (silent, alive):
            lifecycle.job_start(tenant_a.tenant, job_id=job_id, worker="w")
        now = timezone.now()
        FineTuneJob.objects.filter(public_id=silent).update(
            started_at=now - timedelta(seconds=400), heartbeat_at=now - timedelta(seconds=300)
        )

    assert lifecycle.jobs_reap_stale() == [silent]

    assert _job(tenant_a, silent).status == "failed"
    assert _job(tenant_a, silent).billed_seconds == 100
    assert _job(tenant_a, alive).status == "running"


def test_events_are_listed_newest_first(tenant_a, base_model):
    job_id = _create(tenant_a, _dataset(tenant_a)).json()["id"]
    tenant_a.client.post(f"/v1/fine-tunes/{job_id}/cancel")

    page = tenant_a.client.get(f"/v1/fine-tunes/{job_id}/events?limit=2").json()

    assert [e["data"]["status"] for e in page["data"]] == ["cancelled", "queued"]
    assert page["has_more"] is True
    with tenant_a.context():
        assert FineTuneEvent.objects.count() == 3


def test_the_job_list_takes_a_fixed_number_of_queries(
    tenant_a, base_model, django_assert_num_queries
):
    dataset_id = _dataset(tenant_a)
    for _ in range(3):
        _create(tenant_a, dataset_id)

    with django_assert_num_queries(2):  # the key with its tenant, then the page
        page = tenant_a.client.get("/v1/fine-tunes").json()

    assert len(page["data"]) == 3 and page["data"][0]["base_model"] == base_model.public_id
