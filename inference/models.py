"""Base models (global), tenants' private model versions and their predictions."""

from django.db import models

from core.ids import new_public_id
from core.models import TenantOwnedModel, public_id_constraint


def _model_id() -> str:
    return new_public_id("mdl")


class BaseModel(models.Model):
    """A shared base image model every tenant may call and fine-tune.  Global table.

    ``artifact_path`` is a directory written by ``ml.artifacts`` (the committed
    default lives in the repository's ``base_models/``; imported ones under the
    media root).  The labels are those of its serving head, if it has one.
    """

    public_id = models.CharField(max_length=40, unique=True, default=_model_id, editable=False)
    name = models.CharField(max_length=100, unique=True)
    checksum = models.CharField(max_length=64)
    artifact_path = models.CharField(max_length=500)
    labels = models.JSONField(default=list)
    input_shape = models.JSONField()
    feature_dim = models.PositiveIntegerField()
    preprocessing_version = models.CharField(max_length=40)
    report = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class ModelVersion(TenantOwnedModel):
    """A tenant's private model, produced by a fine-tune.

    ``kind`` is ``head`` (only a new classification head on the shared base:
    served on the shared-backbone path) or ``full`` (backbone layers unfrozen).
    One version per family is active: the one served under the family's alias.
    """

    PUBLIC_ID_PREFIX = "mdl"

    class Kind(models.TextChoices):
        HEAD = "head"
        FULL = "full"

    family = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    base_model = models.ForeignKey(BaseModel, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    artifact_key = models.CharField(max_length=500)  # storage key under tenants/<id>/
    checksum = models.CharField(max_length=64)
    labels = models.JSONField()
    input_shape = models.JSONField()
    metrics = models.JSONField(default=dict)
    source = models.JSONField(default=dict)  # fine-tune, dataset version, hyperparameters
    is_active = models.BooleanField(default=False)

    class Meta:
        constraints = [
            public_id_constraint("modelversion"),
            models.UniqueConstraint(
                fields=["tenant", "family", "version"], name="modelversion_family_version_uniq"
            ),
            models.UniqueConstraint(
                fields=["tenant", "family"],
                condition=models.Q(is_active=True),
                name="modelversion_one_active_per_family",
            ),
        ]


class Prediction(TenantOwnedModel):
    """One predict call: its results once done.  Written with its usage event, atomically."""

    PUBLIC_ID_PREFIX = "pred"

    class Status(models.TextChoices):
        QUEUED = "queued"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    model_ref = models.CharField(max_length=40)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    image_count = models.PositiveIntegerField()
    top_k = models.PositiveSmallIntegerField(default=3)
    results = models.JSONField(null=True)
    error = models.JSONField(null=True)
    api_key_ref = models.CharField(max_length=40, blank=True)
    completed_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [public_id_constraint("prediction")]
