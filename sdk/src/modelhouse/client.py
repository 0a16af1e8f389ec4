"""The client: one HTTP connection pool, the key, retries, and the resources.

::

    from modelhouse import Client

    with Client() as client:            # key from MODELHOUSE_API_KEY or the config file
        prediction = client.models.predict("mh-base-v1", ["cat.jpg"])
        print(prediction.results[0].label)
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from modelhouse._version import __version__
from modelhouse.config import load_settings
from modelhouse.errors import APIConnectionError, error_from_response
from modelhouse.resources.api_keys import ApiKeys
from modelhouse.resources.billing import Billing
from modelhouse.resources.datasets import Datasets
from modelhouse.resources.fine_tunes import FineTunes
from modelhouse.resources.invoices import Invoices
from modelhouse.resources.models import Models
from modelhouse.resources.predictions import Predictions
from modelhouse.resources.usage import UsageResource
from modelhouse.retries import RetryPolicy

logger = logging.getLogger("modelhouse")


class Client:
    """A Modelhouse API client.

    ``api_key`` and ``base_url`` default to the environment and then the config
    file (see :mod:`modelhouse.config`).  ``http_client`` lets a caller bring its
    own ``httpx.Client`` (proxies, certificates, event hooks); the client then
    leaves closing it to the caller.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        settings = load_settings(api_key, base_url)
        self.base_url = settings.base_url
        self.retry = retry or RetryPolicy()
        self._api_key = settings.api_key
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)
        self._sleep = sleep

        self.models = Models(self)
        self.predictions = Predictions(self)
        self.datasets = Datasets(self)
        self.fine_tunes = FineTunes(self)
        self.usage = UsageResource(self)
        self.invoices = Invoices(self)
        self.api_keys = ApiKeys(self)
        self.billing = Billing(self)

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"  # never the key

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def ping(self) -> dict[str, Any]:
        """Check the key: answers ``{"object": "ping", "organization": "org_…"}``."""
        return self.request_json("GET", "/v1/ping")

    def request_json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return self.request(method, path, **kwargs).json()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, Any] | None = None,
        files: Any = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one API call, retrying 429, 5xx and network failures; return a 2xx answer.

        A POST gets an ``Idempotency-Key`` (``idempotency_key`` or a fresh one)
        that every retry repeats, so the server does its work once.  Raises an
        :class:`~modelhouse.errors.APIStatusError` subclass for an error answer,
        :class:`~modelhouse.errors.APIConnectionError` when the API is unreachable.
        """
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "User-Agent": f"modelhouse-python/{__version__}",
        }
        if method.upper() == "POST":
            headers["Idempotency-Key"] = idempotency_key or f"sdk_{uuid.uuid4().hex}"
        query = {name: value for name, value in (params or {}).items() if value is not None}
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method,
                    f"{self.base_url}{path}",
                    params=query,
                    json=json,
                    data=data,
                    files=files,
                    headers=headers,
                    **extra,
                )
            except httpx.TransportError as failure:
                delay = self.retry.delay(attempt) if attempt < self.retry.max_retries else None
                if delay is None:
                    raise APIConnectionError(f"{method} {path}: {failure!r}") from failure
                logger.info("%s %s failed (%r); retry in %.2f s", method, path, failure, delay)
            else:
                if response.is_success:
                    return response
                error = error_from_response(response)
                delay = None
                if self.retry.should_retry(attempt, error.status, error.code, method):
                    delay = self.retry.delay(attempt, response.headers.get("Retry-After"))
                if delay is None:
                    raise error
                logger.info("%s %s answered %s; retry in %.2f s", method, path, error.status, delay)
            self._sleep(delay)
            attempt += 1
