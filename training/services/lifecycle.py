"""The fine-tune state machine; every transition holds the job's row lock.

::

    validating ─▶ queued ─▶ running ─▶ succeeded | failed | cancelled
         └──────────┴──────────────▶ failed | cancelled

* ``validating``: waits for its dataset's validation (:func:`jobs_dataset_settled`).
* ``queued``: waits for one of the tenant's concurrent slots; :func:`dispatch_waiting`
  hands the oldest waiting jobs to the broker (``dispatched_at``) while slots are free.
* ``running``: claimed by a worker (:func:`job_start`), which reports progress
  (:func:`job_record_progress`) and ends it (:func:`job_finish`).

A job runs at most once.  ``attempts`` counts claims; a claim that finds the job
already ``running`` means the earlier worker died (its message came back), so
the job fails instead of starting a second, parallel run.  A worker that dies
without its message coming back is found by :func:`jobs_reap_stale` from its
silence.  Every end goes through :func:`_finish`, which writes the training
time to the usage ledger in the same transaction (once: keyed by the job id),
never more than the job's budget, and frees the job's slot.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from celery import current_app
from django.db import connection, transaction
from django.utils import timezone

from billing.ledger.usage import UsageDraft
from billing.pricing.price_book import TRAINING_SECONDS
from billing.spend.metering import usage_record
from core.context import tenant_context
from core.errors import Conflict
from core.ids import new_public_id
from inference.selectors import base_model_dir_get
from inference.services import model_version_create
from tenants.audit import audit
from tenants.models import Tenant
from tenants.scoping import unscoped
from training.conf import setting
from training.estimates import estimate_job
from training.models import Dataset, FineTuneEvent, FineTuneJob

logger = logging.getLogger(__name__)

RUN_TASK = "training.run_fine_tune"
_DISPATCH_LOCK_NAMESPACE = 7305  # pg_advisory_xact_lock(namespace, tenant id)
Status = FineTuneJob.Status


@dataclass(frozen=True)
class StartedJob:
    """A claimed job as the trainer needs it: plain values, safe to share across threads."""

    tenant_id: int
    job_id: str
    attempt: int
    dataset_id: str
    archive_key: str
    scan_key: str
    dataset_sha256: str
    base_path: str
    base_checksum: str
    input_shape: list[int]
    hyperparameters: dict[str, Any]
    max_seconds: int
    started_at: datetime


def event(
    job: FineTuneJob,
    message: str,
    *,
    type: str = "state",
    level: str = FineTuneEvent.Level.INFO,
    **data,
) -> FineTuneEvent:
    return FineTuneEvent.objects.create(
        tenant_id=job.tenant_id, job=job, type=type, level=level, message=message[:500], data=data
    )


def _locked(job_id: str) -> FineTuneJob | None:
    # of=("self",): the dataset and model are nullable joins, which FOR UPDATE cannot lock.
    return (
        FineTuneJob.objects.select_for_update(of=("self",))
        .select_related("tenant", "dataset", "base_model")
        .filter(public_id=job_id)
        .first()
    )


# -- validating -> queued -> (dispatched) ----------------------------------------------------


def enqueue(job: FineTuneJob, dataset: Dataset) -> None:
    """``validating`` → ``queued`` once its dataset is ready; the estimate gets exact counts."""
    job.estimate = estimate_job(
        job.tenant, dataset.summary, job.hyperparameters, job.max_seconds
    ).to_json()
    job.status = Status.QUEUED
    job.save(update_fields=["status", "estimate"])
    event(
        job,
        f"Dataset {dataset.public_id} is ready; the job is queued.",
        status=job.status,
        estimate=job.estimate,
    )


def jobs_dataset_settled(tenant: Tenant, *, dataset: Dataset) -> None:
    """Move the jobs that waited for ``dataset``'s validation on (or fail them with it)."""
    waiting = (
        FineTuneJob.objects.select_for_update(of=("self",))
        .select_related("tenant")
        .filter(tenant=tenant, dataset=dataset, status=Status.VALIDATING)
        .order_by("pk")
    )
    for job in waiting:
        if dataset.status == Dataset.Status.READY:
            enqueue(job, dataset)
        else:
            _finish(
                job,
                Status.FAILED,
                error={
                    "code": "dataset_failed",
                    "message": f"Dataset {dataset.public_id} failed validation: "
                    f"{(dataset.error or {}).get('message', 'unknown error')}",
                },
            )
    dispatch_waiting(tenant)


