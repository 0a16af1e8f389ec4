"""core.ratelimit beyond the per-key limits of tests/saas/test_api_conventions.py:
an unreachable Redis is a 503 with Retry-After (never a 500), peeking consumes
nothing, a refund gives an attempt back, and client addresses."""

import socket
import uuid

import pytest
import redis
from django.test import RequestFactory, override_settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from core import ratelimit
from core import redis as core_redis
from core.errors import ServiceUnavailable
from core.redis import Use
from tenants.models import ApiKey


@pytest.fixture
def counters_down(monkeypatch):
    """The counters' Redis (rate limits, spend totals) refuses connections."""
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = redis.Redis(port=port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    monkeypatch.setitem(core_redis._clients, Use.COUNTERS, down)
    ratelimit._script.cache_clear()
    ratelimit._refund_script.cache_clear()
    yield
    ratelimit._script.cache_clear()
    ratelimit._refund_script.cache_clear()


def test_an_unreachable_rate_limiter_is_503_with_retry_after(tenant_a, counters_down):
    response = tenant_a.client.get("/v1/api-keys")
    assert response.status_code == 503, response.content
    assert response.json()["error"] == {
        "type": "api_error",
        "code": "service_unavailable",
        "message": "Rate limits cannot be checked right now; retry shortly.",
        "param": None,
    }
    assert int(response["Retry-After"]) >= 1


def test_an_unreachable_rate_limiter_runs_no_handler(tenant_a, counters_down):
    response = tenant_a.client.post(
        "/v1/api-keys", {"name": "during-outage", "scopes": ["read"]}, format="json"
    )
    assert response.status_code == 503
    with tenant_a.context():
        assert not ApiKey.objects.filter(name="during-outage").exists()


def _bucket(limit=2, period_s=60) -> ratelimit.Bucket:
    return ratelimit.Bucket(f"test:{uuid.uuid4().hex}", limit, period_s)


def test_peeking_consumes_nothing(db):
    bucket = _bucket(limit=1)
    for _ in range(3):
        assert ratelimit.check([bucket], consume=False).allowed
    assert ratelimit.check([bucket]).allowed
    assert not ratelimit.check([bucket], consume=False).allowed


def test_a_refund_gives_the_attempt_back(db):
    bucket = _bucket(limit=2)
    assert ratelimit.check([bucket]).allowed and ratelimit.check([bucket]).allowed
    assert not ratelimit.check([bucket]).allowed
    ratelimit.refund([bucket])
    assert ratelimit.check([bucket]).allowed
    assert not ratelimit.check([bucket]).allowed


def test_a_refund_with_redis_down_is_503_too(counters_down):
    with pytest.raises(ServiceUnavailable):
        ratelimit.refund([_bucket()])


@pytest.mark.parametrize(
    ("remote", "forwarded", "hops", "expected"),
    [
        ("203.0.113.9", "198.51.100.1", 0, "203.0.113.9"),  # no proxy trusted: forged header
        ("10.0.0.2", "198.51.100.1, 192.0.2.7", 1, "192.0.2.7"),
        ("10.0.0.2", "198.51.100.1, 192.0.2.7", 2, "198.51.100.1"),
        ("10.0.0.2", "", 1, "10.0.0.2"),  # not through the proxy
        ("2001:db8:1:2:3:4:5:6", "", 0, "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "", 0, "192.0.2.1"),
        ("garbage", "", 0, "unknown"),
    ],
)
def test_client_ip(remote, forwarded, hops, expected):
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(TRUSTED_PROXY_HOPS=hops):
        assert ratelimit.client_ip(request) == expected
