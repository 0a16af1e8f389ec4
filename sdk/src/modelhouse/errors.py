"""The exceptions the client raises.

Every error answer of the API has the body
``{"error": {"type", "code", "message", "param"}}`` and an ``X-Request-Id``
header; :class:`APIStatusError` carries all of them, and its subclass names the
kind of failure so callers can ``except`` precisely::

    try:
        client.models.retrieve("mdl_missing")
    except modelhouse.NotFoundError as error:
        print(error.code, error.request_id)
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from modelhouse._retries import parse_retry_after


class ModelhouseError(Exception):
    """The base of every exception this package raises."""


class ConfigurationError(ModelhouseError):
    """No API key, or a config file that is unreadable or readable by others."""


class APIConnectionError(ModelhouseError):
    """The API could not be reached (after the retries), or it did not answer in time."""


class WaitTimeoutError(ModelhouseError):
    """A ``wait()`` gave up before the object reached a final state."""


class APIStatusError(ModelhouseError):
    """The API answered with an error status; the fields are those of its error body."""

    def __init__(
        self,
        *,
        status: int,
        type: str,
        code: str,
        message: str,
        param: str | None = None,
        request_id: str | None = None,
        headers: httpx.Headers | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.code = code
        self.message = message
        self.param = param
        self.request_id = request_id
        self.headers = headers or httpx.Headers()

    def __str__(self) -> str:
        where = f" (param: {self.param})" if self.param else ""
        return (
            f"{self.status} {self.type}/{self.code}: {self.message}{where} "
            f"[request {self.request_id or 'unknown'}]"
        )


class InvalidRequestError(APIStatusError):
    """400, 413, 415 or 422: the request itself is wrong; retrying it will not help."""


class NotFoundError(InvalidRequestError):
    """404: no such object (or another organisation's, which looks the same)."""


class ConflictError(InvalidRequestError):
    """409: e.g. an ``Idempotency-Key`` reused with a different body."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, malformed, revoked or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but lacks the scope this call needs."""


class BillingError(APIStatusError):
    """402: the organisation's plan, quota or spend cap refuses the call."""


class RateLimitError(APIStatusError):
    """429 after every retry; ``retry_after`` is the server's advice in seconds."""

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


class APIError(APIStatusError):
    """5xx: the server failed; the client has already retried it."""


def _error_class(status: int) -> type[APIStatusError]:
    by_status: dict[int, type[APIStatusError]] = {
        401: AuthenticationError,
        402: BillingError,
        403: PermissionDeniedError,
        404: NotFoundError,
        409: ConflictError,
        429: RateLimitError,
    }
    if status in by_status:
        return by_status[status]
    return APIError if status >= 500 else InvalidRequestError


def error_from_response(response: httpx.Response) -> APIStatusError:
    """Build the exception for an error ``response``, even one that is not the API's JSON
    (a proxy's HTML 502, say): its type is then inferred from the status."""
    body: Any = None
    with contextlib.suppress(ValueError):  # not JSON
        body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {
            "type": "api_error" if response.status_code >= 500 else "invalid_request_error",
            "code": f"http_{response.status_code}",
            "message": response.text[:200] or response.reason_phrase,
        }
    return _error_class(response.status_code)(
        status=response.status_code,
        type=str(error.get("type", "")),
        code=str(error.get("code", "")),
        message=str(error.get("message", "")),
        param=error.get("param"),
        request_id=response.headers.get("X-Request-Id"),
        headers=response.headers,
    )
