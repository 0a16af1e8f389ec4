"""Predictions through a real Celery inference worker on the committed base model."""

import base64
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.models import UsageEvent
from inference.models import Prediction
from tests.images import jpeg, png

pytestmark = pytest.mark.usefixtures("inference_worker")


def _files(*blobs, name="photo.exe"):
    return {"file": [SimpleUploadedFile(name, blob) for blob in blobs]}


def test_sync_prediction_is_stored_and_billed_once(live_a, live_base_model):
    response = live_a.client.post(
        f"/v1/models/{live_base_model.public_id}/predict",
        _files(png(seed=1), jpeg(seed=2)),
        format="multipart",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["object"] == "prediction" and body["model"] == live_base_model.public_id
    assert body["usage"] == {"images": 2} and len(body["results"]) == 2
    for result in body["results"]:
        assert result["label"] in live_base_model.labels
        assert result["top_k"][0] == {"label": result["label"], "score": result["score"]}
        assert len(result["top_k"]) == 3
        scores = [item["score"] for item in result["top_k"]]
        assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1
    assert response["X-Model-Cold"] in ("true", "false")
    with live_a.context():
        prediction = Prediction.objects.get(public_id=body["id"])
        assert prediction.status == "succeeded" and prediction.results == body["results"]
        usage = UsageEvent.objects.get()
    assert (usage.meter, usage.quantity, usage.model_ref) == (
        "images_base",
        2,
        live_base_model.public_id,
    )
    assert usage.api_key_ref == live_a.key.public_id


def test_json_base64_prediction_with_top_k(live_a, live_base_model):
    response = live_a.client.post(
        f"/v1/models/{live_base_model.name}/predict",
        {"inputs": [{"image_base64": base64.b64encode(png(seed=3)).decode()}], "top_k": 5},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert len(response.json()["results"][0]["top_k"]) == 5


def test_same_image_gives_the_same_answer_warm(live_a, live_base_model):
    url = f"/v1/models/{live_base_model.public_id}/predict"
    first = live_a.client.post(url, _files(png(seed=4)), format="multipart")
    second = live_a.client.post(url, _files(png(seed=4)), format="multipart")
    assert first.json()["results"] == second.json()["results"]
    assert second["X-Model-Cold"] == "false"


def test_async_prediction_can_be_polled(live_a, live_base_model):
    response = live_a.client.post(
        "/v1/predictions",
        {
            "model": live_base_model.public_id,
            "inputs": [{"image_base64": base64.b64encode(png(seed=5)).decode()}],
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    created = response.json()
    assert created["status"] == "queued" and created["id"].startswith("pred_")
    deadline = time.monotonic() + 30
    while True:
        polled = live_a.client.get(f"/v1/predictions/{created['id']}").json()
        if polled["status"] != "queued" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert polled["status"] == "succeeded" and len(polled["results"]) == 1
    assert polled["usage"] == {"images": 1}
    with live_a.context():
        assert UsageEvent.objects.get().idempotency_key == f"prediction:{created['id']}"


def test_another_tenants_prediction_is_404(live_a, live_b, live_base_model):
    response = live_a.client.post(
        f"/v1/models/{live_base_model.public_id}/predict", _files(png()), format="multipart"
    )
    prediction_id = response.json()["id"]
    assert live_b.client.get(f"/v1/predictions/{prediction_id}").status_code == 404
    assert live_a.client.get(f"/v1/predictions/{prediction_id}").status_code == 200


def test_concurrent_requests_are_each_billed_once(live_a, live_base_model):
    from concurrent.futures import ThreadPoolExecutor

    from tests.factories import api_client

    def call(seed):
        client = api_client(live_a.secret)
        return client.post(
            f"/v1/models/{live_base_model.public_id}/predict",
            _files(png(seed=seed)),
            format="multipart",
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(call, range(16)))
    assert statuses == [200] * 16
    with live_a.context():
        assert UsageEvent.objects.count() == 16
        assert sum(UsageEvent.objects.values_list("quantity", flat=True)) == 16


def test_a_tenant_head_model_is_served_by_id_and_by_family_alias(live_a, live_base_model):
    from tests.factories import make_model_version

    version = make_model_version(live_a, live_base_model, labels=("cat", "dog", "owl"))
    for model_id in (version.public_id, version.family):
        response = live_a.client.post(
            f"/v1/models/{model_id}/predict", _files(png(seed=7)), format="multipart"
        )
        assert response.status_code == 200, response.content
        assert response.json()["model"] == version.public_id
        assert response.json()["results"][0]["label"] in ("cat", "dog", "owl")
    with live_a.context():
        meters = set(UsageEvent.objects.values_list("meter", "model_ref"))
    assert meters == {("images_finetuned", version.public_id)}


def _lane_payload(handle, base_model, prediction_id: str, mode: str, count: int):
    import numpy as np

    from inference.inputs import PredictInput
    from inference.selectors import served_model_get
    from inference.services import predict_payload
    from tenants.authentication import ApiPrincipal

    with handle.context():
        served = served_model_get(handle.tenant, ref=base_model.public_id)
    principal = ApiPrincipal(
        tenant=handle.tenant,
        api_key_id=handle.key.pk,
        api_key_public_id=handle.key.public_id,
        scopes=frozenset(),
    )
    images = np.full((count, *served.input_size, 3), 127, dtype=np.uint8)
    return predict_payload(
        handle.tenant, principal, served, PredictInput(images, 3), prediction_id, mode, "req_lane"
    ), images


def test_a_duplicate_delivery_bills_once(live_a, live_base_model):
    from inference import lane
    from inference.exchange import wait_reply

    payload, images = _lane_payload(
        live_a, live_base_model, "pred_duplicate0000000000000", "sync", 2
    )
    lane.enqueue(payload, images)
    first = wait_reply(payload["prediction_id"], 30)
    lane.enqueue(payload, images)
    second = wait_reply(payload["prediction_id"], 30)
    assert first["status"] == second["status"] == "succeeded"
    assert second["results"] == first["results"]
    with live_a.context():
        assert list(UsageEvent.objects.values_list("quantity", flat=True)) == [2]


def test_an_entry_that_killed_workers_fails_unbilled_and_unreadable_ones_are_dropped(
    live_a, live_base_model
):
    from inference import lane
    from inference.exchange import wait_reply

    lane.redis_client().rpush(lane.lane_key("inference"), b"not a lane entry")
    payload, images = _lane_payload(
        live_a, live_base_model, "pred_poison00000000000000000", "sync", 1
    )
    lane.redis_client().rpush(
        lane.lane_key("inference"), lane.encode(payload, images, attempt=lane.MAX_ATTEMPTS)
    )
    reply = wait_reply(payload["prediction_id"], 30)
    assert reply["status"] == "failed" and reply["error"]["code"] == "prediction_failed"
    with live_a.context():
        stored = Prediction.objects.get(public_id=payload["prediction_id"])
        assert stored.status == "failed" and UsageEvent.objects.count() == 0
    # The worker lives on and serves the next request.
    response = live_a.client.post(
        f"/v1/models/{live_base_model.public_id}/predict", _files(png(seed=3)), format="multipart"
    )
    assert response.status_code == 200, response.content


def test_an_entry_older_than_its_time_to_live_fails_unbilled(live_a, live_base_model):
    import json

    from django.conf import settings

    from inference import lane
    from inference.exchange import wait_reply

    payload, images = _lane_payload(
        live_a, live_base_model, "pred_expired0000000000000000", "sync", 1
    )
    first, header, pixels = lane.encode(payload, images).split(b"\n", 2)
    stale = {**json.loads(header), "enqueued_at": time.time() - settings.INFERENCE_INPUT_TTL_S - 1}
    lane.redis_client().rpush(
        lane.lane_key("inference"), b"\n".join([first, json.dumps(stale).encode(), pixels])
    )
    reply = wait_reply(payload["prediction_id"], 30)
    assert reply["status"] == "failed" and reply["error"]["code"] == "input_expired"
    with live_a.context():
        assert Prediction.objects.get(public_id=payload["prediction_id"]).status == "failed"
        assert not UsageEvent.objects.exists()
