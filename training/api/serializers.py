"""Input and output shapes of the datasets and fine-tunes endpoints (and their OpenAPI schema).

Metrics come back ready for charts: the per-epoch history as one array per
series (``metrics.series``, ``null`` where an epoch has no value, e.g. no
validation set), and the confusion matrix with its row/column labels.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from training.models import Dataset, FineTuneEvent, FineTuneJob

# -- inputs ----------------------------------------------------------------------------------


class DatasetCreateInput(serializers.Serializer):
    file = serializers.FileField(
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
    id = serializers.CharField()
    object = serializers.CharField(default="dataset")
    name = serializers.CharField()
    status = serializers.ChoiceField([s.value for s in Dataset.Status])
    bytes = serializers.IntegerField()
    sha256 = serializers.CharField(allow_null=True)
    layout = serializers.CharField(allow_null=True)
    classes = serializers.ListField(child=serializers.CharField())
    counts = serializers.DictField(help_text="{class: {split: images}}")
    class_counts = serializers.DictField(child=serializers.IntegerField())
    split_counts = serializers.DictField(child=serializers.IntegerField())
    image_stats = serializers.DictField(allow_null=True)
    rejected_files = serializers.ListField(
        child=serializers.DictField(), help_text="[{member, code, reason}]"
    )
    duplicates = serializers.ListField(child=serializers.DictField())
    excluded_classes = serializers.ListField(child=serializers.DictField())
    error = serializers.DictField(allow_null=True, help_text="{code, message} once failed")
    created_at = serializers.DateTimeField()
    validated_at = serializers.DateTimeField(allow_null=True)


class FineTuneOutput(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="fine_tune")
    status = serializers.ChoiceField([s.value for s in FineTuneJob.Status])
    dataset = serializers.CharField()
    base_model = serializers.CharField()
    suffix = serializers.CharField()
    hyperparameters = serializers.DictField()
    estimate = serializers.DictField(
        help_text="{seconds, max_seconds, cost, max_cost, "
        "currency}: cost in minor units; the job never "
        "bills more than max_seconds"
    )
    progress = serializers.DictField(help_text="{epoch, epochs, step, steps}")
    metrics = serializers.DictField(
        help_text="{series: {epoch: [...], loss: [...], ...}, evaluation: {...}}"
    )
    model = serializers.CharField(allow_null=True)
    error = serializers.DictField(allow_null=True)
    trained_seconds = serializers.IntegerField()
    cancel_requested = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class FineTuneEventOutput(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="fine_tune.event")
    created_at = serializers.DateTimeField()
    level = serializers.ChoiceField([level.value for level in FineTuneEvent.Level])
    type = serializers.CharField()
    message = serializers.CharField()
    data = serializers.DictField()


def dataset_data(dataset: Dataset) -> dict[str, Any]:
    summary = dataset.summary or {}
    return {
        "id": dataset.public_id,
        "object": "dataset",
        "name": dataset.name,
        "status": dataset.status,
        "bytes": dataset.size_bytes,
        "sha256": dataset.sha256 or None,
        "layout": summary.get("layout"),
        "classes": summary.get("classes", []),
        "counts": summary.get("counts", {}),
        "class_counts": summary.get("class_counts", {}),
        "split_counts": summary.get("split_counts", {}),
        "image_stats": summary.get("image_stats"),
        "rejected_files": summary.get("rejected", []),
        "duplicates": summary.get("duplicates", []),
        "excluded_classes": summary.get("excluded_classes", []),
        "error": dataset.error,
        "created_at": dataset.created_at,
        "validated_at": dataset.validated_at,
    }


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


def fine_tune_data(job: FineTuneJob) -> dict[str, Any]:
    return {
        "id": job.public_id,
        "object": "fine_tune",
        "status": job.status,
        "dataset": job.dataset_ref,
        "base_model": job.base_model.public_id,
        "suffix": job.family,
        "hyperparameters": job.hyperparameters,
        "estimate": job.estimate,
        "progress": job.progress,
        "metrics": {
            "series": metric_series(job.history),
            "evaluation": _evaluation(job.evaluation),
        },
        "model": job.model.public_id if job.model_id else None,
        "error": job.error,
        "trained_seconds": job.billed_seconds,
        "cancel_requested": job.cancel_requested_at is not None,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def fine_tune_event_data(event: FineTuneEvent) -> dict[str, Any]:
    return {
        "id": event.public_id,
        "object": "fine_tune.event",
        "created_at": event.created_at,
        "level": event.level,
        "type": event.type,
        "message": event.message,
        "data": event.data,
    }
