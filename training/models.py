"""Datasets, fine-tune jobs and their events: all tenant-owned.

A dataset is immutable once validated: its archive (pinned by ``sha256``) and
its scan never change, so a model version that names a dataset names exactly
the images it was trained on.  A new upload is a new dataset.
"""

from django.db import models

from core.models import TenantOwnedModel, public_id_constraint


class Dataset(TenantOwnedModel):
    """An uploaded archive and, once validated, what can be trained on.

    ``summary`` is :meth:`DatasetScan.summary` (classes, counts, rejected files
    …); the full scan with every example lives next to the archive in storage
    (``scan_key``), read only by the trainer.  A failed dataset keeps no file.
    """

    PUBLIC_ID_PREFIX = "ds"

    class Status(models.TextChoices):
        PROCESSING = "processing"
        READY = "ready"
        FAILED = "failed"

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROCESSING)
    archive_key = models.CharField(max_length=500, blank=True)
    scan_key = models.CharField(max_length=500, blank=True)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, blank=True)
    summary = models.JSONField(default=dict)
    error = models.JSONField(null=True)  # {"code", "message"} once failed
    validated_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [public_id_constraint("dataset")]
        indexes = [models.Index(fields=["tenant", "-id"], name="dataset_tenant_list_idx")]


class FineTuneJob(TenantOwnedModel):
    """One fine-tune: ``validating → queued → running → succeeded | failed | cancelled``.

    ``validating`` waits for the dataset to be validated; ``queued`` jobs with
    ``dispatched_at`` set are in the broker (they hold one of the tenant's
    concurrent slots), the others wait for a slot.  ``attempts`` counts worker
    starts: a job found ``running`` by a new attempt lost its worker and fails,
    so a job never runs twice (see training.services.lifecycle).
    """

    PUBLIC_ID_PREFIX = "ft"

    class Status(models.TextChoices):
        VALIDATING = "validating"
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    ACTIVE = (Status.VALIDATING, Status.QUEUED, Status.RUNNING)
    FINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    dataset = models.ForeignKey(Dataset, null=True, on_delete=models.SET_NULL, related_name="+")
    dataset_ref = models.CharField(max_length=40)  # kept when the dataset is deleted
    base_model = models.ForeignKey(
        "inference.BaseModel", on_delete=models.PROTECT, related_name="+"
    )
    family = models.CharField(max_length=64)  # the "suffix": the model family it produces
    hyperparameters = models.JSONField(default=dict)  # as requested, then as resolved
    max_seconds = models.PositiveIntegerField()  # the budget: never billed beyond it
    estimate = models.JSONField(default=dict)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.VALIDATING)
    progress = models.JSONField(default=dict)  # {"epoch", "epochs", "step", "steps"}
    history = models.JSONField(default=list)  # one dict of metrics per finished epoch
    evaluation = models.JSONField(default=dict)
    error = models.JSONField(null=True)  # {"code", "message"} once failed
    model = models.ForeignKey(
        "inference.ModelVersion", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.CharField(max_length=80)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    dispatched_at = models.DateTimeField(null=True)
    started_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True)
    cancel_requested_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    billed_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [public_id_constraint("finetunejob")]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="finetune_tenant_list_idx"),
            models.Index(fields=["tenant", "status"], name="finetune_tenant_status_idx"),
        ]


class FineTuneEvent(TenantOwnedModel):
    """One line of a job's log: state changes, epoch metrics, warnings.  Append-only."""

    PUBLIC_ID_PREFIX = "ftevt"

    class Level(models.TextChoices):
        INFO = "info"
        WARNING = "warning"
        ERROR = "error"

    job = models.ForeignKey(FineTuneJob, on_delete=models.CASCADE, related_name="events")
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    type = models.CharField(max_length=20)  # "state" | "metrics" | "message"
    message = models.CharField(max_length=500)
    data = models.JSONField(default=dict)

    class Meta:
        constraints = [public_id_constraint("finetuneevent")]
        indexes = [models.Index(fields=["tenant", "job", "-id"], name="ftevent_job_list_idx")]
