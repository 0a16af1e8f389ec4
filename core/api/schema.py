"""The OpenAPI schema class of the API (``DEFAULT_SCHEMA_CLASS``): drf-spectacular's,
plus what :class:`~core.api.views.TenantAPIView` does for every operation.

* The error body ``{"error": {type, code, message, param}}`` (:class:`ErrorOutput`)
  for each status an operation can answer: 400, 401, 403, 429 and 5XX from the
  base view's machinery (any parameter or header the API reads may hold a
  string the database refuses: core.api.untrusted);
  404 for ids in the path; 409 for an ``Idempotency-Key``; 413 for a POST, PUT
  or PATCH (a body over its limit: core.uploads); 415 for a body; and whatever
  the view declares in ``error_statuses`` for the method.
* The ``X-Request-Id``, ``X-RateLimit-*``, ``Retry-After`` and
  ``Idempotent-Replayed`` response headers and the ``Idempotency-Key`` request
  header of every POST.
* OpenAPI links from each create operation to the operations that take the id it
  returns (:meth:`AutoSchema._links`), so clients and schemathesis' stateful
  phase can follow ``POST /v1/datasets`` to ``GET``/``DELETE
  /v1/datasets/{dataset_id}`` and to ``POST /v1/fine-tunes``.  drf-spectacular
  has no way to declare links; they are derived from the URL conf and the views'
  serializers, never listed by hand.

Response bodies, lists (core.api.pagination) and security (the API-key
authentication's extension) are drf-spectacular's own work.
"""

from __future__ import annotations

import re
from typing import Any

import uritemplate
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from core.api.fields import Constant
from core.errors import ERROR_TYPES

_BODY_METHODS = ("POST", "PUT", "PATCH")


class ErrorDetailOutput(serializers.Serializer):
    type = serializers.ChoiceField(ERROR_TYPES)
    code = serializers.CharField(help_text="Stable, machine-readable reason.")
    message = serializers.CharField(help_text="For people; may change.")
    param = serializers.CharField(allow_null=True, help_text="The parameter at fault, if any.")


class ErrorOutput(serializers.Serializer):
    error = ErrorDetailOutput()

    class Meta:
        ref_name = "ErrorResponse"


def _error(status: str, description: str, **example: Any) -> OpenApiResponse:
    example.setdefault("param", None)
    return OpenApiResponse(
        ErrorOutput,
        description=description,
        examples=[OpenApiExample(status, value={"error": example}, status_codes=[status])],
    )


ERRORS: dict[str, OpenApiResponse] = {
    "400": _error(
        "400",
        "The request is malformed or a parameter is invalid.",
        type="invalid_request_error",
        code="invalid_parameter",
        message="limit must be an integer between 1 and 100.",
        param="limit",
    ),
    "401": _error(
        "401",
        "The API key is missing, malformed, revoked or expired.",
        type="authentication_error",
        code="invalid_api_key",
        message="Invalid API key provided.",
    ),
    "402": _error(
        "402",
        "A plan limit, key quota or spend cap refuses the work, or the organisation is suspended.",
        type="billing_error",
        code="spend_cap_exceeded",
        message="This request would take the period's usage charges past the spend cap of "
        "5000 (minor units).",
    ),
    "403": _error(
        "403",
        "The API key lacks the scope this operation needs.",
        type="permission_error",
        code="insufficient_scope",
        message="This API key lacks the 'train' scope.",
    ),
    "404": _error(
        "404",
        "No such object (another organisation's object answers the same).",
        type="invalid_request_error",
        code="resource_missing",
        message="No such model: 'mdl_0123456789abcdef'",
        param="id",
    ),
    "409": _error(
        "409",
        "The Idempotency-Key was used with a different request or is still in progress, "
        "or the object's state forbids the operation.",
        type="invalid_request_error",
        code="idempotency_key_reused",
        message="This Idempotency-Key was used with a different request.",
        param="Idempotency-Key",
    ),
    "413": _error(
        "413",
        "The request body, an upload, an image or the number of images is over its limit.",
        type="invalid_request_error",
        code="too_many_images",
        message="At most 64 images per request.",
        param="file",
    ),
    "415": _error(
        "415",
        "The body's content type (or an image's format) is not accepted.",
        type="invalid_request_error",
        code="unsupported_media_type",
        message='Unsupported media type "text/plain" in request.',
    ),
    "429": _error(
        "429",
        "A rate limit is exhausted; retry after `Retry-After` seconds.",
        type="rate_limit_error",
        code="rate_limited",
        message="Too many requests; retry after 2 s.",
    ),
    "5XX": _error(
        "5XX",
        "The server failed (or, for a synchronous prediction, did not finish in time: poll "
        "the prediction instead).",
        type="api_error",
        code="internal_error",
        message="An internal error occurred.",
    ),
}

_SUCCESS = ["200", "201", "202", "204"]
_HEADERS = [
    OpenApiParameter(
        "X-Request-Id",
        str,
        OpenApiParameter.HEADER,
        required=True,
        response=True,
        description="Identifies the request in logs; quote it to support. A client may send "
        "its own (8-100 characters of [A-Za-z0-9_.:-]).",
    ),
    *(
        OpenApiParameter(
            name,
            int,
            OpenApiParameter.HEADER,
            required=True,
            response=codes,
            description=description,
        )
        for name, codes, description in (
            ("X-RateLimit-Limit", _SUCCESS, "Requests allowed per minute for this key."),
            ("X-RateLimit-Remaining", [*_SUCCESS, "429"], "Requests left in the current window."),
            ("X-RateLimit-Reset", _SUCCESS, "Seconds until the window is full again."),
            ("Retry-After", ["429"], "Seconds to wait before retrying."),
        )
    ),
    OpenApiParameter(
        "Retry-After",
        int,
        OpenApiParameter.HEADER,
        response=["5XX"],
        description="On a 503 (a dependency such as the rate limiter is unavailable): "
        "seconds to wait before retrying.",
    ),
]
_IDEMPOTENCY = [
    OpenApiParameter(
        "Idempotency-Key",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="Any unique string (a UUID), at most 255 characters. A repeat with the "
        "same key and body returns the first answer and does nothing twice; a different body "
        "answers 409. Keys are kept 24 hours.",
    ),
    OpenApiParameter(
        "Idempotent-Replayed",
        str,
        OpenApiParameter.HEADER,
        response=_SUCCESS,
        description="`true` when this is the stored answer to an earlier request with the "
        "same Idempotency-Key.",
    ),
]


