"""The API's exceptions and the one handler that renders API.md's error shape:

``{"error": {"type", "code", "message", "param"}}``.  Services raise these;
views never build error bodies themselves.
"""

from __future__ import annotations

import logging

from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

logger = logging.getLogger(__name__)

ERROR_TYPES = [
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "rate_limit_error",
    "billing_error",
    "api_error",
]


class ApiError(Exception):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        status: int | None = None,
        headers: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.param = param
        self.status = status or self.status
        if self.status >= 500:
            self.type = "api_error"
        self.headers = headers or {}

    def body(self) -> dict:
        return {
            "error": {
                "type": self.type,
                "code": self.code,
                "message": self.message,
                "param": self.param,
            }
        }


class InvalidRequest(ApiError):
    pass


class NotFound(ApiError):
    """A missing object and another tenant's object give exactly this."""

    status = 404
    code = "resource_missing"

    @classmethod
    def for_id(cls, kind: str, public_id: str, param: str | None = None) -> NotFound:
        return cls(f"No such {kind}: '{public_id}'", param=param)


class Conflict(ApiError):
    status = 409
    code = "conflict"


class AuthenticationFailed(ApiError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(ApiError):
    status = 403
    type = "permission_error"
    code = "insufficient_scope"


class RateLimited(ApiError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limited"


class BillingError(ApiError):
    status = 402
    type = "billing_error"
    code = "billing_error"


class ServiceUnavailable(ApiError):
    status = 503
    type = "api_error"
    code = "service_unavailable"


def _first_validation_error(detail, param: str | None = None) -> tuple[str | None, str, str]:
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()))
        name = str(key) if key != "non_field_errors" else None  # list items: their index
        if param and name is not None:
            name = f"{param}.{name}"
        return _first_validation_error(value, name or param)
    if isinstance(detail, list) and detail:
        return _first_validation_error(detail[0], param)
    code = getattr(detail, "code", "invalid")
    message = str(detail)
    if param and param not in message:
        message = f"{param}: {message}"
    return param, code, message


def _from_drf(exc: drf.APIException) -> ApiError:
    if isinstance(exc, drf.ValidationError):
        param, code, message = _first_validation_error(exc.detail)
        return InvalidRequest(
            message, code=code if code != "invalid" else "invalid_parameter", param=param
        )
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return AuthenticationFailed(str(exc.detail))
    if isinstance(exc, drf.PermissionDenied):
        return PermissionDenied(str(exc.detail))
    if isinstance(exc, drf.NotFound):
        return NotFound(str(exc.detail))
    if isinstance(exc, drf.UnsupportedMediaType):
        return InvalidRequest(str(exc.detail), code="unsupported_media_type", status=415)
    if isinstance(exc, drf.MethodNotAllowed):
        return InvalidRequest(str(exc.detail), code="method_not_allowed", status=405)
    if isinstance(exc, drf.ParseError):
        return InvalidRequest(str(exc.detail), code="parse_error")
    if isinstance(exc, drf.Throttled):
        return RateLimited(str(exc.detail))
    return ApiError(str(exc.detail), status=exc.status_code)


def api_exception_handler(exc: Exception, context: dict) -> Response:
    if isinstance(exc, Http404):
        exc = NotFound("No such resource.")
    elif isinstance(exc, drf.APIException):
        exc = _from_drf(exc)
    if not isinstance(exc, ApiError):
        logger.exception("unhandled error in API view", exc_info=exc)
        exc = ApiError("An internal error occurred.", code="internal_error", status=500)
    return Response(exc.body(), status=exc.status, headers=exc.headers)
