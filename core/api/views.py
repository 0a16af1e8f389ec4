"""The one base class of every key-authenticated API view.

It resolves the tenant once from the API key (layer 1), checks the scope the
method needs, applies the rate limits, refuses strings the database cannot store
(core.api.untrusted), and handles ``Idempotency-Key`` — for every endpoint, in
one place.  Subclasses declare ``required_scopes`` and write handlers; they may
not replace the machinery (enforced at class creation).

Methods: a handler answers only the methods named in ``required_scopes``; HEAD
is GET without a body and needs GET's scope; anything else (OPTIONS included) is
405 before authentication.  OPTIONS is refused rather than given a scope: DRF's
metadata answer would describe views and serializers to any key, nothing in the
API needs it (no browser calls it cross-origin), and a refusal runs no code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from django.conf import settings
from django.db.models import Model, QuerySet
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from core import ratelimit, uploads
from core.api.idempotency import run_idempotently
from core.api.pagination import CursorPagination
from core.api.untrusted import check_body, check_request_line
from core.context import enter_request_tenant
from core.errors import (
    ApiError,
    AuthenticationFailed,
    InvalidRequest,
    PermissionDenied,
    RateLimited,
    api_exception_handler,
)

_SEALED = (
    "dispatch",
    "initial",
    "finalize_response",
    "get_authenticators",
    "check_permissions",
    "perform_authentication",
    # HEAD is GET's handler under GET's scope; OPTIONS is refused (module docstring).
    "head",
    "options",
    "http_method_names",
)
_HANDLERS = ("get", "post", "put", "patch", "delete")
_BODY_METHODS = ("POST", "PUT", "PATCH")


class Principal(Protocol):
    """Who calls: what the configured authentication (tenants' API keys) resolves."""

    tenant: Model
    api_key_id: int
    scopes: frozenset[str]


class TenantAPIView(APIView):
    required_scopes: dict[str, str] = {}
    # Error statuses a method answers beyond those the machinery here implies
    # (core.api.schema documents both), e.g. {"POST": (402, 413)}.
    error_statuses: dict[str, tuple[int, ...]] = {}
    # Lists answer through it (see paginated); drf-spectacular documents it for
    # every handler that declares a many=True response.
    pagination_class = CursorPagination
    # Authentication is DRF's DEFAULT_AUTHENTICATION_CLASSES (tenants' API-key
    # class): it answers the principal, or None when no key was sent.
    permission_classes = ()

    principal: Principal
    # What Django's and DRF's method dispatch and the Allow header consider; OPTIONS
    # and TRACE are left out, and DRF's OPTIONS metadata is off.
    http_method_names = [*_HANDLERS, "head"]
    metadata_class = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in _SEALED:
            if name in cls.__dict__:
                raise TypeError(
                    f"{cls.__name__} may not override {name}(): tenant resolution "
                    "is done once, in TenantAPIView."
                )
        for name in ("authentication_classes", "permission_classes"):
            if name in cls.__dict__:
                raise TypeError(
                    f"{cls.__name__} may not set {name}: every endpoint authenticates the same way."
                )
        for method in _HANDLERS:
            if hasattr(cls, method) and method.upper() not in cls.required_scopes:
                raise TypeError(f"{cls.__name__}.{method}() has no entry in required_scopes.")
        for method in cls.required_scopes:
            if method.lower() not in _HANDLERS or not hasattr(cls, method.lower()):
                raise TypeError(
                    f"{cls.__name__}.required_scopes names {method}, which it has no handler "
                    "for (HEAD takes GET's scope; OPTIONS is refused)."
                )

    @property
    def tenant(self):
        return self.principal.tenant

    def admit(self, request, **kwargs) -> None:
        """Refuse, before the body is read, what needs no body to refuse (a view that
        bills refuses a suspended or capped tenant here).  ``kwargs``: the URL's."""

    def max_body_bytes(self, request) -> int | None:
        """The most bytes this request's body may have, read after the key, scope and rate
        limits and before the body (core.uploads); None: the default."""
        return None

    def initial(self, request, *args, **kwargs):
        # Checks that need no look-up come before the key's.
        method = self._scoped_method(request)
        check_request_line(request, kwargs)
        super().initial(request, *args, **kwargs)  # authenticates (request.user)
        if request.user is None:
            raise AuthenticationFailed(
                "No API key provided: send 'Authorization: Bearer <api key>'.",
                code="missing_api_key",
            )
        self.principal = request.user
        enter_request_tenant(self.principal.tenant)
        self._rate = ratelimit.check(
            [
                ratelimit.Bucket(f"key:{self.principal.api_key_id}", settings.RATE_LIMIT_PER_KEY),
                ratelimit.Bucket(f"tenant:{self.tenant.pk}", settings.RATE_LIMIT_PER_TENANT),
            ]
        )
        if not self._rate.allowed:
            raise RateLimited(
                f"Too many requests; retry after {self._rate.retry_after_s} s.",
                headers=self._rate.headers(),
            )
        scope = self.required_scopes[method]
        if scope and scope not in self.principal.scopes:
            raise PermissionDenied(
                f"This API key lacks the '{scope}' scope.", code="insufficient_scope"
            )
        # Before anything reads the body: a parser, the Idempotency-Key fingerprint, a handler.
        self.admit(request, **kwargs)
        uploads.limit_request_body(request, self.max_body_bytes(request))
        if method in _BODY_METHODS:
            check_body(request)

    def _scoped_method(self, request) -> str:
        """The method whose scope and handler serve ``request``; 405 for any other."""
        method = "GET" if request.method == "HEAD" else request.method
        if method not in self.required_scopes:
            raise InvalidRequest(
                f"Method {request.method} is not allowed here.",
                code="method_not_allowed",
                status=405,
                headers={"Allow": ", ".join(self.allowed_methods)},
            )
        return method

    def dispatch(self, request, *args, **kwargs):
        # DRF's dispatch, plus the Idempotency-Key step around POST handlers.
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            self.initial(request, *args, **kwargs)  # only required_scopes' methods pass
            handler = getattr(self, "get" if request.method == "HEAD" else request.method.lower())
            key = request.headers.get("Idempotency-Key")
            if request.method == "POST" and key:
                response = run_idempotently(
                    self.tenant,
                    key,
                    request,
                    lambda: handler(request, *args, **kwargs),
                    lambda exc: api_exception_handler(exc, {}),
                )
            else:
                response = handler(request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - rendered by the API exception handler
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        rate = getattr(self, "_rate", None)
        if rate is not None:
            for name, value in rate.headers().items():
                response[name] = value
        return response

    def paginated(
        self, queryset: QuerySet, output: type[Serializer], *, leading: Sequence = ()
    ) -> Response:
        """One page of ``queryset`` (``leading`` objects first), rendered by ``output``."""
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, self.request, view=self, leading=leading)
        return paginator.get_paginated_response(output(page, many=True).data)

    def handle_exception(self, exc):
        if isinstance(exc, ApiError):
            return api_exception_handler(exc, {})
        return super().handle_exception(exc)
