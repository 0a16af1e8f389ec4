"""``/healthz`` is a free public liveness check; ``/healthz/details`` (database, Redis,
workers per queue) answers only operators: staff users or the operator token."""

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from core import worker_health
from tenants.models import User

TOKEN = "operator-token-for-tests"


@pytest.fixture
def redis_untouched(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("/healthz touched Redis")

    monkeypatch.setattr(worker_health, "client", refuse)
    monkeypatch.setattr(worker_health, "live_workers", refuse)


def test_healthz_is_liveness_only_no_query_no_redis_no_details(client, redis_untouched, db):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(queries) == 0


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"}],
)
@override_settings(HEALTH_DETAILS_TOKEN=TOKEN)
def test_details_refuse_strangers_and_run_no_check(client, redis_untouched, db, headers):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/healthz/details", **headers)
    assert response.status_code == 403
    assert response.json() == {"status": "forbidden"}
    assert len(queries) == 0


def test_details_refuse_a_logged_in_user_who_is_not_staff(client, redis_untouched, db):
    user = User.objects.create_user(email="member@example.com", password="x-long-password")
    client.force_login(user)
    assert client.get("/healthz/details").status_code == 403


def test_without_a_configured_token_no_bearer_is_accepted(client, redis_untouched, db):
    with override_settings(HEALTH_DETAILS_TOKEN=""):
        assert client.get("/healthz/details", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def _report(response) -> dict:
    assert response.status_code in (200, 503), response.content
    body = response.json()
    assert body["database"] == "ok" and body["redis"] == "ok"
    assert set(body["queues"]) == set(worker_health.QUEUES)
    return body


@override_settings(HEALTH_DETAILS_TOKEN=TOKEN)
def test_details_for_the_operator_token(client, db):
    body = _report(client.get("/healthz/details", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))
    # no worker runs in this test: the report says so, and so does the status
    assert body["status"] == "unavailable"


def test_details_for_a_staff_user(client, db):
    staff = User.objects.create_user(
        email="operator@example.com", password="x-long-password", is_staff=True
    )
    client.force_login(staff)
    _report(client.get("/healthz/details"))


def test_details_name_a_failing_part(client, db, monkeypatch):
    def down():
        raise ConnectionError("down")

    monkeypatch.setattr(worker_health, "live_workers", down)
    with override_settings(HEALTH_DETAILS_TOKEN=TOKEN):
        response = client.get("/healthz/details", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 503
    assert response.json()["redis"] == "error: ConnectionError"
