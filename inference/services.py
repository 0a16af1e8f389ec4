"""Predictions: submit to the inference queue, wait (sync) or return at once (async);
and activation of model versions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from redis import RedisError

from billing.spend.enforcement import refuse_known, release, reserve
from core.errors import ApiError, InvalidRequest, ServiceUnavailable
from core.ids import new_public_id
from inference import lane, selectors
from inference.exchange import wait_reply
from inference.inputs import PendingImages, PredictInput
from inference.models import BaseModel, ModelVersion, Prediction
from inference.selectors import ServedModel
from tenants.audit import audit
from tenants.authentication import ApiPrincipal
from tenants.models import Tenant
from tenants.storage import tenant_key

LANE_DOWN = "The inference queue is unreachable; nothing was queued or billed. Retry later."
# A hold outlives its lane entry's time to live by this much, so that a worker that
# claims the entry at the last moment still finds it (billing.spend.enforcement).
HOLD_MARGIN_S = 600


@dataclass(frozen=True)
class SyncResult:
    """The answer of a synchronous prediction: ``prediction`` as the worker stored it
    (the instance here is not read back from the database) and whether the call
    loaded its model."""

    prediction: Prediction
    cold: bool


def prediction_refuse_early(
    tenant: Tenant, *, principal: ApiPrincipal, model_ref: str | None
) -> None:
    """What billing can refuse before the request body is read (a suspended tenant, a
    quota or cap it was refused on a moment ago: billing.spend.enforcement), so such
    a flood costs the web no parsing.  ``model_ref``: the model named in the URL, if
    any (its meter)."""

    def meter_of() -> str | None:
        return selectors.served_model_get(tenant, ref=model_ref).meter if model_ref else None

    refuse_known(tenant, meter_of=meter_of, api_key_ref=principal.api_key_public_id)


def _admit(
    tenant: Tenant,
    principal: ApiPrincipal,
    served: ServedModel,
    inputs: PendingImages | PredictInput,
    prediction_id: str,
) -> PredictInput:
    """Hold the images' cost against the spend cap, the key's quota and the queued-image
    limit, or refuse (402, 429) — counted, not decoded: a refused request decodes
    nothing.  Then decode the images; a bad one (400, 413, 415) ends the hold.

    Admitted, the hold ends when the worker stores the prediction; a lane entry that
    expires unclaimed ends it at its deadline."""
    inputs.check_headers()  # what the first bytes refuse costs no reservation
    reserve(
        tenant,
        hold_id=prediction_id,
        meter=served.meter,
        quantity=inputs.image_count,
        api_key_ref=principal.api_key_public_id,
        ttl_s=settings.INFERENCE_INPUT_TTL_S + HOLD_MARGIN_S,
    )
    try:
        return inputs.decode(served.input_size)
    except BaseException:
        release(tenant.pk, [prediction_id])
        raise


def predict_payload(
    tenant: Tenant,
    principal: ApiPrincipal,
    served: ServedModel,
    inputs: PredictInput,
    prediction_id: str,
    mode: str,
    request_id: str,
) -> dict:
    """What the worker needs besides the pixels: ids and the model's location
    (inference.lane carries both)."""
    return {
        "tenant_id": tenant.pk,
        "prediction_id": prediction_id,
        "mode": mode,
        "model": served.payload(),
        "top_k": inputs.top_k,
        "meter": served.meter,
        "api_key_ref": principal.api_key_public_id,
        "request_id": request_id,
    }


def prediction_run_sync(
    tenant: Tenant,
    *,
    principal: ApiPrincipal,
    served: ServedModel,
    inputs: PendingImages | PredictInput,
    request_id: str = "",
) -> SyncResult:
    """Reserve, decode and queue the images, and wait for the worker; it stores and
    meters the prediction."""
    prediction_id = new_public_id(Prediction.PUBLIC_ID_PREFIX)
    decoded = _admit(tenant, principal, served, inputs, prediction_id)
    try:
        lane.enqueue(
            predict_payload(tenant, principal, served, decoded, prediction_id, "sync", request_id),
            decoded.images,
        )
    except RedisError:
        release(tenant.pk, [prediction_id])
        raise ServiceUnavailable(LANE_DOWN, code="inference_unavailable") from None
    try:
        answer = wait_reply(prediction_id, settings.INFERENCE_SYNC_TIMEOUT_S)
    except RedisError:  # queued: the worker will store it, as after a timeout
        answer = None
    if answer is None:
        raise ApiError(
            f"The prediction did not finish within {settings.INFERENCE_SYNC_TIMEOUT_S:g}"
            f" s; it is still running as {prediction_id}: poll "
            f"GET /v1/predictions/{prediction_id}.",
            code="prediction_timeout",
            status=504,
        )
    if not isinstance(answer, dict) or answer.get("status") != Prediction.Status.SUCCEEDED:
        raise ApiError(
            "The prediction failed on the inference worker.", code="prediction_failed", status=500
        )
    answered = Prediction(
        tenant=tenant,
        public_id=prediction_id,
        model_ref=served.public_id,
        status=Prediction.Status.SUCCEEDED,
        image_count=len(decoded.images),
        top_k=decoded.top_k,
        results=answer["results"],
    )
    return SyncResult(prediction=answered, cold=bool(answer.get("cold")))


def prediction_submit_async(
    tenant: Tenant,
    *,
    principal: ApiPrincipal,
    served: ServedModel,
    inputs: PendingImages | PredictInput,
    request_id: str = "",
) -> Prediction:
    """Reserve, decode and queue the images; answer the prediction, still queued."""
    prediction_id = new_public_id(Prediction.PUBLIC_ID_PREFIX)
    decoded = _admit(tenant, principal, served, inputs, prediction_id)
    try:
        with transaction.atomic():
            prediction = Prediction.objects.create(
                tenant=tenant,
                public_id=prediction_id,
                model_ref=served.public_id,
                image_count=len(decoded.images),
                top_k=decoded.top_k,
                api_key_ref=principal.api_key_public_id,
            )
            payload = predict_payload(
                tenant, principal, served, decoded, prediction.public_id, "async", request_id
            )
        # After commit, so a worker never stores a prediction whose row was rolled back.
        lane.enqueue(payload, decoded.images)
    except RedisError:
        Prediction.objects.filter(public_id=prediction_id).delete()
        release(tenant.pk, [prediction_id])
        raise ServiceUnavailable(LANE_DOWN, code="inference_unavailable") from None
    except Exception:
        release(tenant.pk, [prediction_id])
        raise
    return prediction


@transaction.atomic
def model_version_activate(tenant: Tenant, *, actor, version: ModelVersion) -> ModelVersion:
    """Serve ``version`` under its family alias; the previous one stays for rollback."""
    family = ModelVersion.objects.select_for_update().filter(tenant=tenant, family=version.family)
    previous = [v.public_id for v in family if v.is_active and v.pk != version.pk]
    family.exclude(pk=version.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
    version.is_active = True
    audit(
        tenant,
        actor=actor,
        action="model.activated",
        target=version.public_id,
        family=version.family,
        previous=previous,
    )
    return version


FAMILY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"


@transaction.atomic
def model_version_create(
    tenant: Tenant,
    *,
    actor,
    family: str,
    base_model,
    kind: str,
    artifact_dir: Path,
    labels: list[str],
    input_shape: list[int],
    checksum: str,
    metrics: dict | None = None,
    source: dict | None = None,
) -> ModelVersion:
    """Store a trained artifact under the tenant and register it as the family's next version.

    The first version of a family becomes active; later ones wait for an explicit
    activation (older versions stay for rollback).
    """
    if not re.match(FAMILY_PATTERN, family):
        raise InvalidRequest(
            "A model family is 1-64 lowercase letters, digits or '-'.", param="suffix"
        )
    if BaseModel.objects.filter(name=family).exists():
        raise InvalidRequest(
            f"'{family}' is the name of a base model; choose another suffix.",
            code="suffix_taken",
            param="suffix",
        )
    latest = (
        ModelVersion.objects.select_for_update()
        .filter(tenant=tenant, family=family)
        .order_by("-version")
        .first()
    )
    version = ModelVersion(
        tenant=tenant,
        family=family,
        version=(latest.version + 1) if latest else 1,
        base_model=base_model,
        kind=kind,
        checksum=checksum,
        labels=labels,
        input_shape=input_shape,
        metrics=metrics or {},
        source=source or {},
        is_active=latest is None,
    )
    version.public_id = new_public_id(ModelVersion.PUBLIC_ID_PREFIX)
    version.artifact_key = tenant_key(tenant, "models", version.public_id)
    for path in sorted(Path(artifact_dir).iterdir()):
        if path.is_file():
            with path.open("rb") as handle:
                default_storage.save(f"{version.artifact_key}/{path.name}", File(handle))
    version.save()
    audit(
        tenant,
        actor=actor,
        action="model.created",
        target=version.public_id,
        family=family,
        version=version.version,
        kind=kind,
    )
    return version
