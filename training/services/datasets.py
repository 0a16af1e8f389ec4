"""Writes for datasets: upload, validation (on the datasets worker) and deletion.

An upload is stored under the tenant and answered at once (``processing``);
``datasets.validate`` scans it in place with :mod:`training.dataset_archive`
and either freezes it as ``ready`` with its statistics or marks it ``failed``
with the reason and deletes every file of it.

Validation runs on its own queue and worker (``datasets``): a crafted archive may
cost up to 30 minutes of CPU, and the default worker's billing work (webhooks,
rollups, period close) must never wait behind it.  An upload is refused before
anything is stored when the tenant is suspended, has too many datasets still
validating, or would pass its plan's storage quota (see :func:`dataset_create`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import PurePosixPath

from celery import current_app
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from billing.pricing.price_book import get_plan
from core.errors import BillingError, Conflict, InvalidRequest, RateLimited
from core.ids import new_public_id
from tenants.audit import audit
from tenants.models import Tenant
from training.conf import archive_limits, setting
from training.dataset_archive import ArchiveRejected, read_dataset_archive
from training.models import Dataset, FineTuneJob
from training.services import lifecycle
from training.storage import (
    ARCHIVE_FILE,
    SCAN_FILE,
    dataset_file_key,
    dataset_prefix,
    delete_prefix,
)

logger = logging.getLogger(__name__)

# Routed by its prefix to the "datasets" queue (saas/celery.py), never to "default".
VALIDATE_TASK = "datasets.validate"
_UPLOAD_LOCK_NAMESPACE = 7307  # pg_advisory_xact_lock(namespace, tenant id)
PROCESSING_RETRY_AFTER_S = 10


def _dataset_name(name: str, upload) -> str:
    chosen = (name or PurePosixPath(getattr(upload, "name", "") or "").stem).strip()
    return chosen[:200] or "dataset"


def dataset_create(tenant: Tenant, *, actor, upload, name: str = "") -> Dataset:
    """Store an uploaded archive and queue its validation.

    Returns the dataset in ``processing``.  Refused, with nothing stored, for a
    suspended tenant (402 ``account_suspended``), a missing or empty file (400),
    one over ``max_archive_bytes`` (413), past the tenant's datasets still being
    validated (429 ``too_many_datasets_processing``) and past its plan's storage
    quota (402 ``storage_quota_exceeded``).  Nothing is kept if this fails.
    """
    _refuse_if_suspended(tenant)
    _check_upload(upload)
    dataset = Dataset(tenant=tenant, name=_dataset_name(name, upload), size_bytes=upload.size)
    dataset.public_id = new_public_id(Dataset.PUBLIC_ID_PREFIX)
    dataset.archive_key = dataset_file_key(tenant, dataset.public_id, ARCHIVE_FILE)
    try:
        with transaction.atomic():
            # One upload per tenant at a time, until it commits, so that two racing
            # uploads cannot both pass the limits below.
            _lock_uploads(tenant)
            _check_limits(tenant, upload.size)
            stored = default_storage.save(dataset.archive_key, upload)
            if stored != dataset.archive_key:  # a fresh random id: cannot happen, never guess
                raise RuntimeError(f"storage renamed {dataset.archive_key} to {stored}")
            dataset.save()
            audit(
                tenant,
                actor=actor,
                action="dataset.created",
                target=dataset.public_id,
                name=dataset.name,
                size_bytes=dataset.size_bytes,
            )
            transaction.on_commit(
                lambda: current_app.send_task(VALIDATE_TASK, args=[tenant.pk, dataset.public_id])
            )
    except BaseException:
        delete_prefix(dataset_prefix(tenant, dataset.public_id))
        raise
    return dataset


def _refuse_if_suspended(tenant: Tenant) -> None:
    # The same refusal as a prediction's (billing.spend.enforcement): a suspended
    # organisation stores nothing new until it pays.
    if tenant.status == Tenant.Status.SUSPENDED:
        raise BillingError(
            "This organisation is suspended for an unpaid invoice; pay it to resume.",
            code="account_suspended",
        )


def _check_upload(upload) -> None:
    if upload is None:
        raise InvalidRequest(
            "Send the dataset archive as the multipart field 'file'.", param="file"
        )
    limit = archive_limits().max_archive_bytes
    if upload.size == 0:
        raise InvalidRequest("The uploaded file is empty.", code="empty_file", param="file")
    if upload.size > limit:
        raise InvalidRequest(
            f"The archive is {upload.size} bytes; the limit is {limit} bytes.",
            code="file_too_large",
            param="file",
            status=413,
        )


def _lock_uploads(tenant: Tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_UPLOAD_LOCK_NAMESPACE, tenant.pk])


def _check_limits(tenant: Tenant, size: int) -> None:
    """The in-flight limit (429) and the plan's storage quota (402) for one more upload.

    Storage counts the datasets that hold files: ``processing`` and ``ready`` (a
    failed dataset keeps none), so deleting a dataset frees its share at once.
    """
    held = Dataset.objects.filter(tenant=tenant).aggregate(
        processing=Count("id", filter=Q(status=Dataset.Status.PROCESSING)),
        stored=Count("id", filter=~Q(status=Dataset.Status.FAILED)),
        stored_bytes=Sum("size_bytes", filter=~Q(status=Dataset.Status.FAILED), default=0),
    )
    in_flight = int(setting("TRAINING_MAX_PROCESSING_DATASETS_PER_TENANT"))
    if held["processing"] >= in_flight:
        raise RateLimited(
            f"This organisation already has {in_flight} datasets being validated; upload "
            "another when one of them is ready or failed.",
            code="too_many_datasets_processing",
            headers={"Retry-After": str(PROCESSING_RETRY_AFTER_S)},
        )
    plan = get_plan(tenant.plan)
    quota = plan.storage
    if quota.datasets is not None and held["stored"] + 1 > quota.datasets:
        raise BillingError(
            f"The {plan.name} plan keeps at most {quota.datasets} datasets and this "
            "organisation has reached it; delete a dataset to upload another.",
            code="storage_quota_exceeded",
        )
    if quota.bytes is not None and held["stored_bytes"] + size > quota.bytes:
        raise BillingError(
            f"This archive of {size} bytes would take the datasets stored to "
            f"{held['stored_bytes'] + size} bytes, past the {plan.name} plan's {quota.bytes}; "
            "delete datasets to make room.",
            code="storage_quota_exceeded",
            param="file",
        )


def _sha256(fileobj) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: fileobj.read(1 << 20), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def _scan(dataset: Dataset) -> tuple[str, dict | None, dict | None]:
    """``(sha256, scan as dict, None)`` or ``("", None, error)``; never raises."""
    try:
        with default_storage.open(dataset.archive_key, "rb") as handle:
            digest = _sha256(handle)
            return digest, read_dataset_archive(handle, limits=archive_limits()).to_dict(), None
    except ArchiveRejected as exc:
        return "", None, {"code": exc.code, "message": exc.message}
    except FileNotFoundError:
        return (
            "",
            None,
            {
                "code": "archive_missing",
                "message": "The uploaded archive is no longer in storage; upload it again.",
            },
        )
    except Exception:  # a bug must not leave the dataset processing forever
        logger.exception("validating dataset %s failed", dataset.public_id)
        return (
            "",
            None,
            {
                "code": "validation_error",
                "message": "The archive could not be validated because of an internal "
                "error; upload it again or contact support.",
            },
        )


def dataset_validate(tenant: Tenant, *, dataset_id: str) -> Dataset | None:
    """Scan a ``processing`` dataset and settle it as ``ready`` or ``failed``.

    Idempotent: a dataset that is settled (or deleted) is left alone.  Jobs
    waiting in ``validating`` for it move on (see lifecycle.jobs_dataset_settled).
    """
    dataset = Dataset.objects.filter(tenant=tenant, public_id=dataset_id).first()
    if dataset is None or dataset.status != Dataset.Status.PROCESSING:
        return dataset
    digest, scan, error = _scan(dataset)
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
        if dataset is None or dataset.status != Dataset.Status.PROCESSING:
            return dataset  # deleted or settled while we scanned
        if scan is not None:
            _settle_ready(dataset, digest, scan)
        else:
            _settle_failed(dataset, error)
        audit(
            tenant,
            actor="system",
            action=f"dataset.{dataset.status}",
            target=dataset.public_id,
            error=dataset.error,
        )
        lifecycle.jobs_dataset_settled(tenant, dataset=dataset)
    return dataset


def _settle_ready(dataset: Dataset, digest: str, scan: dict) -> None:
    dataset.scan_key = dataset_file_key(dataset.tenant, dataset.public_id, SCAN_FILE)
    if default_storage.exists(dataset.scan_key):  # left by an attempt that did not commit
        default_storage.delete(dataset.scan_key)
    default_storage.save(dataset.scan_key, ContentFile(json.dumps(scan).encode()))
    summary = {key: value for key, value in scan.items() if key != "examples"}
    dataset.status, dataset.sha256, dataset.summary = Dataset.Status.READY, digest, summary
    dataset.validated_at = timezone.now()
    dataset.save(update_fields=["status", "sha256", "summary", "scan_key", "validated_at"])


def _settle_failed(dataset: Dataset, error: dict) -> None:
    prefix = dataset_prefix(dataset.tenant, dataset.public_id)
    dataset.status, dataset.error = Dataset.Status.FAILED, error
    dataset.archive_key, dataset.validated_at = "", timezone.now()
    dataset.save(update_fields=["status", "error", "archive_key", "validated_at"])
    # Nothing of a rejected archive is kept.  Deleted now, not on commit, so no
    # crash can leave it behind; if the commit fails instead, a retry finds no
    # archive and fails the dataset again (as "archive_missing").
    delete_prefix(prefix)


@transaction.atomic
def dataset_delete(tenant: Tenant, *, actor, dataset: Dataset) -> None:
    """Delete a dataset and its files; refused (409) while an unfinished job uses it."""
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    busy = (
        FineTuneJob.objects.filter(tenant=tenant, dataset=dataset, status__in=FineTuneJob.ACTIVE)
        .values_list("public_id", flat=True)
        .first()
    )
    if busy:
        raise Conflict(
            f"Dataset {dataset.public_id} is used by fine-tune {busy}, which has not "
            "finished; cancel it or wait for it to end.",
            code="dataset_in_use",
        )
    prefix = dataset_prefix(tenant, dataset.public_id)
    audit(
        tenant, actor=actor, action="dataset.deleted", target=dataset.public_id, name=dataset.name
    )
    dataset.delete()
    transaction.on_commit(lambda: delete_prefix(prefix))
