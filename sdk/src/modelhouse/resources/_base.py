"""What every resource shares: the client it sends its calls through.

A resource module describes each endpoint once, as a function building a
:class:`~modelhouse._calls.Call`; its sync class sends the calls through
:class:`~modelhouse.Client` and its ``Async…`` twin awaits them through
:class:`~modelhouse.AsyncClient`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelhouse._calls import Answer, Call
from modelhouse.pagination import AsyncPaginator, CursorPage, Page, T

if TYPE_CHECKING:
    from modelhouse.async_client import AsyncClient
    from modelhouse.client import Client


class SyncResource:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _send(self, call: Call[Answer]) -> Answer:
        return self._client._send(call)

    def _list(self, call: Call[Page[T]]) -> CursorPage[T]:
        return self._client._list_page(call)


class AsyncResource:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def _send(self, call: Call[Answer]) -> Answer:
        return await self._client._send(call)

    def _list(self, call: Call[Page[T]]) -> AsyncPaginator[T]:
        return AsyncPaginator(call, self._client)
