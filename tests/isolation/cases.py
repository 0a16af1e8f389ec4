"""Cross-tenant cases: for every endpoint that takes an object id, how to make
tenant A's object and how to snapshot A's state, so the suite can call it with
tenant B's credentials and assert 404 *and* no change.

Register a case here for every new ``/v1/`` route; test_endpoints.py fails for
any route without one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from billing.models import UsageEvent
from inference.models import ModelVersion, Prediction
from tenants.models import ApiKey, AuditEvent


@dataclass(frozen=True)
class Case:
    method: str
    route: str  # Django route, e.g. "v1/api-keys/<str:key_id>"
    make: Callable  # (handle) -> {name: tenant A's public id}; path parameters among them
    snapshot: Callable  # (handle) -> comparable state of tenant A
    body: Callable = lambda params: {}  # (params) -> JSON body sent by tenant B


def _key(handle) -> dict:
    key, _ = handle.new_key(["read"])
    return {"key_id": key.public_id}


def _state(handle):
    """Everything a cross-tenant call could plausibly change in tenant A."""
    with handle.context():
        return (sorted(ApiKey.objects.values_list("public_id", "revoked_at", "name")),
                sorted(ModelVersion.objects.values_list("public_id", "is_active")),
                sorted(Prediction.objects.values_list("public_id", "status")),
                UsageEvent.objects.count(), AuditEvent.objects.count())


def _model(handle) -> dict:
    from inference.registry import base_model_register, committed_base_dirs
    from tests.factories import make_model_version

    base = base_model_register(committed_base_dirs()[0])
    return {"model_id": make_model_version(handle, base).public_id}


def _prediction(handle) -> dict:
    with handle.context():
        prediction = Prediction.objects.create(tenant=handle.tenant, model_ref="mdl_x",
                                               image_count=1)
    return {"prediction_id": prediction.public_id}


CASES: list[Case] = [
    Case("GET", "v1/api-keys/<str:key_id>", _key, _state),
    Case("DELETE", "v1/api-keys/<str:key_id>", _key, _state),
    Case("GET", "v1/models/<str:model_id>", _model, _state),
    Case("POST", "v1/models/<str:model_id>/activate", _model, _state),
    Case("POST", "v1/models/<str:model_id>/predict", _model, _state,
         lambda p: {"inputs": [{"image_base64": "aGVsbG8="}]}),
    Case("POST", "v1/predictions", _model, _state,
         lambda p: {"model": p["model_id"], "inputs": [{"image_base64": "aGVsbG8="}]}),
    Case("GET", "v1/predictions/<str:prediction_id>", _prediction, _state),
]

# Listing with B's key must show none of A's objects.
LIST_ROUTES: dict[str, Callable] = {
    "v1/api-keys": lambda handle: [handle.key.public_id],
    "v1/models": lambda handle: [_model(handle)["model_id"]],
}

# Routes that are not tenant data at all.
PUBLIC_ROUTES = {"v1/openapi.json", "v1/ping"}
