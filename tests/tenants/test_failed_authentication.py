"""Failed authentications are limited per client address, before the key's look-up,
at no cost to clients that do not fail; a key is refused by a deployment of the
other environment (mh_test_ vs mh_live_) before any look-up."""

import secrets

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from core import ratelimit
from tenants import api_keys
from tests.factories import api_client

LIMIT = 3


@pytest.fixture
def address() -> str:
    """An address no other test fails from (buckets and suspicions outlive a test)."""
    return f"2001:db8:{secrets.randbelow(0xFFFF):x}:{secrets.randbelow(0xFFFF):x}::1"


def _fake_key() -> str:
    """Well formed, valid checksum, this environment: only the database can refuse it."""
    return api_keys.generate("test").secret


@override_settings(AUTH_FAILURES_PER_IP_PER_MINUTE=LIMIT)
def test_past_the_limit_a_client_gets_429_before_any_query(tenant_a, address):
    for _ in range(LIMIT):
        response = api_client(_fake_key()).get("/v1/ping", REMOTE_ADDR=address)
        assert response.status_code == 401
    with CaptureQueriesContext(connection) as queries:
        response = api_client(_fake_key()).get("/v1/ping", REMOTE_ADDR=address)
    assert response.status_code == 429, response.content
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert int(response["Retry-After"]) >= 1 and response["X-RateLimit-Remaining"] == "0"
    assert len(queries) == 0
    # the address is refused whatever it sends; another address is not
    assert tenant_a.client.get("/v1/ping", REMOTE_ADDR=address).status_code == 429
    assert tenant_a.client.get("/v1/ping", REMOTE_ADDR="192.0.2.200").status_code == 200


@override_settings(AUTH_FAILURES_PER_IP_PER_MINUTE=LIMIT)
def test_malformed_revoked_and_wrong_environment_keys_count_too(tenant_a, address):
    revoked, _ = tenant_a.new_key(["read"])
    tenant_a.client.delete(f"/v1/api-keys/{revoked.public_id}")
    with override_settings(API_KEY_ENVIRONMENT="live"):
        live_key = api_keys.generate("live").secret
    for secret in ("not-a-key", live_key, tenant_a.secret[:-1] + "x"):
        assert api_client(secret).get("/v1/ping", REMOTE_ADDR=address).status_code == 401
    assert api_client(_fake_key()).get("/v1/ping", REMOTE_ADDR=address).status_code == 429


def test_a_client_that_never_fails_costs_one_redis_call(tenant_a, address, monkeypatch):
    calls = []
    check = ratelimit.check

    def counting(buckets, **kwargs):
        calls.append([bucket.key for bucket in buckets])
        return check(buckets, **kwargs)

    monkeypatch.setattr(ratelimit, "check", counting)
    assert tenant_a.client.get("/v1/ping", REMOTE_ADDR=address).status_code == 200
    assert len(calls) == 1 and calls[0][0].startswith("key:")  # the key's own rate limit


def test_a_missing_key_is_not_a_failure(db, address, monkeypatch):
    monkeypatch.setattr(ratelimit, "check", lambda *a, **k: pytest.fail("counted"))
    from rest_framework.test import APIClient

    assert APIClient().get("/v1/ping", REMOTE_ADDR=address).status_code == 401


def test_a_test_key_is_refused_by_a_live_deployment_without_a_query(tenant_a):
    with override_settings(API_KEY_ENVIRONMENT="live"), CaptureQueriesContext(connection) as q:
        response = tenant_a.client.get("/v1/ping")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "api_key_wrong_environment"
    assert "test API key" in error["message"] and "live" in error["message"]
    assert len(q) == 0


def test_a_live_key_is_refused_by_a_test_deployment(tenant_a):
    with override_settings(API_KEY_ENVIRONMENT="live"):
        key, client = tenant_a.new_key(["read"])
        assert key.prefix.startswith("mh_live_")
        assert client.get("/v1/ping").status_code == 200
    response = client.get("/v1/ping")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_wrong_environment"
