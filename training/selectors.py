"""Reads of datasets, fine-tune jobs and their events; another tenant's is "not found"."""

from __future__ import annotations

from django.db.models import QuerySet

from core.errors import NotFound
from tenants.models import Tenant
from training.models import Dataset, FineTuneEvent, FineTuneJob


def dataset_get(tenant: Tenant, *, public_id: str) -> Dataset:
    dataset = Dataset.objects.filter(tenant=tenant, public_id=public_id).first()
    if dataset is None:
        raise NotFound.for_id("dataset", public_id, param="id")
    return dataset


def dataset_list(tenant: Tenant) -> QuerySet[Dataset]:
    return Dataset.objects.filter(tenant=tenant)


def fine_tune_list(tenant: Tenant) -> QuerySet[FineTuneJob]:
    return FineTuneJob.objects.filter(tenant=tenant).select_related("base_model", "model")


def fine_tune_get(tenant: Tenant, *, public_id: str) -> FineTuneJob:
    job = fine_tune_list(tenant).filter(public_id=public_id).first()
    if job is None:
        raise NotFound.for_id("fine-tune", public_id, param="id")
    return job


def fine_tune_event_list(tenant: Tenant, *, job: FineTuneJob) -> QuerySet[FineTuneEvent]:
    return FineTuneEvent.objects.filter(tenant=tenant, job=job)
