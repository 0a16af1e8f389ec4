"""Creating a fine-tune job: checked, estimated and queued in one transaction."""

from __future__ import annotations

import re
from typing import Any

from django.db import connection, transaction

from billing.pricing.price_book import TRAINING_SECONDS
from billing.spend import enforcement
from billing.spend.enforcement import release, reserve
from core.errors import InvalidRequest, NotFound, RateLimited
from core.ids import new_public_id
from inference.models import BaseModel
from inference.services import FAMILY_PATTERN
from tenants.audit import actor_label, audit
from tenants.models import Tenant
from training.conf import job_hold_ttl_s, setting
from training.estimates import estimate_job
from training.hyperparameters import AUTO, budget_seconds, validate_hyperparameters
from training.models import Dataset, FineTuneJob
from training.services import lifecycle

DEFAULT_FAMILY = "custom"
MIN_AUTO_BUDGET_S = 60
_CREATE_LOCK_NAMESPACE = 7306  # pg_advisory_xact_lock(namespace, tenant id)


def _lock_job_creation(tenant: Tenant) -> None:
    """One job creation per tenant at a time, so the unfinished-job limit holds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_CREATE_LOCK_NAMESPACE, tenant.pk])


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
    once (and handed to a worker when the tenant has a free slot).  Its whole
    budget is reserved first (billing.spend.enforcement; the job's end settles
    it), and an ``"auto"`` budget is cut to what the tenant can still pay for.
    Refused for a failed dataset (400), another tenant's or a missing one (404),
    when the budget would cross the spend cap or allowance (402), and past the
    tenant's limit of unfinished jobs (429).
    """
    checked = validate_hyperparameters(hyperparameters)
    base = _base_model(base_model)
    key_ref = getattr(actor, "api_key_public_id", "") or ""
    budget = _budget(tenant, checked, key_ref)
    job_id = new_public_id(FineTuneJob.PUBLIC_ID_PREFIX)
    reserve(
        tenant,
        hold_id=job_id,
        meter=TRAINING_SECONDS,
        quantity=budget,
        api_key_ref=key_ref,
        ttl_s=job_hold_ttl_s(),
    )
    try:
        return _create(tenant, actor, job_id, dataset_id, base, checked, budget, suffix)
    except BaseException:
        release(tenant.pk, [job_id])
        raise


def _budget(tenant: Tenant, hyperparameters: dict, key_ref: str) -> int:
    budget = budget_seconds(hyperparameters)
    if hyperparameters.get("max_seconds", AUTO) != AUTO:
        return budget
    # "auto" fits what the tenant can still pay for: a free plan's allowance, a spend
    # cap.  Below a useful minimum the reservation refuses it (402) with the reason.
    affordable = enforcement.affordable(
        tenant, meter=TRAINING_SECONDS, at_most=budget, api_key_ref=key_ref
    )
    return max(MIN_AUTO_BUDGET_S, affordable)


def _create(tenant, actor, job_id, dataset_id, base, checked, budget, suffix) -> FineTuneJob:
    with transaction.atomic():
        _lock_job_creation(tenant)
        unfinished = FineTuneJob.objects.filter(tenant=tenant).exclude(status__in=FineTuneJob.FINAL)
        limit = int(setting("TRAINING_MAX_UNFINISHED_JOBS_PER_TENANT"))
        if unfinished.count() >= limit:
            raise RateLimited(
                f"This organisation already has {limit} fine-tunes waiting or running; "
                "start another when one has finished.",
                code="too_many_queued_jobs",
                headers={"Retry-After": "60"},
            )
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
        job = FineTuneJob.objects.create(
            tenant=tenant,
            public_id=job_id,
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
