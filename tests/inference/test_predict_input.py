"""Every bad input is refused before anything is queued, and nothing is billed."""

import base64
import socket
import struct
import zlib

import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from billing.models import UsageEvent
from inference import lane
from inference.models import Prediction
from tests.images import jpeg, png


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def _queued_messages() -> int:
    return lane.redis_client().llen(lane.lane_key("inference"))


def _upload(*blobs, name="image.png"):
    return {"file": [SimpleUploadedFile(name, blob) for blob in blobs]}


BAD_UPLOADS = [
    ("not an image", _upload(b"hello, I am text"), 415, "unsupported_image_type"),
    ("truncated jpeg", _upload(jpeg()[:200]), 400, "image_undecodable"),
    ("truncated png", _upload(png()[:60]), 400, "image_undecodable"),
    ("decompression bomb", _upload(_png_claiming(100_000, 100_000)), 413, "image_too_many_pixels"),
    ("empty file", _upload(b""), 400, "image_empty"),
]


@pytest.mark.parametrize(
    ("case", "data", "status", "code"), BAD_UPLOADS, ids=[c[0] for c in BAD_UPLOADS]
)
def test_bad_upload_is_refused_before_queueing(tenant_a, base_model, case, data, status, code):
    before = _queued_messages()
    response = tenant_a.client.post(
        f"/v1/models/{base_model.public_id}/predict", data, format="multipart"
    )
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["param"] == "file[0]"
    assert error["message"].startswith("file[0]: ")
    assert _queued_messages() == before
    with tenant_a.context():
        assert not UsageEvent.objects.exists() and not Prediction.objects.exists()


def test_the_bad_image_among_good_ones_is_named(tenant_a, base_model):
    response = tenant_a.client.post(
        f"/v1/models/{base_model.public_id}/predict",
        _upload(png(), jpeg(), b"junk"),
        format="multipart",
    )
    assert response.status_code == 415 and response.json()["error"]["param"] == "file[2]"


@override_settings(INFERENCE_MAX_IMAGE_BYTES=1000)
def test_oversized_image_is_413(tenant_a, base_model):
    response = tenant_a.client.post(
        f"/v1/models/{base_model.public_id}/predict",
        _upload(png(size=(200, 200))),
        format="multipart",
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "image_too_large"


@override_settings(INFERENCE_MAX_IMAGES_PER_REQUEST=2)
def test_too_many_images_is_413(tenant_a, base_model):
    response = tenant_a.client.post(
        f"/v1/models/{base_model.public_id}/predict",
        _upload(png(), png(), png()),
        format="multipart",
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_many_images"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        (
            {"inputs": [{"image_base64": "%%%not base64"}]},
            "inputs[0].image_base64",
            "invalid_base64",
        ),
        ({"inputs": []}, "inputs", "missing_image"),
        ({"inputs": [{"url": "http://x"}]}, "inputs[0].image_base64", "missing_image"),
        (
            {"inputs": [{"image_base64": base64.b64encode(png()).decode()}], "top_k": 0},
            "top_k",
            "invalid_request",
        ),
    ],
)
def test_bad_json_input_is_400(tenant_a, base_model, body, param, code):
    response = tenant_a.client.post(
        f"/v1/models/{base_model.public_id}/predict", body, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert response.json()["error"]["code"] == code


def test_async_prediction_with_bad_input_creates_nothing(tenant_a, base_model):
    response = tenant_a.client.post(
        "/v1/predictions",
        {
            "model": base_model.public_id,
            "inputs": [{"image_base64": base64.b64encode(b"nope").decode()}],
        },
        format="json",
    )
    assert response.status_code == 415
    with tenant_a.context():
        assert not Prediction.objects.exists()


def test_unknown_model_is_404(tenant_a, base_model):
    response = tenant_a.client.post(
        "/v1/models/mdl_nope/predict", _upload(png()), format="multipart"
    )
    assert response.status_code == 404


def test_predict_needs_the_predict_scope(tenant_a, base_model):
    _, client = tenant_a.new_key(["read"])
    response = client.post(
        f"/v1/models/{base_model.public_id}/predict", _upload(png()), format="multipart"
    )
    assert response.status_code == 403


@pytest.fixture
def lane_down(monkeypatch):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = redis.Redis(port=port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(lane, "redis_client", lambda: down)


@pytest.mark.parametrize("path", ["/v1/models/{model}/predict", "/v1/predictions"])
def test_an_unreachable_queue_is_503_and_leaves_nothing(
    tenant_a, base_model, lane_down, path, monkeypatch
):
    data = {**_upload(png()), "model": base_model.public_id}
    response = tenant_a.client.post(
        path.format(model=base_model.public_id),
        data,
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="retry-me",
    )
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "inference_unavailable"
    with tenant_a.context():
        assert not Prediction.objects.exists() and not UsageEvent.objects.exists()

    if path == "/v1/predictions":  # the same key works once the queue is back
        monkeypatch.undo()
        before = _queued_messages()
        again = tenant_a.client.post(
            path,
            {**_upload(png()), "model": base_model.public_id},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="retry-me",
        )
        assert again.status_code == 202, again.content
        assert "Idempotent-Replayed" not in again and _queued_messages() == before + 1
        lane.redis_client().delete(lane.lane_key("inference"))  # no worker here to take it