@transaction.atomic
def dispatch_waiting(tenant: Tenant) -> list[str]:
    """Hand the tenant's oldest waiting jobs to the broker while it has free slots.

    One dispatcher per tenant at a time (an advisory lock), so two finishing
    jobs cannot both fill the same free slot.  Messages leave after commit.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [_DISPATCH_LOCK_NAMESPACE, tenant.pk]
        )
    jobs = FineTuneJob.objects.filter(tenant=tenant)
    busy = jobs.filter(
        status__in=(Status.QUEUED, Status.RUNNING), dispatched_at__isnull=False
    ).count()
    free = int(setting("TRAINING_MAX_CONCURRENT_JOBS_PER_TENANT")) - busy
    if free <= 0:
        return []
    chosen = list(
        jobs.select_for_update()
        .filter(status=Status.QUEUED, dispatched_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "public_id")[:free]
    )
    jobs.filter(pk__in=[pk for pk, _ in chosen]).update(dispatched_at=timezone.now())
    for _, job_id in chosen:
        transaction.on_commit(
            lambda job_id=job_id: current_app.send_task(RUN_TASK, args=[tenant.pk, job_id])
        )
    return [job_id for _, job_id in chosen]


# -- the worker's side -----------------------------------------------------------------------


def job_start(tenant: Tenant, *, job_id: str, worker: str) -> StartedJob | None:
    """Claim a dispatched job for this worker, or ``None`` if it must not run.

    ``None`` for a job that is gone, cancelled or finished, and for one already
    ``running``: that earlier attempt lost its worker, so the job fails here
    rather than run twice.
    """
    with transaction.atomic():
        job = _locked(job_id)
        if job is None or job.status not in (Status.QUEUED, Status.RUNNING):
            return None
        if job.status == Status.RUNNING:
            _fail_lost(job, "its message was delivered again")
            return None
        now = timezone.now()
        job.status, job.attempts, job.worker = Status.RUNNING, job.attempts + 1, worker[:200]
        job.started_at = job.heartbeat_at = now
        job.save(update_fields=["status", "attempts", "worker", "started_at", "heartbeat_at"])
        event(
            job,
            f"Training started (attempt {job.attempts}).",
            status=job.status,
            attempt=job.attempts,
        )
    dataset, base = job.dataset, job.base_model
    return StartedJob(
        tenant_id=tenant.pk,
        job_id=job.public_id,
        attempt=job.attempts,
        dataset_id=dataset.public_id,
        archive_key=dataset.archive_key,
        scan_key=dataset.scan_key,
        dataset_sha256=dataset.sha256,
        base_path=str(base_model_dir_get(base)),
        base_checksum=base.checksum,
        input_shape=list(base.input_shape),
        hyperparameters=dict(job.hyperparameters),
        max_seconds=job.max_seconds,
        started_at=job.started_at,
    )


def _running(job_id: str, attempt: int) -> FineTuneJob | None:
    job = _locked(job_id)
    if job is None or job.status != Status.RUNNING or job.attempts != attempt:
        return None  # settled by someone else (cancel before start, reaper): not ours any more
    return job


def job_record_progress(
    tenant: Tenant,
    *,
    job_id: str,
    attempt: int,
    progress: dict,
    history: list[dict],
    events: list[dict],
) -> bool:
    """Store the worker's latest progress; return False when it must stop (cancel, reaped)."""
    with transaction.atomic():
        job = _running(job_id, attempt)
        if job is None:
            return False
        job.progress, job.history, job.heartbeat_at = progress, history, timezone.now()
        job.save(update_fields=["progress", "history", "heartbeat_at"])
        FineTuneEvent.objects.bulk_create(
            [
                FineTuneEvent(
                    tenant=tenant,
                    public_id=new_public_id(FineTuneEvent.PUBLIC_ID_PREFIX),  # no save(): set here
                    job=job,
                    type=item.get("type", "metrics"),
                    level=item.get("level", FineTuneEvent.Level.INFO),
                    message=item["message"][:500],
                    data=item.get("data", {}),
                )
                for item in events
            ]
        )
        return job.cancel_requested_at is None


@dataclass(frozen=True)
class TrainedModel:
    """A finished artifact directory and what its model version records."""

    artifact_dir: Path
    kind: str
    labels: list[str]
    checksum: str
    metrics: dict[str, Any]
    source: dict[str, Any]


def job_finish(
    tenant: Tenant,
    *,
    job_id: str,
    attempt: int,
    status: str,
    error: dict | None = None,
    history: list[dict] | None = None,
    evaluation: dict | None = None,
    hyperparameters: dict | None = None,
    trained: TrainedModel | None = None,
    warning: str = "",
) -> FineTuneJob | None:
    """End a running job: its final state, its model version (on success) and its bill.

    A job whose cancellation was requested ends ``cancelled`` even if training
    happened to complete.  Returns ``None`` if the job was no longer this
    attempt's to end.
    """
    with transaction.atomic():
        job = _running(job_id, attempt)
        if job is None:
            return None
        if status == Status.SUCCEEDED and job.cancel_requested_at is not None:
            status, trained = Status.CANCELLED, None
        if history is not None:
            job.history = history
        if evaluation is not None:
            job.evaluation = evaluation
        if hyperparameters is not None:
            job.hyperparameters = hyperparameters
        if warning:
            event(job, warning, type="message", level=FineTuneEvent.Level.WARNING)
        if trained is not None:
            job.model = model_version_create(
                tenant,
                actor=job.created_by,
                family=job.family,
                base_model=job.base_model,
                kind=trained.kind,
                artifact_dir=trained.artifact_dir,
                labels=trained.labels,
                input_shape=list(job.base_model.input_shape),
                checksum=trained.checksum,
                metrics=trained.metrics,
                source=trained.source,
            )
        _finish(job, status, error=error)
        return job


