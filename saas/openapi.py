"""What drf-spectacular cannot infer from the views, added to the OpenAPI document once.

API.md's conventions are implemented once (in ``TenantAPIView``, the exception
handler and the request middleware), so they are documented once too, by the
postprocessing hook :func:`document_conventions`:

* the error body ``{"error": {type, code, message, param}}`` for the statuses
  each operation can answer (which ones follow from its method, path
  parameters and body, see :func:`_error_statuses`), each with an example;
* the ``X-Request-Id``, ``X-RateLimit-*``, ``Retry-After`` and
  ``Idempotent-Replayed`` response headers and the ``Idempotency-Key`` request
  header of every POST;
* list envelopes ``{"object": "list", "data": [...], "has_more"}`` with their
  ``limit`` and ``starting_after`` parameters (views declare ``many=True``);
* ``POST /v1/stripe/webhook``, a plain Django view outside DRF.
"""

from __future__ import annotations

import copy
from typing import Any

ERROR_TYPES = [
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "rate_limit_error",
    "billing_error",
    "api_error",
]

# status -> (response name, description, example error)
_ERRORS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "400": (
        "BadRequest",
        "The request is malformed or a parameter is invalid.",
        {
            "type": "invalid_request_error",
            "code": "invalid_parameter",
            "message": "limit must be an integer between 1 and 100.",
            "param": "limit",
        },
    ),
    "401": (
        "Unauthorized",
        "The API key is missing, malformed, revoked or expired.",
        {
            "type": "authentication_error",
            "code": "invalid_api_key",
            "message": "Invalid API key.",
            "param": None,
        },
    ),
    "402": (
        "PaymentRequired",
        "A plan limit, key quota or spend cap refuses the work, or the organisation is suspended.",
        {
            "type": "billing_error",
            "code": "spend_cap_exceeded",
            "message": "This request would take the period's usage charges past the spend "
            "cap of 5000 (minor units).",
            "param": None,
        },
    ),
    "403": (
        "Forbidden",
        "The API key lacks the scope this operation needs.",
        {
            "type": "permission_error",
            "code": "insufficient_scope",
            "message": "This API key lacks the 'train' scope.",
            "param": None,
        },
    ),
    "404": (
        "NotFound",
        "No such object (another organisation's object answers the same).",
        {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "message": "No such model: 'mdl_0123456789abcdef'",
            "param": "id",
        },
    ),
    "409": (
        "Conflict",
        "The Idempotency-Key was used with a different request or is still "
        "in progress, or the object's state forbids the operation.",
        {
            "type": "invalid_request_error",
            "code": "idempotency_key_reused",
            "message": "This Idempotency-Key was used with a different request.",
            "param": "Idempotency-Key",
        },
    ),
    "413": (
        "PayloadTooLarge",
        "An upload, an image or the number of images is over its limit.",
        {
            "type": "invalid_request_error",
            "code": "too_many_images",
            "message": "At most 64 images per request.",
            "param": "file",
        },
    ),
    "415": (
        "UnsupportedMediaType",
        "The body's content type (or an image's format) is not accepted.",
        {
            "type": "invalid_request_error",
            "code": "unsupported_media_type",
            "message": 'Unsupported media type "text/plain" in request.',
            "param": None,
        },
    ),
    "429": (
        "TooManyRequests",
        "A rate limit is exhausted; retry after `Retry-After` seconds.",
        {
            "type": "rate_limit_error",
            "code": "rate_limited",
            "message": "Too many requests; retry after 2 s.",
            "param": None,
        },
    ),
    "5XX": (
        "ServerError",
        "The server failed (or, for a synchronous prediction, did not "
        "finish in time: poll the prediction instead).",
        {
            "type": "api_error",
            "code": "internal_error",
            "message": "An internal error occurred.",
            "param": None,
        },
    ),
}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "code", "message", "param"],
            "properties": {
                "type": {"type": "string", "enum": ERROR_TYPES},
                "code": {"type": "string", "description": "Stable, machine-readable reason."},
                "message": {"type": "string", "description": "For people; may change."},
                "param": {
                    "type": "string",
                    "nullable": True,
                    "description": "The parameter at fault, if any.",
                },
            },
        }
    },
}

# name -> (description, type, always present where it is documented)
_HEADERS = {
    "X-Request-Id": (
        "Identifies the request in logs; quote it to support. A client may send "
        "its own (8-100 characters of [A-Za-z0-9_.:-]).",
        "string",
        True,
    ),
    "X-RateLimit-Limit": ("Requests allowed per minute for this key.", "integer", True),
    "X-RateLimit-Remaining": ("Requests left in the current window.", "integer", True),
    "X-RateLimit-Reset": ("Seconds until the window is full again.", "integer", True),
    "Retry-After": ("Seconds to wait before retrying.", "integer", True),
    "Idempotent-Replayed": (
        "`true` when this is the stored answer to an earlier request "
        "with the same Idempotency-Key.",
        "string",
        False,
    ),
}

_PARAMETERS = {
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "maxLength": 255},
        "description": "Any unique string (a UUID). A repeat with the same key and body "
        "returns the first answer and does nothing twice; a different body "
        "answers 409. Keys are kept 24 hours.",
    },
    "Limit": {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        "description": "Page size.",
    },
    "StartingAfter": {
        "name": "starting_after",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "The id of the last object of the previous page.",
    },
}

