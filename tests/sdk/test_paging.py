"""``list()`` walks every page of a list against the live app, fetching each page only
when the iteration reaches it; ``data`` and ``has_more`` stay those of the first page."""

from __future__ import annotations

import httpx
import pytest
from modelhouse import Client, CursorPage


@pytest.fixture
def sent(live_server, live_a):
    """A client on organisation A that has five keys (the fixture's and four more), and
    the requests it sent since they were created."""
    requests: list[httpx.Request] = []
    with (
        httpx.Client(event_hooks={"request": [requests.append]}) as http,
        Client(live_a.secret, base_url=live_server.url, http_client=http) as client,
    ):
        for i in range(4):
            client.api_keys.create(f"k{i}", ["read"])
        requests.clear()
        yield client, requests


def test_iterating_a_list_fetches_the_next_page_only_when_it_is_reached(sent):
    client, requests = sent
    page = client.api_keys.list(limit=2)
    assert isinstance(page, CursorPage)
    assert len(page.data) == 2 and page.has_more and page.has_next_page()
    assert len(requests) == 1

    keys = iter(page)
    first_two = [next(keys), next(keys)]
    assert first_two == page.data and len(requests) == 1  # nothing fetched ahead of need
    third = next(keys)
    assert len(requests) == 2
    assert requests[1].url.params["starting_after"] == page.data[-1].id
    assert requests[1].url.params["limit"] == "2"
    rest = list(keys)
    assert len(requests) == 3  # pages of 2, 2 and 1

    ids = [key.id for key in [*first_two, third, *rest]]
    assert len(ids) == len(set(ids)) == 5
    assert ids == [key.id for key in client.api_keys.list(limit=100).data]  # newest first
    assert page.data == first_two and page.has_more  # the first page is still the first


def test_pages_one_by_one_and_from_a_cursor(sent):
    client, _ = sent
    ids = [key.id for key in client.api_keys.list(limit=100).data]

    pages = list(client.api_keys.list(limit=2).iter_pages())
    assert [[key.id for key in p.data] for p in pages] == [ids[0:2], ids[2:4], ids[4:]]
    assert [p.has_more for p in pages] == [True, True, False]
    assert not pages[-1].has_next_page()
    with pytest.raises(RuntimeError, match="last page"):
        pages[-1].next_page()

    second = pages[0].next_page()
    assert [key.id for key in second.data] == ids[2:4]
    assert [key.id for key in pages[0].auto_paging_iter()] == ids
    assert [key.id for key in pages[1]] == ids[2:]  # a later page walks on from itself
    after = client.api_keys.list(limit=2, starting_after=ids[2])
    assert [key.id for key in after] == ids[3:]


def test_a_list_on_one_page_sends_one_request(sent):
    client, requests = sent
    page = client.api_keys.list()
    assert len(list(page)) == 5 and not page.has_more and not page.has_next_page()
    assert len(requests) == 1
    assert "starting_after" not in requests[0].url.params
