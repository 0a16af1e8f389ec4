"""Per-request context: a fresh set of context variables and an ``X-Request-Id``."""

from __future__ import annotations

import contextvars
import re

from core.ids import random_token

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")


class RequestContextMiddleware:
    """Runs each request in its own copy of the context.

    Whatever the request sets (tenant, user, unscoped flag) is discarded when it
    ends, so a thread that serves the next request starts with no tenant.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return contextvars.Context().run(self._handle, request)

    def _handle(self, request):
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else f"req_{random_token(20)}"
        request.request_id = request_id
        response = self.get_response(request)
        response["X-Request-Id"] = request_id
        return response
