"""The predict path spends nothing on work billing refuses: images are counted and their
cost reserved before any is decoded (DESIGN.md §5), and the body is bounded before it is
read (core.uploads)."""

from __future__ import annotations

import base64
import io
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest
from django.test import RequestFactory
from django.test.client import BOUNDARY, encode_multipart
from django.utils import timezone
from PIL import Image

from billing.pricing.price_book import IMAGES_BASE
from billing.spend import enforcement
from inference import inputs, lane, services
from inference.models import Prediction
from tenants.models import Tenant
from tests.billing.helpers import record
from tests.factories import make_tenant
from tests.images import jpeg, png

PATHS = ["/v1/models/{model}/predict", "/v1/predictions"]


@pytest.fixture
def steps(monkeypatch):
    """What the predict path did, in order: "reserve" and one "decode" per image."""
    done = []
    reserve, load_image = services.reserve, inputs.load_image

    def recording_reserve(*args, **kwargs):
        done.append("reserve")
        return reserve(*args, **kwargs)

    def recording_load_image(*args, **kwargs):
        done.append("decode")
        return load_image(*args, **kwargs)

    monkeypatch.setattr(services, "reserve", recording_reserve)
    monkeypatch.setattr(inputs, "load_image", recording_load_image)
    return done


@pytest.fixture
def body_reads(monkeypatch):
    """Reads of request bodies (every parser reads through HttpRequest.read)."""
    reads = []
    read = HttpRequest.read

    def recording(self, *args, **kwargs):
        reads.append(self.path)
        return read(self, *args, **kwargs)

    monkeypatch.setattr(HttpRequest, "read", recording)
    return reads


def _post(handle, path: str, model, *, images, as_json: bool):
    url = path.format(model=model.public_id)
    extra = {} if "{model}" in path else {"model": model.public_id}
    if as_json:
        body = {"inputs": [{"image_base64": base64.b64encode(i).decode()} for i in images]}
        return handle.client.post(url, {**body, **extra}, format="json")
    files = [SimpleUploadedFile(f"{n}.png", i) for n, i in enumerate(images)]
    return handle.client.post(url, {"file": files, **extra}, format="multipart")


def blank_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def _queued() -> int:
    return lane.redis_client().llen(lane.lane_key("inference"))


def _assert_refused_undecoded(response, code: str, steps: list, before: int, handle) -> None:
    assert response.status_code == 402, response.content
    assert response.json()["error"]["code"] == code
    assert "decode" not in steps
    assert _queued() == before
    with handle.context():
        assert not Prediction.objects.exists()


@pytest.mark.parametrize("as_json", [False, True], ids=["multipart", "json"])
@pytest.mark.parametrize("path", PATHS)
def test_a_suspended_tenant_is_refused_without_decoding_an_image(
    tenant_a, base_model, steps, path, as_json
):
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(status=Tenant.Status.SUSPENDED)
    before = _queued()

    response = _post(tenant_a, path, base_model, images=[png(), jpeg()], as_json=as_json)

    _assert_refused_undecoded(response, "account_suspended", steps, before, tenant_a)


@pytest.mark.parametrize("path", PATHS)
def test_a_tenant_past_its_cap_is_refused_without_decoding_an_image(base_model, steps, path):
    free = make_tenant("Freebie", plan="free")
    record(free, IMAGES_BASE, 4_999, timezone.now() - timedelta(minutes=1))  # 1 image left
    before = _queued()

    response = _post(free, path, base_model, images=[png(), png()], as_json=False)

    _assert_refused_undecoded(response, "spend_cap_exceeded", steps, before, free)
    assert enforcement.held(free.tenant).meters.get(IMAGES_BASE, 0) == 0


def test_once_the_allowance_is_spent_a_flood_is_refused_before_its_body_is_read(
    base_model, body_reads, steps
):
    """On the route that names its model in the URL (its meter); /v1/predictions names
    it in the body, so there only a suspended tenant is refused before the body."""
    path = PATHS[0]
    free = make_tenant("Freebie", plan="free")
    record(free, IMAGES_BASE, 5_000, timezone.now() - timedelta(minutes=1))  # none left
    first = _post(free, path, base_model, images=[png()], as_json=False)
    assert first.status_code == 402, first.content
    read_by_first = len(body_reads)

    again = _post(free, path, base_model, images=[png()], as_json=True)

    assert again.status_code == 402, again.content
    assert again.json()["error"]["code"] == "spend_cap_exceeded"
    assert len(body_reads) == read_by_first  # the second body was never read
    assert steps == ["reserve"]  # the first request's refused reservation only