# -- ends ------------------------------------------------------------------------------------


def _seconds_used(job: FineTuneJob, until: datetime) -> int:
    """Whole seconds from start to ``until``, at least 1 once started, never past the budget."""
    if job.started_at is None:
        return 0
    used = math.ceil(max(0.0, (until - job.started_at).total_seconds()))
    return min(job.max_seconds, max(1, used))


def _finish(
    job: FineTuneJob, status: str, *, error: dict | None = None, until: datetime | None = None
) -> None:
    """Settle ``job`` (row locked) in its final state, bill it once, free its slot."""
    now = timezone.now()
    job.status, job.error, job.finished_at = status, error, now
    job.billed_seconds = _seconds_used(job, until or now)
    job.save(
        update_fields=[
            "status",
            "error",
            "finished_at",
            "billed_seconds",
            "model",
            "history",
            "evaluation",
            "hyperparameters",
        ]
    )
    usage = UsageDraft(
        meter=TRAINING_SECONDS,
        quantity=job.billed_seconds,
        idempotency_key=f"fine_tune:{job.public_id}",
        source=f"fine_tune:{job.public_id}",
        model_ref=job.model.public_id if job.model_id else "",
    )
    # The time used is billed and the budget reserved at creation ends, after commit.
    usage_record(job.tenant, [usage] if job.billed_seconds else [], settles=[job.public_id])
    level = FineTuneEvent.Level.ERROR if status == Status.FAILED else FineTuneEvent.Level.INFO
    message = {
        Status.SUCCEEDED: f"The job succeeded: model {getattr(job.model, 'public_id', '')}"
        " is ready.",
        Status.CANCELLED: "The job was cancelled.",
        Status.FAILED: f"The job failed: {(error or {}).get('message', '')}",
    }[status]
    event(job, message, level=level, status=status, billed_seconds=job.billed_seconds, error=error)
    audit(
        job.tenant,
        actor="system",
        action=f"fine_tune.{status}",
        target=job.public_id,
        billed_seconds=job.billed_seconds,
    )
    dispatch_waiting(job.tenant)


def _fail_lost(job: FineTuneJob, why: str) -> None:
    """Fail a job whose worker died; bill it up to the last sign of life."""
    _finish(
        job,
        Status.FAILED,
        until=job.heartbeat_at,
        error={
            "code": "worker_lost",
            "message": f"The training worker stopped during attempt {job.attempts} ({why}); "
            "the job was stopped and billed up to its last progress report. Start a new job "
            "to train again.",
        },
    )


def job_cancel(tenant: Tenant, *, actor, job: FineTuneJob) -> FineTuneJob:
    """Cancel a job: at once if it has not started, else after the worker's current batch.

    A finished job cannot be cancelled (409).
    """
    with transaction.atomic():
        job = _locked(job.public_id)
        if job.status in FineTuneJob.FINAL:
            raise Conflict(
                f"Fine-tune {job.public_id} has already {job.status}; there is nothing to cancel.",
                code="fine_tune_finished",
            )
        if job.status != Status.RUNNING:
            _finish(job, Status.CANCELLED)
        elif job.cancel_requested_at is None:
            job.cancel_requested_at = timezone.now()
            job.save(update_fields=["cancel_requested_at"])
            event(job, "Cancellation requested; training stops after the current batch.")
        audit(tenant, actor=actor, action="fine_tune.cancel_requested", target=job.public_id)
    return job


def jobs_reap_stale(now: datetime | None = None) -> list[str]:
    """Fail running jobs whose worker has been silent for ``TRAINING_STALE_AFTER_S``.

    Catches workers that died without their message coming back (the whole
    host lost); a worker that was merely slow sees the failure at its next
    progress report and stops.
    """
    cutoff = (now or timezone.now()) - timedelta(seconds=float(setting("TRAINING_STALE_AFTER_S")))
    with unscoped("fail fine-tunes whose training worker stopped reporting"):
        stale = list(
            FineTuneJob.objects.filter(status=Status.RUNNING, heartbeat_at__lt=cutoff).values_list(
                "tenant_id", "public_id"
            )
        )
    reaped = []
    for tenant_id, job_id in stale:
        tenant = Tenant.objects.get(pk=tenant_id)
        with tenant_context(tenant), transaction.atomic():
            job = _locked(job_id)
            if job is not None and job.status == Status.RUNNING and job.heartbeat_at < cutoff:
                _fail_lost(job, "it stopped reporting progress")
                reaped.append(job_id)
    return reaped
