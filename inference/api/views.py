"""``/v1/models`` and ``/v1/predictions``."""

from drf_spectacular.utils import OpenApiExample, extend_schema

from core.api.pagination import paginate
from core.api.views import TenantAPIView, respond
from core.errors import InvalidRequest
from inference import selectors, services
from inference.api.serializers import (
    AsyncPredictInput,
    ModelOutput,
    PredictionOutput,
    PredictJsonInput,
    base_model_data,
    model_version_data,
    prediction_data,
)
from inference.inputs import parse_predict_input
from inference.models import BaseModel
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


class ModelList(TenantAPIView):
    required_scopes = {"GET": Scope.READ}

    @extend_schema(operation_id="models_list", responses=ModelOutput(many=True))
    def get(self, request):
        page = paginate(request, selectors.model_version_list(self.tenant), model_version_data)
        if "starting_after" not in request.query_params:
            # Base models are few and shared: they lead the first page.
            page["data"] = [base_model_data(b) for b in selectors.base_model_list()] + page["data"]
        return respond(page)


class ModelDetail(TenantAPIView):
    required_scopes = {"GET": Scope.READ}

    @extend_schema(operation_id="models_retrieve", responses=ModelOutput)
    def get(self, request, model_id: str):
        model = selectors.model_get(self.tenant, ref=model_id)
        if isinstance(model, BaseModel):
            return respond(base_model_data(model))
        return respond(model_version_data(model))


class ModelActivate(TenantAPIView):
    required_scopes = {"POST": Scope.TRAIN}

    @extend_schema(operation_id="models_activate", request=None, responses=ModelOutput)
    def post(self, request, model_id: str):
        version = selectors.model_version_get(self.tenant, public_id=model_id)
        version = services.model_version_activate(
            self.tenant, actor=self.principal, version=version
        )
        return respond(model_version_data(version))


class ModelPredict(TenantAPIView):
    required_scopes = {"POST": Scope.PREDICT}

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
        responses=PredictionOutput,
        examples=[_PREDICT_EXAMPLE, _PREDICTION_EXAMPLE],
    )
    def post(self, request, model_id: str):
        served = selectors.served_model_get(self.tenant, ref=model_id)
        inputs = parse_predict_input(request, served.input_size)
        outcome = services.prediction_run_sync(
            self.tenant,
            principal=self.principal,
            served=served,
            inputs=inputs,
            request_id=request.request_id,
        )
        response = respond(
            {
                "id": outcome.prediction_id,
                "object": "prediction",
                "model": served.public_id,
                "status": "succeeded",
                "results": outcome.results,
                "usage": {"images": len(inputs.images)},
            }
        )
        response["X-Model-Cold"] = "true" if outcome.cold else "false"
        return response


class PredictionCreate(TenantAPIView):
    required_scopes = {"POST": Scope.PREDICT}

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
        inputs = parse_predict_input(request, served.input_size)
        prediction = services.prediction_submit_async(
            self.tenant,
            principal=self.principal,
            served=served,
            inputs=inputs,
            request_id=request.request_id,
        )
        return respond(prediction_data(prediction), status=202)


class PredictionDetail(TenantAPIView):
    required_scopes = {"GET": Scope.PREDICT}

    @extend_schema(operation_id="predictions_retrieve", responses=PredictionOutput)
    def get(self, request, prediction_id: str):
        return respond(
            prediction_data(selectors.prediction_get(self.tenant, public_id=prediction_id))
        )
