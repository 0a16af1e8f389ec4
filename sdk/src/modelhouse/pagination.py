"""Pages of lists, and walking every page of a list as one sequence.

The API pages lists with ``?limit=`` and the cursor ``?starting_after=<id>``
(``{"object": "list", "data": [...], "has_more": bool}``, newest first).  A
resource's ``list()`` answers the first page as a :class:`CursorPage`; iterating
it yields every object of the list, fetching each further page only when the
iteration reaches it::

    page = client.api_keys.list(limit=20)
    page.data, page.has_more          # the first page alone
    for key in page:                   # every key, 20 a request
        ...

The async client's ``list()`` answers an :class:`AsyncPaginator`: ``await`` it for
the first page, or ``async for`` over it for every object.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from modelhouse.types import APIObject

if TYPE_CHECKING:
    from modelhouse._calls import Call
    from modelhouse.async_client import AsyncClient
    from modelhouse.client import Client

T = TypeVar("T", bound=APIObject)


class Page(Generic[T]):
    """One answer of a list: ``data`` and whether the list goes on (``has_more``).

    Iterating it yields ``data``: a :class:`Page` fetches nothing more.  Answers that
    are a whole list at once (``billing.set_key_quota``) are plain pages.
    """

    def __init__(self, data: list[T], has_more: bool) -> None:
        self.data = data
        self.has_more = has_more

    @classmethod
    def from_api(cls, body: dict[str, Any], item_cls: type[T]) -> Self:
        return cls([item_cls.from_api(item) for item in body["data"]], bool(body["has_more"]))

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def __repr__(self) -> str:
        return _describe(self)


class _CursorPage(Generic[T]):
    """A page that knows the call that fetched it, so it can fetch the one after it.

    Not a :class:`Page`: iterating a cursor page walks the whole list, not ``data``.
    """

    def __init__(self, first: Page[T], call: Call[Page[T]]) -> None:
        self.data = first.data
        self.has_more = first.has_more
        self._call = call

    def __repr__(self) -> str:
        return _describe(self)

    def has_next_page(self) -> bool:
        # An empty page has no last id to go on from, whatever ``has_more`` says.
        return self.has_more and bool(self.data)

    def _next_page_call(self) -> Call[Page[T]]:
        if not self.has_next_page():
            raise RuntimeError("This is the list's last page: check has_next_page() first.")
        # The cursor is the id of this page's last object, as the server sent it.
        return self._call.with_params(starting_after=self.data[-1].raw["id"])


class CursorPage(_CursorPage[T]):
    """A page of a list that walks the rest of the list on demand.

    ``data`` and ``has_more`` are this page's.  Iterating the page (or
    :meth:`auto_paging_iter`) yields every object from this one to the end of the
    list; :meth:`iter_pages` yields the pages themselves.  Each next page is
    requested (same ``limit``, ``starting_after`` = the last id) only when reached,
    and again by each new iteration: pages are not kept.
    """

    def __init__(self, first: Page[T], call: Call[Page[T]], client: Client) -> None:
        super().__init__(first, call)
        self._client = client

    def __iter__(self) -> Iterator[T]:
        return self.auto_paging_iter()

    def auto_paging_iter(self) -> Iterator[T]:
        for page in self.iter_pages():
            yield from page.data

    def iter_pages(self) -> Iterator[CursorPage[T]]:
        page = self
        yield page
        while page.has_next_page():
            page = page.next_page()
            yield page

    def next_page(self) -> CursorPage[T]:
        """Fetch the page after this one; raises ``RuntimeError`` on the last page."""
        return self._client._list_page(self._next_page_call())


class AsyncCursorPage(_CursorPage[T]):
    """:class:`CursorPage` for the async client: ``async for`` walks the whole list.

    It has no plain ``for``, which could only stop silently at the first page.
    """

    def __init__(self, first: Page[T], call: Call[Page[T]], client: AsyncClient) -> None:
        super().__init__(first, call)
        self._client = client

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.data:
                yield item

    def auto_paging_iter(self) -> AsyncIterator[T]:
        return self.__aiter__()

    async def iter_pages(self) -> AsyncIterator[AsyncCursorPage[T]]:
        page = self
        yield page
        while page.has_next_page():
            page = await page.next_page()
            yield page

    async def next_page(self) -> AsyncCursorPage[T]:
        """Fetch the page after this one; raises ``RuntimeError`` on the last page."""
        return await self._client._list_page(self._next_page_call())


class AsyncPaginator(Generic[T]):
    """What an async ``list()`` answers before any request is sent.

    ``await`` it for the first :class:`AsyncCursorPage`, or ``async for`` over it for
    every object of the list (pages fetched as the loop reaches them).
    """

    def __init__(self, call: Call[Page[T]], client: AsyncClient) -> None:
        self._call = call
        self._client = client

    def __await__(self) -> Generator[Any, None, AsyncCursorPage[T]]:
        return self._client._list_page(self._call).__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        first = await self._client._list_page(self._call)
        async for item in first:
            yield item


def _describe(page: Page[Any] | _CursorPage[Any]) -> str:
    return f"{type(page).__name__}(data=[{len(page.data)} objects], has_more={page.has_more})"
