"""The client's options: ``max_retries`` counts the resends, and ``with_options`` copies a
client with some options changed, on the same connection pool."""

from __future__ import annotations

import contextlib

import httpx
import pytest
from modelhouse import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    APIConnectionError,
    APIError,
    Client,
    PermissionDeniedError,
    RateLimitError,
)

from tests.sdk.helpers import FailFirst


@contextlib.contextmanager
def _through(transport: httpx.BaseTransport, live_server, live_a, **options):
    """A client on organisation A whose requests go through ``transport``."""
    with (
        httpx.Client(transport=transport) as http,
        Client(live_a.secret, base_url=live_server.url, http_client=http, **options) as client,
    ):
        yield client


@pytest.mark.parametrize(("max_retries", "failures"), [(2, 2), (DEFAULT_MAX_RETRIES, 3)])
def test_up_to_max_retries_5xx_answers_are_resent(
    live_server, live_a, retry_waits, max_retries, failures
):
    transport = FailFirst(failures, status=503)
    with _through(transport, live_server, live_a, max_retries=max_retries) as client:
        assert client.ping()["object"] == "ping"
    assert len(transport.requests) == failures + 1
    assert len(retry_waits) == failures
    assert all(0 <= wait <= 0.5 * 2**attempt for attempt, wait in enumerate(retry_waits))


@pytest.mark.parametrize("max_retries", [0, 1])
def test_the_5xx_after_max_retries_resends_is_raised(live_server, live_a, retry_waits, max_retries):
    transport = FailFirst(max_retries + 1, status=503)
    with (
        _through(transport, live_server, live_a, max_retries=max_retries) as client,
        pytest.raises(APIError) as failed,
    ):
        client.ping()
    assert (failed.value.status, failed.value.code) == (503, "forced_503")
    assert len(transport.requests) == max_retries + 1 and len(retry_waits) == max_retries


def test_a_429_is_resent_after_its_retry_after_up_to_max_retries(live_server, live_a, retry_waits):
    transport = FailFirst(2, status=429, headers={"Retry-After": "7"})
    with _through(transport, live_server, live_a, max_retries=2) as client:
        assert client.ping()["object"] == "ping"
    assert retry_waits == [7.0, 7.0] and len(transport.requests) == 3

    retry_waits.clear()
    transport = FailFirst(1, status=429, headers={"Retry-After": "7"})
    with (
        _through(transport, live_server, live_a, max_retries=0) as client,
        pytest.raises(RateLimitError) as limited,
    ):
        client.ping()
    assert limited.value.retry_after == 7.0
    assert retry_waits == [] and len(transport.requests) == 1


def test_with_options_changes_what_it_names_and_keeps_the_rest():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"object": "ping"})

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        client = Client("mh_test_a", base_url="http://api.test", http_client=http)
        copy = client.with_options(
            api_key="mh_test_b", base_url="http://other.test/", timeout=5, max_retries=0
        )
        assert (copy.base_url, copy.timeout, copy.max_retries) == ("http://other.test", 5, 0)
        assert (client.base_url, client.timeout, client.max_retries) == (
            "http://api.test",
            DEFAULT_TIMEOUT,
            DEFAULT_MAX_RETRIES,
        )
        kept = copy.with_options(max_retries=1)  # what is not named stays the copy's
        assert (kept.base_url, kept.timeout, kept.max_retries) == ("http://other.test", 5, 1)
        copy.ping()
        client.ping()
    to_copy, to_client = seen
    assert str(to_copy.url) == "http://other.test/v1/ping"
    assert to_copy.headers["Authorization"] == "Bearer mh_test_b"
    assert to_copy.extensions["timeout"]["read"] == 5
    assert str(to_client.url) == "http://api.test/v1/ping"
    assert to_client.headers["Authorization"] == "Bearer mh_test_a"
    assert to_client.extensions["timeout"]["read"] == DEFAULT_TIMEOUT
    assert "mh_test" not in repr(copy)  # never the key


def test_copies_share_the_pool_and_only_the_original_closes_it():
    client = Client("mh_test_a", base_url="http://api.test")
    copy = client.with_options(timeout=1)
    assert copy._http is client._http
    copy.close()
    assert not client._http.is_closed
    client.close()
    assert client._http.is_closed


def test_with_options_against_the_live_app(client, live_server):
    reader = client.with_options(api_key=client.api_keys.create("reader", ["read"]).secret)
    assert reader.billing.retrieve().spend_cap_source == "plan"
    with pytest.raises(PermissionDeniedError):
        reader.api_keys.list()
    assert len(client.api_keys.list().data) == 2  # the original keeps its admin key

    nowhere = client.with_options(base_url="http://127.0.0.1:9", max_retries=0)  # discard port
    with pytest.raises(APIConnectionError):
        nowhere.ping()
    assert client.ping()["object"] == "ping"


def test_max_retries_must_not_be_negative():
    with pytest.raises(ValueError, match="max_retries"):
        Client("mh_test_a", max_retries=-1)
