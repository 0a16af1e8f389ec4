"""Output shapes of the models and predictions endpoints (and their OpenAPI schema)."""

from rest_framework import serializers

from inference.models import BaseModel, ModelVersion, Prediction


class TopKItem(serializers.Serializer):
    label = serializers.CharField()
    score = serializers.FloatField()


class PredictionResult(serializers.Serializer):
    label = serializers.CharField()
    score = serializers.FloatField()
    top_k = TopKItem(many=True)


class PredictionOutput(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="prediction")
    model = serializers.CharField()
    status = serializers.ChoiceField([s.value for s in Prediction.Status])
    results = PredictionResult(many=True, allow_null=True)
    usage = serializers.DictField(child=serializers.IntegerField())
    error = serializers.DictField(allow_null=True, required=False)
    created_at = serializers.DateTimeField(required=False)


class PredictJsonInput(serializers.Serializer):
    class Item(serializers.Serializer):
        image_base64 = serializers.CharField()

    inputs = Item(many=True)
    top_k = serializers.IntegerField(min_value=1, max_value=20, default=3)


class AsyncPredictInput(PredictJsonInput):
    model = serializers.CharField(help_text="A model id, a family alias or a base model name.")


class ModelOutput(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="model")
    kind = serializers.ChoiceField(["base", "head", "full"])
    name = serializers.CharField()
    labels = serializers.ListField(child=serializers.CharField())
    input = serializers.DictField()
    status = serializers.CharField()
    metrics = serializers.DictField()
    active = serializers.BooleanField(allow_null=True)
    base_model = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


def _input_spec(shape: list[int]) -> dict:
    return {"shape": shape, "dtype": "uint8", "formats": ["png", "jpeg", "webp", "gif", "bmp"]}


def base_model_data(base: BaseModel) -> dict:
    return {
        "id": base.public_id,
        "object": "model",
        "kind": "base",
        "name": base.name,
        "labels": base.labels,
        "input": _input_spec(base.input_shape),
        "status": "ready",
        "metrics": {k: v for k, v in base.report.items() if k.endswith("accuracy")},
        "active": None,
        "base_model": None,
        "created_at": base.created_at,
    }


def model_version_data(version: ModelVersion) -> dict:
    return {
        "id": version.public_id,
        "object": "model",
        "kind": version.kind,
        "name": f"{version.family}:{version.version}",
        "family": version.family,
        "version": version.version,
        "labels": version.labels,
        "input": _input_spec(version.input_shape),
        "status": "ready",
        "metrics": version.metrics,
        "active": version.is_active,
        "base_model": version.base_model.public_id,
        "source": version.source,
        "created_at": version.created_at,
    }


def prediction_data(prediction: Prediction) -> dict:
    return {
        "id": prediction.public_id,
        "object": "prediction",
        "model": prediction.model_ref,
        "status": prediction.status,
        "results": prediction.results,
        "usage": {"images": prediction.image_count if prediction.results else 0},
        "error": prediction.error,
        "created_at": prediction.created_at,
    }
