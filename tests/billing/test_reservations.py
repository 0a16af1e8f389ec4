"""Admission holds (billing.spend.enforcement): every accepted unit of work holds its
cost until it is stored, fails or expires, so what is admitted together never passes a
cap, an allowance or a key quota."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.pricing.price_book import IMAGES_BASE, TRAINING_SECONDS
from billing.services import accounts
from billing.spend import enforcement
from billing.spend.enforcement import ensure_billable, release, reserve, settle
from core.errors import BillingError, RateLimited
from tests.billing.helpers import record
from tests.factories import make_tenant
from tests.training.helpers import dataset_files, upload, zip_bytes
from training.models import FineTuneJob
from training.services import fine_tunes, lifecycle

HOUR = 3600


def a_minute_ago():
    return timezone.now() - timedelta(minutes=1)


@pytest.fixture
def free(db):
    """A free tenant with 1,000 base-model images of its 5,000 left."""
    handle = make_tenant("Freebie", plan="free")
    record(handle, IMAGES_BASE, 4_000, a_minute_ago())
    return handle


def hold(handle, hold_id: str, quantity: int, *, meter=IMAGES_BASE, key="", ttl_s=HOUR):
    reserve(
        handle.tenant,
        hold_id=hold_id,
        meter=meter,
        quantity=quantity,
        api_key_ref=key,
        ttl_s=ttl_s,
    )


def refusal(call) -> str:
    with pytest.raises((BillingError, RateLimited)) as error:
        call()
    return error.value.code


def test_a_hold_counts_until_its_work_is_stored_or_released(free):
    hold(free, "pred_1", 600)
    assert refusal(lambda: hold(free, "pred_2", 500)) == "spend_cap_exceeded"
    hold(free, "pred_3", 400)  # exactly the allowance
    release(free.tenant.pk, ["pred_3"])
    settle({free.tenant.pk: [(IMAGES_BASE, 600, timezone.now(), "")]}, {free.tenant.pk: ["pred_1"]})

    assert enforcement.held(free.tenant).meters[IMAGES_BASE] == 0
    ensure_billable(free.tenant, meter=IMAGES_BASE, quantity=400)  # 4,600 used, 400 left
    assert refusal(lambda: hold(free, "pred_4", 401)) == "spend_cap_exceeded"


def test_a_refused_hold_and_a_repeated_release_leave_nothing_behind(free):
    refusal(lambda: hold(free, "pred_big", 5_000))
    hold(free, "pred_1", 100)
    release(free.tenant.pk, ["pred_1"])
    release(free.tenant.pk, ["pred_1"])  # once only
    hold(free, "pred_1", 100)
    hold(free, "pred_1", 100)  # the same work again: one hold
    assert enforcement.held(free.tenant).meters[IMAGES_BASE] == 100


@pytest.mark.django_db(transaction=True)  # each thread has its own connection
def test_concurrent_holds_never_pass_the_allowance(free):
    def attempt(n):
        try:
            hold(free, f"pred_{n}", 64)
        except BillingError:
            return 0
        return 64

    with ThreadPoolExecutor(max_workers=16) as pool:
        admitted = sum(pool.map(attempt, range(64)))

    assert 0 < admitted <= 1_000
    assert enforcement.held(free.tenant).meters[IMAGES_BASE] == admitted


def test_a_hold_past_its_deadline_is_released_and_a_live_one_is_not(free):
    hold(free, "pred_dead", 500, ttl_s=1)
    hold(free, "pred_live", 300)
    assert enforcement.release_expired(now=time.time() + 2) == 1
    assert enforcement.held(free.tenant).meters[IMAGES_BASE] == 300


def test_a_key_quota_counts_what_that_key_holds(tenant_a):
    key = tenant_a.key.public_id
    tenant_a.client.put(
        "/v1/billing/quotas",
        {"api_key": key, "meter": IMAGES_BASE, "monthly_limit": 100},
        format="json",
    )
    hold(tenant_a, "pred_1", 60, key=key)
    assert refusal(lambda: hold(tenant_a, "pred_2", 41, key=key)) == "api_key_quota_exceeded"
    hold(tenant_a, "pred_3", 41, key="key_other")


def test_queued_images_past_the_tenants_limit_are_429(tenant_a, settings):
    settings.INFERENCE_MAX_QUEUED_IMAGES_PER_TENANT = 100
    hold(tenant_a, "pred_1", 64)
    assert refusal(lambda: hold(tenant_a, "pred_2", 64)) == "too_many_queued_images"
    hold(tenant_a, "ft_1", 3_600, meter=TRAINING_SECONDS)  # training is not queued images


@pytest.fixture
def dataset_id(free, base_model):
    return upload(free, zip_bytes(dataset_files({"red": 3, "blue": 3}))).json()["id"]


def create_job(handle, dataset_id, **hyperparameters) -> FineTuneJob:
    with handle.context():
        return fine_tunes.fine_tune_create(
            handle.tenant,
            actor=handle.owner,
            dataset_id=dataset_id,
            hyperparameters=hyperparameters or None,
        )


def test_an_auto_budget_is_cut_to_what_the_tenant_can_pay_for(free, dataset_id):
    first = create_job(free, dataset_id)  # "auto": the default hour does not fit 1,800 s
    assert first.max_seconds == 1_800
    assert refusal(lambda: create_job(free, dataset_id)) == "spend_cap_exceeded"
    assert refusal(lambda: create_job(free, dataset_id, max_seconds=60)) == "spend_cap_exceeded"
    with free.context():
        assert FineTuneJob.objects.count() == 1


def test_a_jobs_end_releases_its_budget(free, dataset_id, django_capture_on_commit_callbacks):
    job = create_job(free, dataset_id, max_seconds=1_000)
    assert enforcement.held(free.tenant).meters[TRAINING_SECONDS] == 1_000
    with free.context(), django_capture_on_commit_callbacks(execute=True):
        lifecycle.job_cancel(free.tenant, actor=free.owner, job=job)
    assert enforcement.held(free.tenant).meters[TRAINING_SECONDS] == 0
    create_job(free, dataset_id, max_seconds=1_800)  # the whole allowance is free again


def test_unfinished_jobs_past_the_limit_are_429(tenant_a, base_model, settings):
    settings.TRAINING_MAX_UNFINISHED_JOBS_PER_TENANT = 2
    dataset = upload(tenant_a, zip_bytes(dataset_files({"red": 3, "blue": 3}))).json()["id"]
    create_job(tenant_a, dataset)
    create_job(tenant_a, dataset)
    assert refusal(lambda: create_job(tenant_a, dataset)) == "too_many_queued_jobs"
    assert enforcement.held(tenant_a.tenant).meters[TRAINING_SECONDS] == 2 * 3_600


def test_an_exhausted_allowance_is_refused_from_memory_until_the_cap_changes(
    free, monkeypatch, django_capture_on_commit_callbacks
):
    hold(free, "pred_1", 1_000)  # the whole allowance
    assert refusal(lambda: hold(free, "pred_2", 1)) == "spend_cap_exceeded"

    # Not one more unit fits: refused again without asking Redis.
    monkeypatch.setattr(enforcement, "client", lambda: pytest.fail("asked Redis"))
    known = lambda: enforcement.refuse_known(free.tenant, meter_of=lambda: IMAGES_BASE)  # noqa: E731
    assert refusal(known) == "spend_cap_exceeded"
    # Another meter has no memory.
    enforcement.refuse_known(free.tenant, meter_of=lambda: TRAINING_SECONDS)
    monkeypatch.undo()

    with free.context(), django_capture_on_commit_callbacks(execute=True):
        accounts.spend_cap_set(free.tenant, actor=free.owner, cap_minor=0)
    enforcement.refuse_known(free.tenant, meter_of=lambda: IMAGES_BASE)  # forgotten on the change


def test_a_refusal_that_a_smaller_request_would_pass_is_not_remembered(free):
    hold(free, "pred_1", 900)
    assert refusal(lambda: hold(free, "pred_2", 101)) == "spend_cap_exceeded"
    enforcement.refuse_known(free.tenant, meter_of=lambda: IMAGES_BASE)
    hold(free, "pred_3", 100)  # exactly what is left


def test_remembered_refusals_expire(free, monkeypatch):
    monkeypatch.setattr(enforcement, "REFUSAL_MEMORY_S", 0.05)
    hold(free, "pred_1", 1_000)
    assert refusal(lambda: hold(free, "pred_2", 1)) == "spend_cap_exceeded"
    time.sleep(0.1)
    enforcement.refuse_known(free.tenant, meter_of=lambda: IMAGES_BASE)
