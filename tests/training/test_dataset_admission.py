"""What an upload must pass before anything is stored: a per-tenant limit on datasets
still validating (429), the plan's storage quota (402) and the account's standing
(402)."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from billing.pricing.price_book import DEFAULT_PLANS, FREE, StorageQuota
from tenants.models import Tenant
from tenants.storage import tenant_key
from tests.factories import api_client, make_tenant
from tests.training.helpers import class_png, dataset_files, upload, zip_bytes
from training.models import Dataset
from training.services import datasets
from training.tasks import validate_dataset

SMALL = zip_bytes(dataset_files({"cat": 5, "dog": 5}))


def _stored_files(handle) -> list[str]:
    def walk(key: str) -> list[str]:
        try:
            folders, files = default_storage.listdir(key)
        except FileNotFoundError:
            return []
        return [f"{key}/{name}" for name in files] + [
            path for folder in folders for path in walk(f"{key}/{folder}")
        ]

    return walk(tenant_key(handle.tenant, "datasets"))


def _dataset_count(handle) -> int:
    with handle.context():
        return Dataset.objects.count()


def _error(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# --- validations in flight ----------------------------------------------------------------------


@override_settings(TRAINING_MAX_PROCESSING_DATASETS_PER_TENANT=2)
def test_uploads_past_the_validations_in_flight_are_429_and_store_nothing(tenant_a, tenant_b):
    first, second = (upload(tenant_a, SMALL).json()["id"] for _ in range(2))

    refused = upload(tenant_a, SMALL)

    assert _error(refused) == (429, "too_many_datasets_processing")
    assert int(refused["Retry-After"]) > 0
    assert _dataset_count(tenant_a) == 2 and len(_stored_files(tenant_a)) == 2
    assert upload(tenant_b, SMALL).status_code == 201  # another tenant's are its own
    validate_dataset(tenant_a.tenant.pk, first)  # one settles: a slot frees
    assert upload(tenant_a, SMALL).status_code == 201
    assert tenant_a.client.delete(f"/v1/datasets/{second}").status_code == 200
    assert upload(tenant_a, SMALL).status_code == 201  # deleting one frees a slot too


@pytest.mark.django_db(transaction=True)
@override_settings(TRAINING_MAX_PROCESSING_DATASETS_PER_TENANT=1)
def test_racing_uploads_cannot_pass_the_limit_together(live_a):
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def send() -> None:
        client = api_client(live_a.secret)
        barrier.wait()
        response = client.post(
            "/v1/datasets", {"file": SimpleUploadedFile("a.zip", SMALL)}, format="multipart"
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201, 429, 429, 429]
    assert _dataset_count(live_a) == 1 and len(_stored_files(live_a)) == 1


# --- storage quotas -----------------------------------------------------------------------------


def test_every_plan_bounds_storage_and_larger_plans_allow_more():
    free, payg, committed = (DEFAULT_PLANS[code].storage for code in ("free", "payg", "committed"))
    assert 0 < free.datasets < payg.datasets < committed.datasets
    assert 0 < free.bytes < payg.bytes < committed.bytes
    with pytest.raises(ValueError):
        StorageQuota(datasets=-1)


@pytest.fixture
def free_plan_quota(monkeypatch):
    """Sets the free plan's storage quota to numbers a test can reach."""

    def set_quota(**quota) -> None:
        plan = dataclasses.replace(FREE, storage=StorageQuota(**quota))
        monkeypatch.setattr(datasets, "get_plan", lambda code: plan)

    return set_quota


@override_settings(TRAINING_MAX_PROCESSING_DATASETS_PER_TENANT=10)
def test_the_plans_dataset_count_is_a_402_before_anything_is_stored(db, free_plan_quota):
    free_plan_quota(datasets=2)
    handle = make_tenant("Tiny", plan="free")
    kept = [upload(handle, SMALL).json()["id"] for _ in range(2)]

    refused = upload(handle, SMALL)

    assert _error(refused) == (402, "storage_quota_exceeded")
    assert "at most 2 datasets" in refused.json()["error"]["message"]
    assert _dataset_count(handle) == 2 and len(_stored_files(handle)) == 2
    assert handle.client.delete(f"/v1/datasets/{kept[0]}").status_code == 200
    assert upload(handle, SMALL).status_code == 201  # deleting frees quota


@override_settings(TRAINING_MAX_PROCESSING_DATASETS_PER_TENANT=10)
def test_the_plans_bytes_are_a_402_and_failed_datasets_hold_none(db, free_plan_quota):
    free_plan_quota(datasets=10, bytes=2 * len(SMALL))
    handle = make_tenant("Tiny", plan="free")
    failed = upload(handle, zip_bytes({"a/x.png": class_png(0, "x")})).json()["id"]
    validate_dataset(handle.tenant.pk, failed)  # too few images: failed, its files deleted
    first, _ = (upload(handle, SMALL).json()["id"] for _ in range(2))  # fits only without it

    refused = upload(handle, SMALL)

    assert _error(refused) == (402, "storage_quota_exceeded")
    assert refused.json()["error"]["param"] == "file"
    assert _dataset_count(handle) == 3 and len(_stored_files(handle)) == 2
    assert handle.client.delete(f"/v1/datasets/{first}").status_code == 200
    assert upload(handle, SMALL).status_code == 201


# --- suspension ---------------------------------------------------------------------------------


def test_a_suspended_tenant_cannot_upload(tenant_a):
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(status=Tenant.Status.SUSPENDED)

    refused = upload(tenant_a, SMALL)

    assert _error(refused) == (402, "account_suspended")
    assert _dataset_count(tenant_a) == 0 and _stored_files(tenant_a) == []
