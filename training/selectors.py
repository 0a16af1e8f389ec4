"""Reads of datasets, fine-tune jobs and their events; another tenant's is "not found"."""

from __future__ import annotations

import json

from django.core.files.storage import default_storage
from django.db.models import QuerySet

from core.errors import NotFound
from tenants.models import Tenant
from training.models import Dataset, FineTuneEvent, FineTuneJob


def dataset_get(tenant: Tenant, *, dataset_id: str) -> Dataset:
    dataset = Dataset.objects.filter(tenant=tenant, public_id=dataset_id).first()
    if dataset is None:
        raise NotFound.for_id("dataset", dataset_id, param="id")
    return dataset


def dataset_list(tenant: Tenant) -> QuerySet[Dataset]:
    return Dataset.objects.filter(tenant=tenant)


def dataset_scan(dataset: Dataset) -> dict:
    """The full scan of a ready dataset (every accepted example), as stored at validation."""
    with default_storage.open(dataset.scan_key, "rb") as handle:
        return json.load(handle)


def fine_tune_list(tenant: Tenant) -> QuerySet[FineTuneJob]:
    return FineTuneJob.objects.filter(tenant=tenant).select_related("base_model", "model")


def fine_tune_get(tenant: Tenant, *, job_id: str) -> FineTuneJob:
    job = fine_tune_list(tenant).filter(public_id=job_id).first()
    if job is None:
        raise NotFound.for_id("fine-tune", job_id, param="id")
    return job


def fine_tune_event_list(tenant: Tenant, *, job: FineTuneJob) -> QuerySet[FineTuneEvent]:
    return FineTuneEvent.objects.filter(tenant=tenant, job=job)