class AutoSchema(SpectacularAutoSchema):
    def get_override_parameters(self) -> list:
        own = [*_HEADERS, *(_IDEMPOTENCY if self.method == "POST" else [])]
        return (
            [*own, *super().get_override_parameters()]
            if self._is_tenant_api()
            else (super().get_override_parameters())
        )

    def _get_response_bodies(self, direction="response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction == "response" and self._is_tenant_api():
            for status in self._error_statuses():
                if status not in responses:
                    responses[status] = self._get_response_for_code(ERRORS[status], status)
            for status, links in self._links().items():
                responses[status]["links"] = links
        return dict(sorted(responses.items()))

    def _links(self) -> dict[str, dict[str, dict]]:
        """``{status: {name: link}}`` for a create operation: a POST answering 201 or 202
        with an object that has an ``id`` and a constant ``object`` (its type, e.g.
        ``dataset``).  Its id feeds:

        * every operation under the create's path with that id as the first path
          parameter: ``POST /v1/datasets`` → ``GET``/``DELETE /v1/datasets/{dataset_id}``,
          ``POST /v1/fine-tunes`` → ``…/{job_id}``, ``…/{job_id}/events``, ``…/cancel``;
        * every other POST whose body has a field named after the type:
          ``POST /v1/datasets`` → ``POST /v1/fine-tunes`` ``{"dataset": id}``.

        Links are named by their target's ``operationId`` and point at it with an
        ``operationRef``.
        """
        created = self._created_object() if self.method == "POST" else None
        if created is None:
            return {}
        status, kind = created
        generator, links = SchemaGenerator(), {}
        for path, path_regex, method, callback in EndpointEnumerator().get_api_endpoints():
            under = re.fullmatch(re.escape(self.path) + r"/\{(\w+)\}(?:/[^{}]*)?", path)
            if under:
                link = {"parameters": {f"path.{under.group(1)}": "$response.body#/id"}}
            elif method == "POST" and path != self.path:
                link = {"requestBody": {kind: "$response.body#/id"}}
            else:
                continue
            target = _schema_of(generator, path, path_regex, method, callback)
            if "requestBody" in link and kind not in _field_names(target.get_request_serializer()):
                continue
            pointer = path.replace("~", "~0").replace("/", "~1")
            links[target.get_operation_id()] = {
                "operationRef": f"#/paths/{pointer}/{method.lower()}",
                **link,
                "description": f"The {kind} just created.",
            }
        return {status: dict(sorted(links.items()))} if links else {}

    def _created_object(self) -> tuple[str, str] | None:
        """``(status, object type)`` when this operation answers a new object, else None."""
        responses = self.get_response_serializers()
        for code, response in (responses if isinstance(responses, dict) else {}).items():
            code = str(code[0] if isinstance(code, tuple) else code)
            fields = _fields(getattr(response, "response", response))
            kind = fields.get("object")
            if code in ("201", "202") and "id" in fields and isinstance(kind, Constant):
                return code, kind.value
        return None

    def _is_tenant_api(self) -> bool:
        return getattr(self.view, "required_scopes", None) is not None

    def _error_statuses(self) -> set[str]:
        # 400 always: any parameter or header may hold a string the database refuses.
        statuses = {"400", "401", "403", "429", "5XX"}
        has_body = self.method in _BODY_METHODS and self.get_request_serializer() is not None
        has_query = any(p["in"] == "query" for p in self._get_parameters())
        if has_body:
            statuses |= {"400", "415"}
        if has_query:
            statuses.add("400")
        if self.method == "POST":
            statuses |= {"400", "409"}
        if self.method in _BODY_METHODS:  # a body over its limit (core.uploads)
            statuses.add("413")
        if uritemplate.variables(self.path):
            statuses.add("404")
        declared = getattr(self.view, "error_statuses", {}).get(self.method, ())
        return statuses | {str(status) for status in declared}


def _schema_of(generator: SchemaGenerator, path: str, path_regex: str, method: str, callback):
    """Another endpoint's schema object, prepared as drf-spectacular's generator prepares
    it (its view, mock request and ``@extend_schema`` overrides), to read its operation
    id and request serializer."""
    view = generator.create_view(callback, method)
    view.request = spectacular_settings.GET_MOCK_REQUEST(method, path, view, None)
    schema = view.schema
    schema.path, schema.path_regex, schema.method = path, path_regex, method.upper()
    schema.path_prefix = "^" + (spectacular_settings.SCHEMA_PATH_PREFIX or "/")
    return schema


def _fields(serializer) -> dict:
    return getattr(force_instance(serializer), "fields", None) or {}


def _field_names(serializer) -> set[str]:
    """The fields of a request serializer, or of each in a ``{media type: serializer}``."""
    candidates = serializer.values() if isinstance(serializer, dict) else [serializer]
    return {name for candidate in candidates for name in _fields(candidate)}
