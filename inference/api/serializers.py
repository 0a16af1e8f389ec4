"""Input validation and output shapes of the models and predictions endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rest_framework import serializers

from core.api.fields import Constant
from inference.models import BaseModel, ModelVersion, Prediction

IMAGE_FORMATS = ["png", "jpeg", "webp", "gif", "bmp"]


class ImageInput(serializers.Serializer):
    image_base64 = serializers.CharField()


class PredictJsonInput(serializers.Serializer):
    inputs = ImageInput(many=True)
    top_k = serializers.IntegerField(min_value=1, max_value=20, default=3)


class AsyncPredictInput(PredictJsonInput):
    model = serializers.CharField(help_text="A model id, a family alias or a base model name.")


@dataclass(frozen=True)
class ModelCard:
    """What the API shows of a model, alike for base models and tenants' versions."""

    public_id: str
    kind: str
    name: str
    family: str | None
    version: int | None
    labels: list[str]
    input_shape: list[int]
    metrics: dict
    active: bool | None
    base_model: str | None
    source: dict | None
    created_at: datetime

    @classmethod
    def of(cls, model: BaseModel | ModelVersion) -> ModelCard:
        if isinstance(model, BaseModel):
            accuracy = {k: v for k, v in model.report.items() if k.endswith("accuracy")}
            return cls(
                model.public_id,
                "base",
                model.name,
                None,
                None,
                model.labels,
                model.input_shape,
                accuracy,
                None,
                None,
                None,
                model.created_at,
            )
        return cls(
            model.public_id,
            model.kind,
            f"{model.family}:{model.version}",
            model.family,
            model.version,
            model.labels,
            model.input_shape,
            model.metrics,
            model.is_active,
            model.base_model.public_id,
            model.source,
            model.created_at,
        )


class ModelInputOutput(serializers.Serializer):
    shape = serializers.ListField(child=serializers.IntegerField(), source="input_shape")
    dtype = Constant("uint8")
    formats = serializers.SerializerMethodField()

    def get_formats(self, card: ModelCard) -> list[str]:
        return IMAGE_FORMATS


class ModelOutput(serializers.Serializer):
    """A base model (``kind: base``) or one of the organisation's model versions."""

    id = serializers.CharField(source="public_id")
    object = Constant("model")
    kind = serializers.ChoiceField(["base", *ModelVersion.Kind.values])
    name = serializers.CharField(help_text="A base model's name, or a version's family:version.")
    family = serializers.CharField(allow_null=True)
    version = serializers.IntegerField(allow_null=True)
    labels = serializers.ListField(child=serializers.CharField())
    input = ModelInputOutput(source="*")
    status = Constant("ready")
    metrics = serializers.DictField()
    active = serializers.BooleanField(
        allow_null=True, help_text="Whether the family alias serves this version."
    )
    base_model = serializers.CharField(allow_null=True)
    source = serializers.DictField(
        allow_null=True, help_text="The fine-tune, dataset and hyperparameters that made it."
    )
    created_at = serializers.DateTimeField()

    def to_representation(self, instance: BaseModel | ModelVersion | ModelCard) -> dict:
        card = instance if isinstance(instance, ModelCard) else ModelCard.of(instance)
        return super().to_representation(card)


class TopKItem(serializers.Serializer):
    label = serializers.CharField()
    score = serializers.FloatField()


class PredictionResult(serializers.Serializer):
    label = serializers.CharField()
    score = serializers.FloatField()
    top_k = TopKItem(many=True)


class PredictionUsageOutput(serializers.Serializer):
    images = serializers.SerializerMethodField(help_text="Images billed: 0 until it succeeds.")

    def get_images(self, prediction: Prediction) -> int:
        return prediction.image_count if prediction.results else 0


class PredictOutput(serializers.Serializer):
    """The answer of a synchronous prediction."""

    id = serializers.CharField(source="public_id")
    object = Constant("prediction")
    model = serializers.CharField(source="model_ref")
    status = serializers.ChoiceField(Prediction.Status.values)
    results = PredictionResult(many=True, allow_null=True)
    usage = PredictionUsageOutput(source="*")


class PredictionOutput(PredictOutput):
    """A stored prediction (asynchronous ones are polled)."""

    error = serializers.DictField(allow_null=True)
    created_at = serializers.DateTimeField()