_MULTIPART_POSTS = {"models_predict", "predictions_create", "datasets_create"}
_BILLED_POSTS = {"models_predict", "predictions_create", "fine_tunes_create"}
# Operations whose body names other objects by id (a missing one is 404).
_BODIES_NAMING_OBJECTS = {"predictions_create", "fine_tunes_create", "billing_quotas_update"}
_METHODS_WITH_BODIES = ("post", "put", "patch")
_REF = "#/components/{kind}/{name}"
_PAGING_REFS = {_REF.format(kind="parameters", name=name) for name in ("Limit", "StartingAfter")}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": _REF.format(kind=kind, name=name)}


def _error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation can answer, from what API.md's conventions imply."""
    operation_id = operation.get("operationId", "")
    has_path_ids = "{" in path
    has_query = any(
        p.get("in") == "query" or p.get("$ref") in _PAGING_REFS
        for p in operation.get("parameters", [])
    )
    statuses = ["401", "403", "429", "5XX"]
    if method == "post" or has_query or operation.get("requestBody"):
        statuses.append("400")
    if has_path_ids or operation_id in _BODIES_NAMING_OBJECTS:
        statuses.append("404")
    if method == "post" or method == "delete":
        statuses.append("409")
    if method in _METHODS_WITH_BODIES and operation.get("requestBody"):
        statuses.append("415")
    if operation_id in _MULTIPART_POSTS:
        statuses.append("413")
    if operation_id in _BILLED_POSTS:
        statuses.append("402")
    return sorted(statuses)


def _list_envelope(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Turn a ``many=True`` answer into API.md's list envelope, with its paging parameters."""
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if schema.get("type") != "array" or "$ref" not in schema.get("items", {}):
        return
    item = schema["items"]["$ref"].rsplit("/", 1)[-1]
    name = f"{item.removesuffix('Output')}List"
    schemas[name] = {
        "type": "object",
        "required": ["object", "data", "has_more"],
        "properties": {
            "object": {"type": "string", "enum": ["list"]},
            "data": {"type": "array", "items": schema["items"]},
            "has_more": {"type": "boolean", "description": "Whether older objects exist."},
        },
    }
    content["application/json"]["schema"] = _ref("schemas", name)
    operation.setdefault("parameters", []).extend(
        [_ref("parameters", "Limit"), _ref("parameters", "StartingAfter")]
    )


def _document_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for status in _error_statuses(path, method, operation):
        responses.setdefault(status, _ref("responses", _ERRORS[status][0]))
    for status, response in responses.items():
        if "$ref" in response:
            continue
        headers = response.setdefault("headers", {})
        headers["X-Request-Id"] = _ref("headers", "X-Request-Id")
        if status.startswith("2"):
            for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
                headers[name] = _ref("headers", name)
            if method == "post":
                headers["Idempotent-Replayed"] = _ref("headers", "Idempotent-Replayed")
        response["description"] = response.get("description") or "OK"
    if method == "post":
        operation.setdefault("parameters", []).append(_ref("parameters", "IdempotencyKey"))


def _error_response(description: str, example: dict[str, Any], status: str) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-Id": _ref("headers", "X-Request-Id")}
    if status == "429":
        headers["Retry-After"] = _ref("headers", "Retry-After")
        headers["X-RateLimit-Remaining"] = _ref("headers", "X-RateLimit-Remaining")
    return {
        "description": description,
        "headers": headers,
        "content": {
            "application/json": {
                "schema": _ref("schemas", "ErrorResponse"),
                "example": {"error": example},
            }
        },
    }


def _components(result: dict[str, Any]) -> dict[str, Any]:
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["ErrorResponse"] = copy.deepcopy(ERROR_SCHEMA)
    components["headers"] = {
        name: {"description": text, "required": always, "schema": {"type": kind}}
        for name, (text, kind, always) in _HEADERS.items()
    }
    components["parameters"] = copy.deepcopy(_PARAMETERS)
    components["responses"] = {
        name: _error_response(text, example, status)
        for status, (name, text, example) in _ERRORS.items()
    }
    return components


STRIPE_WEBHOOK = {
    "post": {
        "operationId": "stripe_webhook",
        "tags": ["stripe"],
        "summary": "Stripe's event deliveries",
        "description": "Called by Stripe, not by API clients: authenticated by the "
        "`Stripe-Signature` header over the raw body, not by an API key. Events "
        "are stored once (a redelivery answers `duplicate: true`) and processed "
        "in the background.",
        "security": [],
        "parameters": [
            {
                "name": "Stripe-Signature",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object", "description": "A Stripe event."}}
            },
        },
        "responses": {
            "200": {
                "description": "Stored (or already stored).",
                "headers": {"X-Request-Id": _ref("headers", "X-Request-Id")},
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["received", "id", "duplicate"],
                            "properties": {
                                "received": {"type": "boolean"},
                                "id": {"type": "string"},
                                "duplicate": {"type": "boolean"},
                            },
                        }
                    }
                },
            },
            "400": _ref("responses", "BadRequest"),
        },
    },
}


def document_conventions(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``)."""
    components = _components(result)
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method == "get":
                _list_envelope(operation, components["schemas"])
            _document_operation(path, method, operation)
    result.setdefault("paths", {})["/v1/stripe/webhook"] = copy.deepcopy(STRIPE_WEBHOOK)
    result["paths"] = dict(sorted(result["paths"].items()))
    return result
