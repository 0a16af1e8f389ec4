"""``/v1/models`` and ``/v1/predictions``."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response

from core.api.views import TenantAPIView
from core.errors import InvalidRequest
from inference import selectors, services
from inference.api.serializers import (
    AsyncPredictInput,
    ModelOutput,
    PredictionOutput,
    PredictJsonInput,
    PredictOutput,
)
from inference.inputs import predict_body_limit, read_predict_request
from tenants.roles import Scope

_PREDICT_EXAMPLE = OpenApiExample(
    "One image",
    request_only=True,
    value={"inputs": [{"image_base64": "iVBORw0KGgo..."}], "top_k": 3},
)
_PREDICTION_EXAMPLE = OpenApiExample(
    "A prediction",
    response_only=True,
    value={
        "id": "pred_2WfGcJ1sVx3h",
        "object": "prediction",
        "model": "mdl_8sKd02LmQp",
        "status": "succeeded",
        "usage": {"images": 1},
        "results": [
            {
                "label": "cat",
                "score": 0.93,
                "top_k": [{"label": "cat", "score": 0.93}, {"label": "dog", "score": 0.05}],
            }
        ],
    },
)


_MODEL_COLD = OpenApiParameter(
    "X-Model-Cold",
    str,
    OpenApiParameter.HEADER,
    response=["200"],
    enum=["true", "false"],
    description="`true` when this call loaded the model into a worker's memory.",
)
# A refused charge (402); a bad image (413, 415), too many images or too large a body
# (413); predictions_create also names its model in the body (404).
_PREDICT_ERRORS = (402, 413, 415)


class _Predict(TenantAPIView):
    """The predict routes' body limit: the most images of the most bytes
    (inference.inputs).  Images are counted, reserved, and only then decoded
    (inference.services)."""

    def admit(self, request, **kwargs) -> None:
        if request.method == "POST":
            services.prediction_refuse_early(
                self.tenant, principal=self.principal, model_ref=kwargs.get("model_id")
            )

    def max_body_bytes(self, request) -> int | None:
        return predict_body_limit(request) if request.method == "POST" else None


class ModelList(TenantAPIView):
    required_scopes = {"GET": Scope.READ}

    @extend_schema(operation_id="models_list", responses=ModelOutput(many=True))
    def get(self, request):
        # Base models are few and shared: they lead the list.
        return self.paginated(
            selectors.model_version_list(self.tenant),
            ModelOutput,
            leading=list(selectors.base_model_list()),
        )


class ModelDetail(TenantAPIView):
    required_scopes = {"GET": Scope.READ}

    @extend_schema(operation_id="models_retrieve", responses=ModelOutput)
    def get(self, request, model_id: str):
        return Response(ModelOutput(selectors.model_get(self.tenant, ref=model_id)).data)


class ModelActivate(TenantAPIView):
    required_scopes = {"POST": Scope.TRAIN}

    @extend_schema(operation_id="models_activate", request=None, responses=ModelOutput)
    def post(self, request, model_id: str):
        version = selectors.model_version_get(self.tenant, public_id=model_id)
        version = services.model_version_activate(
            self.tenant, actor=self.principal, version=version
        )
        return Response(ModelOutput(version).data)


class ModelPredict(_Predict):
    required_scopes = {"POST": Scope.PREDICT}
    error_statuses = {"POST": _PREDICT_ERRORS}

    @extend_schema(
        operation_id="models_predict",
        request={
            "application/json": PredictJsonInput,
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "top_k": {"type": "integer"},
                },
            },
        },
        responses=PredictOutput,
        parameters=[_MODEL_COLD],
        examples=[_PREDICT_EXAMPLE, _PREDICTION_EXAMPLE],
    )
    def post(self, request, model_id: str):
        served = selectors.served_model_get(self.tenant, ref=model_id)
        outcome = services.prediction_run_sync(
            self.tenant,
            principal=self.principal,
            served=served,
            inputs=read_predict_request(request),
            request_id=request.request_id,
        )
        response = Response(PredictOutput(outcome.prediction).data)
        response["X-Model-Cold"] = "true" if outcome.cold else "false"
        return response


class PredictionCreate(_Predict):
    required_scopes = {"POST": Scope.PREDICT}
    error_statuses = {"POST": (*_PREDICT_ERRORS, 404)}

    @extend_schema(
        operation_id="predictions_create",
        request=AsyncPredictInput,
        responses={202: PredictionOutput},
    )
    def post(self, request):
        model_id = request.data.get("model") if hasattr(request.data, "get") else None
        if not isinstance(model_id, str) or not model_id:
            raise InvalidRequest("Name the model to run in 'model'.", param="model")
        served = selectors.served_model_get(self.tenant, ref=model_id)
        prediction = services.prediction_submit_async(
            self.tenant,
            principal=self.principal,
            served=served,
            inputs=read_predict_request(request),
            request_id=request.request_id,
        )
        return Response(PredictionOutput(prediction).data, status=202)


class PredictionDetail(TenantAPIView):
    required_scopes = {"GET": Scope.PREDICT}

    @extend_schema(operation_id="predictions_retrieve", responses=PredictionOutput)
    def get(self, request, prediction_id: str):
        prediction = selectors.prediction_get(self.tenant, public_id=prediction_id)
        return Response(PredictionOutput(prediction).data)
