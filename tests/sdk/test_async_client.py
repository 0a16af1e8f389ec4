"""``AsyncClient`` against the live app: the calls, paging, errors and retries of
``Client``, awaited.  Each test runs its scenario in its own loop with ``asyncio.run``
(no async test plugin needed); the live server answers from its own thread."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from modelhouse import (
    APIError,
    AsyncClient,
    AsyncCursorPage,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
)

from tests.sdk.helpers import AsyncFailFirst, write_dataset


class AsyncLoseFirstAnswer(httpx.AsyncHTTPTransport):
    """Delivers every request to the real server, but drops the first answer to a POST."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.method == "POST":
            self.posts.append(request)
            if len(self.posts) == 1:
                await response.aread()
                raise httpx.ReadError("connection reset after the server answered")
        return response


def test_ping_and_the_resources_answer_as_in_the_sync_client(client, live_server, live_a):
    async def scenario():
        async with AsyncClient(live_a.secret, base_url=live_server.url) as aclient:
            pong = await aclient.ping()
            report = await aclient.usage.retrieve(group_by="meter")
            account = await aclient.billing.retrieve()
            key = await aclient.api_keys.create("from async", ["read"])
            return pong, report, account, key

    pong, report, account, key = asyncio.run(scenario())
    assert pong == client.ping()
    assert report.group_by == "meter" and report.data == []
    assert account.spend_cap_source == "plan"
    assert (
        key.secret.startswith(key.prefix) and client.api_keys.retrieve(key.id).name == "from async"
    )


def test_async_for_walks_every_page_fetching_each_when_reached(client, live_server, live_a):
    for i in range(4):
        client.api_keys.create(f"k{i}", ["read"])
    ids = [key.id for key in client.api_keys.list(limit=100).data]
    requests: list[httpx.Request] = []

    async def note(request: httpx.Request) -> None:
        requests.append(request)

    async def scenario():
        async with (
            httpx.AsyncClient(event_hooks={"request": [note]}) as http,
            AsyncClient(live_a.secret, base_url=live_server.url, http_client=http) as aclient,
        ):
            listed = aclient.api_keys.list(limit=2)
            assert requests == []  # nothing is sent before it is awaited or iterated
            walked = [key.id async for key in listed]
            pages_sent = len(requests)

            first = await aclient.api_keys.list(limit=2)
            assert isinstance(first, AsyncCursorPage)
            sizes = [len(page.data) async for page in first.iter_pages()]
            second = await first.next_page()
            from_first = [key.id async for key in first.auto_paging_iter()]
            return walked, pages_sent, first, sizes, second, from_first

    walked, pages_sent, first, sizes, second, from_first = asyncio.run(scenario())
    assert walked == ids and len(ids) == 5 and pages_sent == 3
    assert requests[1].url.params["starting_after"] == ids[1]
    assert [key.id for key in first.data] == ids[:2] and first.has_more
    assert sizes == [2, 2, 1]
    assert [key.id for key in second.data] == ids[2:4]
    assert from_first == ids


def test_errors_map_to_the_same_exceptions(client, live_server, live_a):
    reader_secret = client.api_keys.create("reader", ["read"]).secret

    async def scenario():
        async with AsyncClient(live_a.secret, base_url=live_server.url) as aclient:
            with pytest.raises(NotFoundError) as missing:
                await aclient.datasets.retrieve("ds_doesnotexist")
            with pytest.raises(PermissionDeniedError) as denied:
                await aclient.with_options(api_key=reader_secret).api_keys.list()
        async with AsyncClient("mh_test_not-a-key", base_url=live_server.url) as stranger:
            with pytest.raises(AuthenticationError) as refused:
                await stranger.ping()
        return missing.value, denied.value, refused.value

    missing, denied, refused = asyncio.run(scenario())
    assert (missing.status, missing.code) == (404, "resource_missing")
    assert missing.request_id.startswith("req_")
    assert denied.code == "insufficient_scope"
    assert refused.type == "authentication_error" and refused.request_id


def test_5xx_answers_are_resent_up_to_max_retries(live_server, live_a, retry_waits):
    async def ping_through(transport: AsyncFailFirst, max_retries: int):
        async with (
            httpx.AsyncClient(transport=transport) as http,
            AsyncClient(
                live_a.secret, base_url=live_server.url, http_client=http, max_retries=max_retries
            ) as aclient,
        ):
            return await aclient.ping()

    recovered = AsyncFailFirst(2, status=502)
    assert asyncio.run(ping_through(recovered, 2))["object"] == "ping"
    assert len(recovered.requests) == 3 and len(retry_waits) == 2

    retry_waits.clear()
    exhausted = AsyncFailFirst(2, status=502)
    with pytest.raises(APIError) as failed:
        asyncio.run(ping_through(exhausted, 1))
    assert failed.value.status == 502
    assert len(exhausted.requests) == 2 and len(retry_waits) == 1


def test_a_post_whose_answer_is_lost_is_resent_with_its_key_and_done_once(
    client, live_server, live_a, retry_waits
):
    transport = AsyncLoseFirstAnswer()

    async def scenario():
        async with (
            httpx.AsyncClient(transport=transport) as http,
            AsyncClient(live_a.secret, base_url=live_server.url, http_client=http) as aclient,
        ):
            return await aclient.api_keys.create("ci", ["read"])

    key = asyncio.run(scenario())
    first, resent = transport.posts
    assert first.headers["Idempotency-Key"] == resent.headers["Idempotency-Key"]
    assert key.secret == "[redacted]" and len(retry_waits) == 1  # the replay hides the secret
    assert [k.name for k in client.api_keys.list()].count("ci") == 1


def test_a_folder_is_uploaded_with_progress(client, live_server, live_a, tmp_path):
    folder = write_dataset(tmp_path / "pets", {"cat": 2, "dog": 2})
    progress: list[tuple[int, int]] = []

    async def scenario():
        async with AsyncClient(live_a.secret, base_url=live_server.url) as aclient:
            return await aclient.datasets.create(
                folder, name="pets", on_progress=lambda sent, total: progress.append((sent, total))
            )

    dataset = asyncio.run(scenario())
    assert (dataset.status, dataset.name) == ("processing", "pets")
    assert progress[-1] == (dataset.bytes, dataset.bytes)
    assert [d.id for d in client.datasets.list()] == [dataset.id]
