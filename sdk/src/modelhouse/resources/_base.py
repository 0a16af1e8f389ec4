"""What every resource shares: the client, and list pagination."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from modelhouse.types import Page, T

if TYPE_CHECKING:
    from modelhouse.client import Client


class Resource:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _get(self, path: str, cls: type[T], **params: Any) -> T:
        return cls.from_api(self._client.request_json("GET", path, params=params))

    def _page(
        self,
        path: str,
        cls: type[T],
        *,
        limit: int | None,
        starting_after: str | None,
        **params: Any,
    ) -> Page[T]:
        body = self._client.request_json(
            "GET", path, params={"limit": limit, "starting_after": starting_after, **params}
        )
        return Page([cls.from_api(item) for item in body["data"]], bool(body["has_more"]))

    def _iterate(self, path: str, cls: type[T], *, page_size: int = 100) -> Iterator[T]:
        """Every object of a list, fetching pages as the caller consumes them."""
        cursor = None
        while True:
            page = self._page(path, cls, limit=page_size, starting_after=cursor)
            yield from page.data
            if not page.has_more or not page.data:
                return
            cursor = page.data[-1].id
