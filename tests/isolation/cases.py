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
from tests.billing import isolation_cases as billing


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
        return (
            sorted(ApiKey.objects.values_list("public_id", "revoked_at", "name")),
            sorted(ModelVersion.objects.values_list("public_id", "is_active")),
            sorted(Prediction.objects.values_list("public_id", "status")),
            UsageEvent.objects.count(),
            AuditEvent.objects.count(),
        )


def _model(handle) -> dict:
    from inference.registry import base_model_register, committed_base_dir_list
    from tests.factories import make_model_version

    base = base_model_register(committed_base_dir_list()[0])
    return {"model_id": make_model_version(handle, base).public_id}


def _prediction(handle) -> dict:
    with handle.context():
        prediction = Prediction.objects.create(
            tenant=handle.tenant, model_ref="mdl_x", image_count=1
        )
    return {"prediction_id": prediction.public_id}


def _dataset(handle) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.training.helpers import dataset_files, zip_bytes
    from training.services.datasets import dataset_create
    from training.tasks import validate_dataset

    archive = SimpleUploadedFile("pets.zip", zip_bytes(dataset_files({"cat": 5, "dog": 5})))
    with handle.context():
        dataset = dataset_create(handle.tenant, actor=handle.owner, upload=archive)
    validate_dataset(handle.tenant.pk, dataset.public_id)
    return {"dataset_id": dataset.public_id}


def _fine_tune(handle) -> dict:
    from inference.registry import base_model_register, committed_base_dir_list
    from training.services.fine_tunes import fine_tune_create

    base_model_register(committed_base_dir_list()[0])
    dataset_id = _dataset(handle)["dataset_id"]
    with handle.context():
        job = fine_tune_create(handle.tenant, actor=handle.owner, dataset_id=dataset_id)
    return {"job_id": job.public_id}


def _training_state(handle):
    from training.models import Dataset, FineTuneEvent, FineTuneJob

    with handle.context():
        return (
            _state(handle),
            sorted(Dataset.objects.values_list("public_id", "status")),
            sorted(FineTuneJob.objects.values_list("public_id", "status", "cancel_requested_at")),
            FineTuneEvent.objects.count(),
        )


CASES: list[Case] = [
    Case("GET", "v1/api-keys/<str:key_id>", _key, _state),
    Case("DELETE", "v1/api-keys/<str:key_id>", _key, _state),
    Case("GET", "v1/models/<str:model_id>", _model, _state),
    Case("POST", "v1/models/<str:model_id>/activate", _model, _state),
    Case(
        "POST",
        "v1/models/<str:model_id>/predict",
        _model,
        _state,
        lambda p: {"inputs": [{"image_base64": "aGVsbG8="}]},
    ),
    Case(
        "POST",
        "v1/predictions",
        _model,
        _state,
        lambda p: {"model": p["model_id"], "inputs": [{"image_base64": "aGVsbG8="}]},
    ),
    Case("GET", "v1/predictions/<str:prediction_id>", _prediction, _state),
    Case("GET", "v1/datasets/<str:dataset_id>", _dataset, _training_state),
    Case("DELETE", "v1/datasets/<str:dataset_id>", _dataset, _training_state),
    Case(
        "POST", "v1/fine-tunes", _dataset, _training_state, lambda p: {"dataset": p["dataset_id"]}
    ),
    Case("GET", "v1/fine-tunes/<str:job_id>", _fine_tune, _training_state),
    Case("POST", "v1/fine-tunes/<str:job_id>/cancel", _fine_tune, _training_state),
    Case("GET", "v1/fine-tunes/<str:job_id>/events", _fine_tune, _training_state),
]

# Listing with B's key must show none of A's objects.
LIST_ROUTES: dict[str, Callable] = {
    "v1/api-keys": lambda handle: [handle.key.public_id],
    "v1/models": lambda handle: [_model(handle)["model_id"]],
    "v1/datasets": lambda handle: [_dataset(handle)["dataset_id"]],
    "v1/fine-tunes": lambda handle: [_fine_tune(handle)["job_id"]],
}

CASES += [
    Case(method, route, billing.make_invoice, billing.state, body)
    for method, route, body in billing.ROUTES
]
CASES += [
    Case(method, route, billing.make_key, billing.spend_state, body)
    for method, route, body in billing.KEY_ROUTES
]
LIST_ROUTES["v1/invoices"] = billing.list_ids

# Routes that take no object id and list no objects: not tenant data at all
# (schema, ping, Stripe's webhook), or aggregates and the caller's own settings
# whose own tests check that another tenant's rows never count (usage:
# tests/billing/test_api.py; the billing account: tests/billing/test_spend_api.py).
NO_OBJECT_ROUTES = {"v1/openapi.json", "v1/ping"} | billing.NOT_OBJECT_ROUTES