def test_images_are_reserved_before_they_are_decoded(tenant_a, base_model, steps):
    response = _post(tenant_a, PATHS[1], base_model, images=[png(), jpeg()], as_json=False)

    assert response.status_code == 202, response.content
    assert steps == ["reserve", "decode", "decode"]
    lane.redis_client().delete(lane.lane_key("inference"))  # no worker here to take it


@pytest.mark.parametrize("as_json", [False, True], ids=["multipart", "json"])
@pytest.mark.parametrize("path", PATHS)
def test_a_bad_image_found_after_the_reservation_ends_its_hold(
    tenant_a, base_model, steps, path, as_json
):
    truncated = png()[:200]  # its header is sound, its pixels are not there
    response = _post(tenant_a, path, base_model, images=[png(), truncated], as_json=as_json)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "image_undecodable"
    assert steps[0] == "reserve"
    assert enforcement.held(tenant_a.tenant).meters.get(IMAGES_BASE, 0) == 0
    with tenant_a.context():
        assert not Prediction.objects.exists()


@pytest.mark.parametrize(
    ("image", "status", "code"),
    [
        (b"junk", 415, "unsupported_image_type"),
        (blank_png(2_500, 2_000), 413, "image_too_many_pixels"),  # 5 MP in a few kB
    ],
    ids=["not-an-image", "too-many-pixels"],
)
@pytest.mark.parametrize("as_json", [False, True], ids=["multipart", "json"])
def test_what_an_images_header_refuses_reserves_nothing(
    tenant_a, base_model, steps, as_json, image, status, code
):
    response = _post(tenant_a, PATHS[0], base_model, images=[png(), image], as_json=as_json)

    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["param"] == ("inputs[1].image_base64" if as_json else "file[1]")
    assert steps == []  # neither reserved nor decoded


@pytest.mark.parametrize("path", PATHS)
def test_a_multipart_body_over_the_predict_limit_is_413_before_it_is_read(
    tenant_a, base_model, settings, body_reads, spooled, steps, path
):
    settings.INFERENCE_MAX_IMAGES_PER_REQUEST = 2
    settings.INFERENCE_MAX_IMAGE_BYTES = 10_000
    oversized = png(size=(200, 200))  # ~120 kB: over 2 images of 10 kB with their headers

    response = _post(tenant_a, path, base_model, images=[oversized], as_json=False)

    assert response.status_code == 413, response.content
    assert response.json()["error"]["code"] == "request_too_large"
    assert body_reads == [] and spooled == [] and steps == []


def test_a_json_body_over_the_predict_limit_is_413_before_it_is_read(
    tenant_a, base_model, settings, body_reads, steps
):
    settings.INFERENCE_MAX_IMAGES_PER_REQUEST = 2
    settings.INFERENCE_MAX_IMAGE_BYTES = 10_000
    oversized = png(size=(200, 200))

    response = _post(tenant_a, PATHS[0], base_model, images=[oversized], as_json=True)

    assert response.status_code == 413, response.content
    assert response.json()["error"]["code"] == "request_too_large"
    assert body_reads == [] and steps == []


def _image_of(size: int) -> io.BytesIO:
    upload = io.BytesIO(b"\xff" * size)
    upload.name = "image.jpg"
    return upload


@pytest.mark.parametrize("as_json", [False, True], ids=["multipart", "json"])
def test_the_body_limit_admits_the_most_images_of_the_most_bytes(settings, as_json):
    from inference.inputs import predict_body_limit

    settings.INFERENCE_MAX_IMAGES_PER_REQUEST = 64
    settings.INFERENCE_MAX_IMAGE_BYTES = 100_000
    model, top_k = "mdl_" + "x" * 24, "20"
    if as_json:
        image = base64.b64encode(b"\xff" * 100_000).decode()
        body = json.dumps(
            {"model": model, "top_k": top_k, "inputs": [{"image_base64": image}] * 64}
        ).encode()
        content_type = "application/json"
    else:
        files = [_image_of(100_000) for _ in range(64)]
        body = encode_multipart(BOUNDARY, {"model": model, "top_k": top_k, "file": files})
        content_type = f"multipart/form-data; boundary={BOUNDARY}"  # not the constant: sent as is
    request = RequestFactory().post("/v1/predictions", body, content_type=content_type)

    limit = predict_body_limit(request)

    assert len(body) <= limit < len(body) * 1.1  # room for the rest, and not much more
