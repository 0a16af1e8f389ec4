"""API.md's conventions, done once in the base view, checked on the key endpoints."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tenants.models import ApiKey


def test_every_response_has_a_request_id(tenant_a):
    assert tenant_a.client.get("/v1/api-keys")["X-Request-Id"].startswith("req_")
    assert APIClient().get("/v1/api-keys")["X-Request-Id"].startswith("req_")
    assert APIClient().get("/healthz")["X-Request-Id"]
    echoed = tenant_a.client.get("/v1/api-keys", HTTP_X_REQUEST_ID="client-trace-123")
    assert echoed["X-Request-Id"] == "client-trace-123"


def test_errors_have_the_documented_shape(tenant_a):
    response = tenant_a.client.get("/v1/api-keys/key_doesnotexist")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "message": "No such api key: 'key_doesnotexist'",
            "param": "id",
        }
    }


def test_rate_limit_headers_on_authenticated_responses(tenant_a):
    response = tenant_a.client.get("/v1/api-keys")
    assert int(response["X-RateLimit-Limit"]) > 0
    assert int(response["X-RateLimit-Remaining"]) < int(response["X-RateLimit-Limit"])
    assert "X-RateLimit-Reset" in response


@override_settings(RATE_LIMIT_PER_KEY=3)
def test_rate_limit_answers_429_with_retry_after(tenant_a):
    _, client = tenant_a.new_key(["admin"])
    statuses = [client.get("/v1/api-keys").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    response = client.get("/v1/api-keys")
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert int(response["Retry-After"]) >= 1
    assert response["X-RateLimit-Remaining"] == "0"
    # another key of the same tenant has its own bucket
    assert tenant_a.client.get("/v1/api-keys").status_code == 200


def test_pagination_with_cursor(tenant_a):
    for _ in range(4):
        tenant_a.new_key(["read"])
    first = tenant_a.client.get("/v1/api-keys?limit=2").json()
    assert first["object"] == "list" and len(first["data"]) == 2 and first["has_more"]
    second = tenant_a.client.get(
        f"/v1/api-keys?limit=2&starting_after={first['data'][-1]['id']}"
    ).json()
    third = tenant_a.client.get(
        f"/v1/api-keys?limit=2&starting_after={second['data'][-1]['id']}"
    ).json()
    ids = [k["id"] for page in (first, second, third) for k in page["data"]]
    assert len(ids) == len(set(ids)) == 5 and not third["has_more"]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "starting_after=key_nope"])
def test_bad_pagination_parameters_are_400(tenant_a, query):
    response = tenant_a.client.get(f"/v1/api-keys?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["param"] in ("limit", "starting_after")


def test_idempotency_key_with_different_body_is_409_and_does_nothing(tenant_a):
    first = tenant_a.client.post(
        "/v1/api-keys",
        {"name": "a", "scopes": ["read"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="same",
    )
    assert first.status_code == 201
    second = tenant_a.client.post(
        "/v1/api-keys",
        {"name": "b", "scopes": ["read"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="same",
    )
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "idempotency_key_reused"
    with tenant_a.context():
        assert list(ApiKey.objects.filter(name__in=["a", "b"]).values_list("name", flat=True)) == [
            "a"
        ]


def test_idempotency_replays_errors_too(tenant_a):
    body = {"name": "a", "scopes": ["bogus"]}
    first = tenant_a.client.post("/v1/api-keys", body, format="json", HTTP_IDEMPOTENCY_KEY="e")
    again = tenant_a.client.post("/v1/api-keys", body, format="json", HTTP_IDEMPOTENCY_KEY="e")
    assert first.status_code == again.status_code == 400
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()


def test_idempotency_keys_are_per_tenant(tenant_a, tenant_b):
    body = {"name": "x", "scopes": ["read"]}
    a = tenant_a.client.post("/v1/api-keys", body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    b = tenant_b.client.post("/v1/api-keys", body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]


def test_openapi_document_and_docs_page(db):
    client = APIClient()
    schema = client.get("/v1/openapi.json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.") and "/v1/api-keys" in document["paths"]
    assert "ApiKey" in document["components"]["securitySchemes"]
    docs = client.get("/docs/")
    assert docs.status_code == 200 and b"redoc" in docs.content.lower()


def test_ping_answers_any_valid_key_with_its_organisation(tenant_a):
    _, client = tenant_a.new_key(["predict"])
    response = client.get("/v1/ping")
    assert response.status_code == 200
    assert response.json() == {"object": "ping", "organization": tenant_a.tenant.public_id}
    assert APIClient().get("/v1/ping").status_code == 401
