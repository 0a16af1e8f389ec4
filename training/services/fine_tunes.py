"""Creating a fine-tune job: checked, estimated and queued in one transaction."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction

from billing.pricing.price_book import TRAINING_SECONDS
from billing.spend.enforcement import ensure_billable
from core.errors import InvalidRequest, NotFound
from inference.models import BaseModel
from inference.services import FAMILY_PATTERN
from tenants.audit import actor_label, audit
from tenants.models import Tenant
from training.conf import setting
from training.estimates import estimate_job
from training.hyperparameters import budget_seconds, validate_hyperparameters
from training.models import Dataset, FineTuneJob
from training.services import lifecycle

DEFAULT_FAMILY = "custom"


def _base_model(reference: str | None) -> BaseModel:
    reference = reference or setting("TRAINING_DEFAULT_BASE_MODEL")
    base = (
        BaseModel.objects.filter(public_id=reference).first()
        or BaseModel.objects.filter(name=reference).first()
    )
    if base is None:
        raise NotFound.for_id("base model", reference, param="base_model")
    return base


def _family(suffix: str | None, dataset: Dataset) -> str:
    """The model family the job's versions join: ``suffix``, else one made from the dataset name."""
    if suffix is None:
        slug = re.sub(r"[^a-z0-9-]+", "-", dataset.name.lower()).strip("-")[:64]
        return slug if re.match(FAMILY_PATTERN, slug) else DEFAULT_FAMILY
    if not isinstance(suffix, str) or not re.match(FAMILY_PATTERN, suffix):
        raise InvalidRequest(
            "suffix names the model family: 1-64 lowercase letters, digits or "
            "'-', starting with a letter or digit.",
            param="suffix",
        )
    if BaseModel.objects.filter(name=suffix).exists():
        raise InvalidRequest(
            f"suffix '{suffix}' is the name of a base model; choose another.", param="suffix"
        )
    return suffix


def fine_tune_create(
    tenant: Tenant,
    *,
    actor,
    dataset_id: str,
    base_model: str | None = None,
    hyperparameters: Any = None,
    suffix: str | None = None,
) -> FineTuneJob:
    """A new job on one of the tenant's datasets, with its estimate and budget cap.

    ``validating`` while the dataset is still processing, else ``queued`` at
    once (and handed to a worker when the tenant has a free slot).  Refused for
    a failed dataset (400), another tenant's or a missing one (404), and when
    the estimate would cross the tenant's spend cap (402).
    """
    checked = validate_hyperparameters(hyperparameters)
    base = _base_model(base_model)
    budget = budget_seconds(checked)
    with transaction.atomic():
        dataset = (
            Dataset.objects.select_for_update().filter(tenant=tenant, public_id=dataset_id).first()
        )
        if dataset is None:
            raise NotFound.for_id("dataset", dataset_id, param="dataset")
        if dataset.status == Dataset.Status.FAILED:
            raise InvalidRequest(
                f"Dataset {dataset.public_id} failed validation: {dataset.error['message']}",
                code="dataset_failed",
                param="dataset",
            )
        summary = dataset.summary if dataset.status == Dataset.Status.READY else None
        estimate = estimate_job(tenant, summary, checked, budget)
        ensure_billable(
            tenant,
            meter=TRAINING_SECONDS,
            quantity=estimate.seconds,
            api_key_ref=getattr(actor, "api_key_public_id", "") or "",
        )
        job = FineTuneJob.objects.create(
            tenant=tenant,
            dataset=dataset,
            dataset_ref=dataset.public_id,
            base_model=base,
            family=_family(suffix, dataset),
            hyperparameters=checked,
            max_seconds=budget,
            estimate=estimate.to_json(),
            created_by=actor_label(actor),
        )
        lifecycle.event(
            job,
            "The job was created; validating its dataset.",
            status=job.status,
            estimate=job.estimate,
        )
        audit(
            tenant,
            actor=actor,
            action="fine_tune.created",
            target=job.public_id,
            dataset=dataset.public_id,
            base_model=base.name,
            max_seconds=budget,
        )
        if dataset.status == Dataset.Status.READY:
            lifecycle.enqueue(job, dataset)
            lifecycle.dispatch_waiting(tenant)
    return job
