from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import IdempotencyRecord
from tenants import api_keys, services
from tenants.authentication import LAST_USED_RESOLUTION
from tenants.models import ApiKey, AuditEvent
from tests.factories import api_client


def test_key_format_carries_environment_and_checksum():
    new = api_keys.generate("test")
    assert new.secret.startswith(f"{new.prefix}_") and new.prefix.startswith("mh_test_")
    assert api_keys.parse(new.secret) == (new.prefix, "test")
    typo = new.secret[:-8] + ("A" if new.secret[-8] != "A" else "B") + new.secret[-7:]
    assert api_keys.parse(typo) is None
    assert api_keys.parse("sk_live_abc") is None


def test_mistyped_key_is_refused_without_a_database_query(tenant_a):
    bad = tenant_a.secret[:-1] + ("x" if tenant_a.secret[-1] != "x" else "y")
    with CaptureQueriesContext(connection) as queries:
        response = api_client(bad).get("/v1/api-keys")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert len(queries) == 0


def test_missing_key_is_401(db):
    from rest_framework.test import APIClient

    response = APIClient().get("/v1/api-keys")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"


def test_create_shows_secret_once_and_stores_only_digest(tenant_a):
    response = tenant_a.client.post(
        "/v1/api-keys",
        {"name": "ci", "scopes": ["predict"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert response.status_code == 201
    body = response.json()
    secret = body["secret"]
    assert body["id"].startswith("key_") and body["scopes"] == ["predict"]
    assert api_client(secret).get("/v1/api-keys").status_code == 403  # works, lacks admin
    replay = tenant_a.client.post(
        "/v1/api-keys",
        {"name": "ci", "scopes": ["predict"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert replay.json()["id"] == body["id"] and replay.json()["secret"] == "[redacted]"
    with tenant_a.context():
        key = ApiKey.objects.get(public_id=body["id"])
        assert key.digest == api_keys.digest(secret)
        stored = [str(row) for row in ApiKey.objects.values_list()]
        stored += [str(row) for row in AuditEvent.objects.values_list()]
        stored += [bytes(r.response_body).decode() for r in IdempotencyRecord.objects.all()]
    assert not any(secret in text or secret[-38:] in text for text in stored)
    assert "get" not in body


def test_secret_never_reaches_the_logs(tenant_a, caplog):
    caplog.set_level("DEBUG")
    response = tenant_a.client.post(
        "/v1/api-keys", {"name": "x", "scopes": ["read"]}, format="json"
    )
    secret = response.json()["secret"]
    api_client(secret).get("/v1/api-keys")
    assert secret not in caplog.text


def test_revoked_key_gets_401_on_its_next_request(tenant_a):
    key, client = tenant_a.new_key(["admin"])
    assert client.get("/v1/api-keys").status_code == 200
    assert tenant_a.client.delete(f"/v1/api-keys/{key.public_id}").status_code == 200
    response = client.get("/v1/api-keys")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"


def test_expired_key_gets_401(tenant_a):
    key, client = tenant_a.new_key(["admin"], expires_at=timezone.now() + timedelta(hours=1))
    assert client.get("/v1/api-keys").status_code == 200
    with tenant_a.context():
        ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/v1/api-keys")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_expired"


@pytest.mark.parametrize("scopes", [["read"], ["predict", "train"]])
def test_key_without_admin_scope_gets_403_and_changes_nothing(tenant_a, scopes):
    _, client = tenant_a.new_key(scopes)
    response = client.post("/v1/api-keys", {"name": "sneaky", "scopes": ["admin"]}, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == {
        "type": "permission_error",
        "code": "insufficient_scope",
        "message": "This API key lacks the 'admin' scope.",
        "param": None,
    }
    with tenant_a.context():
        assert not ApiKey.objects.filter(name="sneaky").exists()


def test_last_used_at_is_written_at_most_once_a_minute(tenant_a):
    key, client = tenant_a.new_key(["admin"])
    client.get("/v1/api-keys")
    with tenant_a.context():
        first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    client.get("/v1/api-keys")
    with tenant_a.context():
        assert ApiKey.objects.get(pk=key.pk).last_used_at == first
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - LAST_USED_RESOLUTION)
    client.get("/v1/api-keys")
    with tenant_a.context():
        assert ApiKey.objects.get(pk=key.pk).last_used_at > first


def test_invalid_create_input_names_the_problem_and_writes_nothing(tenant_a):
    response = tenant_a.client.post("/v1/api-keys", {"name": "x", "scopes": []}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "scopes"
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = tenant_a.client.post(
        "/v1/api-keys", {"name": "x", "scopes": ["read"], "expires_at": past}, format="json"
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "expires_at"
    with tenant_a.context():
        assert ApiKey.objects.count() == 1


def test_revocation_is_audited(tenant_a):
    key, _ = tenant_a.new_key(["read"])
    tenant_a.client.delete(f"/v1/api-keys/{key.public_id}")
    with tenant_a.context():
        event = AuditEvent.objects.get(action="api_key.revoked")
    assert event.target == key.public_id and event.actor == f"key:{tenant_a.key.public_id}"


def test_service_rejects_unknown_scopes(tenant_a):
    from core.errors import InvalidRequest

    with tenant_a.context(), pytest.raises(InvalidRequest, match="bogus"):
        services.api_key_create(tenant_a.tenant, actor=tenant_a.owner, name="x", scopes=["bogus"])
