"""The async client: :class:`~modelhouse.Client`'s resources and behaviour, awaited.

::

    from modelhouse import AsyncClient

    async with AsyncClient() as client:
        prediction = await client.models.predict("mh-base-v1", ["cat.jpg"])
        async for key in client.api_keys.list():
            print(key.name)
"""

from __future__ import annotations

from typing import Any

import httpx

from modelhouse import _retries
from modelhouse._base_client import DEFAULT_TIMEOUT, BaseClient, raw_call
from modelhouse._calls import Answer, Call
from modelhouse._retries import DEFAULT_MAX_RETRIES
from modelhouse.pagination import AsyncCursorPage, Page, T
from modelhouse.resources.api_keys import AsyncAPIKeys
from modelhouse.resources.billing import AsyncBilling
from modelhouse.resources.datasets import AsyncDatasets
from modelhouse.resources.fine_tunes import AsyncFineTunes
from modelhouse.resources.invoices import AsyncInvoices
from modelhouse.resources.models import AsyncModels
from modelhouse.resources.predictions import AsyncPredictions
from modelhouse.resources.usage import AsyncUsage


class AsyncClient(BaseClient[httpx.AsyncClient]):
    """A Modelhouse API client for asyncio, over ``httpx.AsyncClient``.

    The options, resources, retries and ``Idempotency-Key`` handling are those of
    :class:`~modelhouse.Client`; every method that calls the API is a coroutine,
    and ``list()`` answers an :class:`~modelhouse.pagination.AsyncPaginator`
    (``await`` it for the first page, ``async for`` over it for every object).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )
        self.models = AsyncModels(self)
        self.predictions = AsyncPredictions(self)
        self.datasets = AsyncDatasets(self)
        self.fine_tunes = AsyncFineTunes(self)
        self.usage = AsyncUsage(self)
        self.invoices = AsyncInvoices(self)
        self.api_keys = AsyncAPIKeys(self)
        self.billing = AsyncBilling(self)

    def _new_http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool, unless it was brought by the caller or shared."""
        if self._owns_http:
            await self._http.aclose()

    async def ping(self) -> dict[str, Any]:
        """Check the key: answers ``{"object": "ping", "organization": "org_…"}``."""
        return await self.request_json("GET", "/v1/ping")

    async def request_json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """:meth:`request`, answering the body as JSON."""
        return (await self.request(method, path, **kwargs)).json()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """:meth:`modelhouse.Client.request`, awaited."""
        return await self._send(raw_call(method, path, **kwargs))

    async def _send(self, call: Call[Answer]) -> Answer:
        attempts = self._attempts(call)
        while True:
            request = self._build_request(call, attempts.idempotency_key)
            try:
                response = await self._http.send(request)
            except httpx.TransportError as failure:
                delay = attempts.wait_after_failure(failure)
            else:
                if response.is_success:
                    return call.parse(response)
                delay = attempts.wait_after_error(response)
            await _retries.async_sleep(delay)  # looked up here, so that tests can replace it

    async def _list_page(self, call: Call[Page[T]]) -> AsyncCursorPage[T]:
        return AsyncCursorPage(await self._send(call), call, self)
