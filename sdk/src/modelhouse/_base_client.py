"""What :class:`~modelhouse.Client` and :class:`~modelhouse.AsyncClient` share.

Their options, and every decision about a request that does not depend on how
it is sent: the URL, headers and timeout, the ``Idempotency-Key``, and whether
to retry an answer or a failure and after how long.  The two clients add only
the sending and the sleeping, blocking or awaited.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Generic, Self, TypeVar

import httpx

from modelhouse._calls import Call, as_response
from modelhouse._retries import RetryPolicy
from modelhouse._version import __version__
from modelhouse.config import load_settings
from modelhouse.errors import APIConnectionError, error_from_response

DEFAULT_TIMEOUT = 60.0

logger = logging.getLogger("modelhouse")

HTTPClient = TypeVar("HTTPClient", httpx.Client, httpx.AsyncClient)


class BaseClient(Generic[HTTPClient]):
    """The options of a client and the requests they make; see :class:`~modelhouse.Client`."""

    _http: HTTPClient

    def __init__(
        self,
        api_key: str | None,
        *,
        base_url: str | None,
        timeout: float,
        max_retries: int,
        http_client: HTTPClient | None,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, not {max_retries}")
        settings = load_settings(api_key, base_url)
        self.base_url = settings.base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self._api_key = settings.api_key
        self._retry_policy = RetryPolicy(max_retries=max_retries)
        self._owns_http = http_client is None
        self._http = self._new_http_client() if http_client is None else http_client

    def _new_http_client(self) -> HTTPClient:
        raise NotImplementedError

    def __repr__(self) -> str:  # never the key
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, timeout={self.timeout!r}, "
            f"max_retries={self.max_retries!r})"
        )

    def with_options(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        http_client: HTTPClient | None = None,
    ) -> Self:
        """A copy of this client with the options given changed and the others kept.

        The copy sends through this client's connection pool (or ``http_client``)
        and never closes it, so copies are cheap: make one per call site, e.g.
        ``client.with_options(timeout=300).datasets.create(...)``.  Close the
        original when done with it and its copies.
        """
        return type(self)(
            api_key or self._api_key,
            base_url=base_url or self.base_url,
            timeout=self.timeout if timeout is None else timeout,
            max_retries=self.max_retries if max_retries is None else max_retries,
            http_client=self._http if http_client is None else http_client,
        )

    def _build_request(self, call: Call[Any], idempotency_key: str | None) -> httpx.Request:
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "User-Agent": f"modelhouse-python/{__version__}",
        }
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return self._http.build_request(
            call.method,
            f"{self.base_url}{call.path}",
            params=call.query(),
            json=call.json,
            data=call.data,
            files=call.files,
            headers=headers,
            timeout=self.timeout if call.timeout is None else call.timeout,
        )

    def _attempts(self, call: Call[Any]) -> Attempts:
        return Attempts(self._retry_policy, call)


def raw_call(
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    json: Any = None,
    data: dict[str, Any] | None = None,
    files: Any = None,
    idempotency_key: str | None = None,
    timeout: float | None = None,
) -> Call[httpx.Response]:
    """The call behind the clients' ``request()``: any path, the answer as it came."""
    return Call(
        method,
        path,
        as_response,
        params=params,
        json=json,
        data=data,
        files=files,
        idempotency_key=idempotency_key,
        timeout=timeout,
    )


class Attempts:
    """The attempts at one call: its ``Idempotency-Key``, and after each failed
    attempt, how long to wait before the next one (or the exception to raise).

    A POST gets ``call.idempotency_key`` or a fresh key, and every attempt repeats
    it, so the server does the work once however often the call is resent.
    """

    def __init__(self, policy: RetryPolicy, call: Call[Any]) -> None:
        self._policy = policy
        self._call = call
        self.retries = 0
        self.idempotency_key = None
        if call.method.upper() == "POST":
            self.idempotency_key = call.idempotency_key or f"sdk_{uuid.uuid4().hex}"

    def wait_after_error(self, response: httpx.Response) -> float:
        """Seconds to wait before resending after the error ``response``; raises its
        :class:`~modelhouse.errors.APIStatusError` when it is not to be retried."""
        error = error_from_response(response)
        delay = None
        if self._policy.should_retry(self.retries, error.status, error.code, self._call.method):
            delay = self._policy.delay(self.retries, response.headers.get("Retry-After"))
        if delay is None:
            raise error
        self._retrying(f"answered {error.status}", delay)
        return delay

    def wait_after_failure(self, failure: httpx.TransportError) -> float:
        """Seconds to wait before resending after a network failure; raises
        :class:`~modelhouse.errors.APIConnectionError` once the retries are spent."""
        if self.retries >= self._policy.max_retries:
            call = self._call
            raise APIConnectionError(f"{call.method} {call.path}: {failure!r}") from failure
        delay = self._policy.backoff(self.retries)
        self._retrying(f"failed ({failure!r})", delay)
        return delay

    def _retrying(self, outcome: str, delay: float) -> None:
        self.retries += 1
        call = self._call
        logger.info("%s %s %s; retry in %.2f s", call.method, call.path, outcome, delay)
