"""Strings PostgreSQL refuses (NUL, unpaired surrogates) and malformed request lines
are a 400 naming the parameter, before anything reaches the database: query and
path parameters, the headers the API reads, JSON at any depth (keys included) and
multipart fields (core.api.untrusted, checked by TenantAPIView)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIRequestFactory

from core.models import IdempotencyRecord
from tenants.api.views import ApiKeyListCreate
from tenants.models import ApiKey
from tests.images import png


def _refused(response, param):
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    return error


def _keys(handle) -> int:
    with handle.context():
        return ApiKey.objects.count()


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/v1/models?starting_after=%00abc&limit=41", "starting_after"),
        ("/v1/api-keys?limit=2&starting_after=key_%00", "starting_after"),
        ("/v1/api-keys?a%00b=1", "a\\x00b"),
        ("/v1/api-keys/%00", "key_id"),
        ("/v1/models/mdl_%00", "model_id"),
        ("/v1/invoices/inv_1/lines/%00/events", "line_id"),
    ],
)
def test_a_nul_in_a_query_or_path_parameter_is_400_naming_it(tenant_a, path, param):
    error = _refused(tenant_a.client.get(path), param)
    assert error["code"] == "invalid_characters" and "NUL" in error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "a\x00b", "scopes": ["read"]}, "name"),
        ({"name": "x", "scopes": ["read", "\x00"]}, "scopes.1"),
        ({"na\x00me": "x", "scopes": ["read"]}, "na\\x00me"),
        ({"name": "x", "scopes": ["read"], "extra": {"deep": [{"er": "\x00"}]}}, "extra.deep.0.er"),
    ],
)
def test_a_nul_anywhere_in_a_json_body_is_400_naming_it_and_writes_nothing(tenant_a, body, param):
    before = _keys(tenant_a)
    response = tenant_a.client.post(
        "/v1/api-keys", body, format="json", HTTP_IDEMPOTENCY_KEY=f"nul-{param}"
    )
    _refused(response, param)
    assert _keys(tenant_a) == before


def test_an_unpaired_surrogate_in_json_is_400(tenant_a):
    body = '{"name": "\\ud800", "scopes": ["read"]}'
    response = tenant_a.client.post("/v1/api-keys", body, content_type="application/json")
    assert "surrogate" in _refused(response, "name")["message"]


def test_a_nul_in_a_prediction_input_names_its_place(tenant_a, base_model):
    body = {"inputs": [{"image_base64": "iVBORw0KGgo"}, {"image_base64": "abc\x00"}]}
    response = tenant_a.client.post(
        f"/v1/models/{base_model.public_id}/predict", body, format="json"
    )
    _refused(response, "inputs.1.image_base64")


def test_a_nul_in_a_multipart_field_or_field_name_is_400(tenant_a, base_model):
    upload = SimpleUploadedFile("image.png", png())
    response = tenant_a.client.post(
        "/v1/predictions", {"model": "mdl_\x00", "file": upload}, format="multipart"
    )
    _refused(response, "model")
    upload.seek(0)
    response = tenant_a.client.post(
        "/v1/predictions",
        {"model": base_model.public_id, "fi\x00le": upload},
        format="multipart",
    )
    _refused(response, "fi\\x00le")


def test_a_nul_in_the_idempotency_key_is_400_and_stores_no_record(tenant_a):
    response = tenant_a.client.post(
        "/v1/api-keys",
        {"name": "x", "scopes": ["read"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="retry\x00me",
    )
    _refused(response, "Idempotency-Key")
    with tenant_a.context():
        assert not IdempotencyRecord.objects.exists()
        assert not ApiKey.objects.filter(name="x").exists()


def test_a_nul_in_the_request_id_is_400_and_not_echoed(tenant_a):
    response = tenant_a.client.get("/v1/api-keys", HTTP_X_REQUEST_ID="trace-\x00-0001")
    _refused(response, "X-Request-Id")
    assert response["X-Request-Id"].startswith("req_")


def test_json_nested_past_the_decoder_is_400_not_500(tenant_a):
    body = "[" * 100_000 + "]" * 100_000
    response = tenant_a.client.post("/v1/api-keys", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "parse_error"


@pytest.mark.parametrize(
    "query",
    ["starting_after=%FF%FE", "starting_after=\xff\xfe", "limit=%C3%28"],
    ids=["percent-encoded", "raw bytes", "overlong"],
)
def test_invalid_utf8_in_the_query_string_is_a_4xx(tenant_a, query):
    response = tenant_a.client.get("/v1/api-keys", QUERY_STRING=query)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["param"] in ("starting_after", "limit")


def test_too_many_query_parameters_is_400_not_500(tenant_a):
    # Through the view itself: the contract recorder cannot read such a query either.
    query = "&".join(f"p{n}=1" for n in range(1_100))
    request = APIRequestFactory().get(
        f"/v1/api-keys?{query}", HTTP_AUTHORIZATION=f"Bearer {tenant_a.secret}"
    )
    response = ApiKeyListCreate.as_view()(request)
    assert response.status_code == 400, response.data
    assert response.data["error"]["code"] == "too_many_parameters"


def test_valid_unicode_passes(tenant_a):
    response = tenant_a.client.post(
        "/v1/api-keys", {"name": "clé 🔑 ключ", "scopes": ["read"]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert json.loads(response.content)["name"] == "clé 🔑 ключ"
