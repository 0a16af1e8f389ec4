"""The client: one HTTP connection pool, the key, retries, and the resources.

::

    from modelhouse import Client

    with Client() as client:            # key from MODELHOUSE_API_KEY or the config file
        prediction = client.models.predict("mh-base-v1", ["cat.jpg"])
        print(prediction.results[0].label)
"""

from __future__ import annotations

from typing import Any

import httpx

from modelhouse import _retries
from modelhouse._base_client import DEFAULT_TIMEOUT, BaseClient, raw_call
from modelhouse._calls import Answer, Call
from modelhouse._retries import DEFAULT_MAX_RETRIES
from modelhouse.pagination import CursorPage, Page, T
from modelhouse.resources.api_keys import APIKeys
from modelhouse.resources.billing import Billing
from modelhouse.resources.datasets import Datasets
from modelhouse.resources.fine_tunes import FineTunes
from modelhouse.resources.invoices import Invoices
from modelhouse.resources.models import Models
from modelhouse.resources.predictions import Predictions
from modelhouse.resources.usage import Usage


class Client(BaseClient[httpx.Client]):
    """A Modelhouse API client.

    ``api_key`` and ``base_url`` default to the environment and then the config
    file (see :mod:`modelhouse.config`).  ``timeout`` (seconds) applies to each
    request; ``max_retries`` is how many times a request is resent after a network
    failure, a 429, a 5xx or an ``idempotency_in_progress`` conflict (0: never).
    ``http_client`` lets a caller bring its own ``httpx.Client`` (proxies,
    certificates, event hooks); the client then leaves closing it to the caller.
    :meth:`with_options` makes a copy with other options on the same pool.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )
        self.models = Models(self)
        self.predictions = Predictions(self)
        self.datasets = Datasets(self)
        self.fine_tunes = FineTunes(self)
        self.usage = Usage(self)
        self.invoices = Invoices(self)
        self.api_keys = APIKeys(self)
        self.billing = Billing(self)

    def _new_http_client(self) -> httpx.Client:
        return httpx.Client()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool, unless it was brought by the caller or shared."""
        if self._owns_http:
            self._http.close()

    def ping(self) -> dict[str, Any]:
        """Check the key: answers ``{"object": "ping", "organization": "org_…"}``."""
        return self.request_json("GET", "/v1/ping")

    def request_json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """:meth:`request`, answering the body as JSON."""
        return self.request(method, path, **kwargs).json()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one API call to ``path`` (``/v1/…``), with the key and the retries; answer
        the 2xx response.  Keyword arguments: ``params``, ``json``, ``data``, ``files``,
        ``idempotency_key``, ``timeout``.

        Raises an :class:`~modelhouse.errors.APIStatusError` subclass for an error
        answer, :class:`~modelhouse.errors.APIConnectionError` when the API is
        unreachable.
        """
        return self._send(raw_call(method, path, **kwargs))

    def _send(self, call: Call[Answer]) -> Answer:
        attempts = self._attempts(call)
        while True:
            request = self._build_request(call, attempts.idempotency_key)
            try:
                response = self._http.send(request)
            except httpx.TransportError as failure:
                delay = attempts.wait_after_failure(failure)
            else:
                if response.is_success:
                    return call.parse(response)
                delay = attempts.wait_after_error(response)
            _retries.sleep(delay)  # looked up here, so that tests can replace it

    def _list_page(self, call: Call[Page[T]]) -> CursorPage[T]:
        return CursorPage(self._send(call), call, self)
