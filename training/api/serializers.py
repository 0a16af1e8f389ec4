"""Input and output shapes of the datasets and fine-tunes endpoints (and their OpenAPI schema).

Metrics come back ready for charts: the per-epoch history as one array per
series (``metrics.series``, ``null`` where an epoch has no value, e.g. no
validation set), and the confusion matrix with its row/column labels.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import Constant, UploadField
from training.models import Dataset, FineTuneEvent, FineTuneJob

# -- inputs ----------------------------------------------------------------------------------


class DatasetCreateInput(serializers.Serializer):
    file = UploadField(
        help_text="A zip: one folder per class, optionally inside "
        "train/ and val/ (and test/), or a CSV manifest "
        "(path,label[,split]) with its images."
    )
    name = serializers.CharField(required=False, max_length=200)


class FineTuneCreateInput(serializers.Serializer):
    dataset = serializers.CharField(help_text="A ready (or processing) dataset id, ds_…")
    base_model = serializers.CharField(required=False, help_text="Base model id or name.")
    hyperparameters = serializers.JSONField(
        required=False,
        help_text="epochs, learning_rate, batch_size, unfreeze_layers, augment, "
        "validation_split, seed, finetune_epochs, patience, "
        'max_seconds; each may be "auto" (the default) but seed.',
    )
    suffix = serializers.CharField(required=False, help_text="The model family it produces.")


# -- outputs ---------------------------------------------------------------------------------


class DatasetOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    object = Constant("dataset")
    name = serializers.CharField()
    status = serializers.ChoiceField(Dataset.Status.values)
    bytes = serializers.IntegerField(source="size_bytes")
    sha256 = serializers.SerializerMethodField()
    layout = serializers.SerializerMethodField()
    classes = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField(help_text="{class: {split: images}}")
    class_counts = serializers.SerializerMethodField()
    split_counts = serializers.SerializerMethodField()
    image_stats = serializers.SerializerMethodField()
    rejected_files = serializers.SerializerMethodField(help_text="[{member, code, reason}]")
    duplicates = serializers.SerializerMethodField()
    excluded_classes = serializers.SerializerMethodField()
    error = serializers.DictField(allow_null=True, help_text="{code, message} once failed")
    created_at = serializers.DateTimeField()
    validated_at = serializers.DateTimeField(allow_null=True)

    # The validation report lives in ``summary`` once the dataset is validated.
    def get_sha256(self, dataset: Dataset) -> str | None:
        return dataset.sha256 or None

    def get_layout(self, dataset: Dataset) -> str | None:
        return (dataset.summary or {}).get("layout")

    def get_classes(self, dataset: Dataset) -> list[str]:
        return (dataset.summary or {}).get("classes", [])

    def get_counts(self, dataset: Dataset) -> dict[str, dict[str, int]]:
        return (dataset.summary or {}).get("counts", {})

    def get_class_counts(self, dataset: Dataset) -> dict[str, int]:
        return (dataset.summary or {}).get("class_counts", {})

    def get_split_counts(self, dataset: Dataset) -> dict[str, int]:
        return (dataset.summary or {}).get("split_counts", {})

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_image_stats(self, dataset: Dataset) -> dict | None:
        return (dataset.summary or {}).get("image_stats")

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_rejected_files(self, dataset: Dataset) -> list[dict]:
        return (dataset.summary or {}).get("rejected", [])

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_duplicates(self, dataset: Dataset) -> list[dict]:
        return (dataset.summary or {}).get("duplicates", [])

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_excluded_classes(self, dataset: Dataset) -> list[dict]:
        return (dataset.summary or {}).get("excluded_classes", [])


class DatasetDeletedOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    object = Constant("dataset")
    deleted = serializers.SerializerMethodField()

    def get_deleted(self, dataset: Dataset) -> bool:
        return True


class FineTuneMetricsOutput(serializers.Serializer):
    series = serializers.SerializerMethodField(
        help_text="The per-epoch history, one array per series ({epoch: [...], loss: [...]})."
    )
    evaluation = serializers.SerializerMethodField(
        help_text="Held-out evaluation, with the confusion matrix and its labels."
    )

    def get_series(self, job: FineTuneJob) -> dict[str, list]:
        return metric_series(job.history)

    @extend_schema_field(serializers.DictField())
    def get_evaluation(self, job: FineTuneJob) -> dict:
        return _evaluation(job.evaluation)


class FineTuneOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    object = Constant("fine_tune")
    status = serializers.ChoiceField(FineTuneJob.Status.values)
    dataset = serializers.CharField(source="dataset_ref")
    base_model = serializers.CharField(source="base_model.public_id")
    suffix = serializers.CharField(source="family")
    hyperparameters = serializers.DictField()
    estimate = serializers.DictField(
        help_text="{seconds, max_seconds, cost, max_cost, "
        "currency}: cost in minor units; the job never "
        "bills more than max_seconds"
    )
    progress = serializers.DictField(help_text="{epoch, epochs, step, steps}")
    metrics = FineTuneMetricsOutput(source="*")
    model = serializers.SerializerMethodField()
    error = serializers.DictField(allow_null=True)
    trained_seconds = serializers.IntegerField(source="billed_seconds")
    cancel_requested = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_model(self, job: FineTuneJob) -> str | None:
        return job.model.public_id if job.model_id else None

    def get_cancel_requested(self, job: FineTuneJob) -> bool:
        return job.cancel_requested_at is not None


class FineTuneEventOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    object = Constant("fine_tune.event")
    created_at = serializers.DateTimeField()
    level = serializers.ChoiceField(FineTuneEvent.Level.values)
    type = serializers.CharField()
    message = serializers.CharField()
    data = serializers.DictField()


def metric_series(history: list[dict[str, float]]) -> dict[str, list]:
    """``[{epoch, loss, …}, …]`` as ``{"epoch": [...], "loss": [...], …}`` (missing → None)."""
    names = ["epoch", *sorted({name for row in history for name in row} - {"epoch"})]
    return {name: [row.get(name) for row in history] for name in names} if history else {}


def _evaluation(evaluation: dict[str, Any]) -> dict[str, Any]:
    if not evaluation:
        return {}
    shown = {key: value for key, value in evaluation.items() if key != "confusion_matrix"}
    shown["confusion_matrix"] = {
        "labels": evaluation.get("labels", []),
        "matrix": evaluation.get("confusion_matrix", []),
    }
    return shown
