"""API.md's lists as a DRF paginator: ``?limit=`` (default 20, at most 100) and the
cursor ``?starting_after=<id>``, newest first, answered as
``{"object": "list", "data": [...], "has_more": bool}``.

drf-spectacular documents the envelope and both parameters from this class for
every view that answers ``many=True`` (core.api.views.TenantAPIView uses it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from core.errors import InvalidRequest

DEFAULT_LIMIT, MAX_LIMIT = 20, 100


class CursorPagination(BasePagination):
    has_more = False

    def paginate_queryset(
        self, queryset: QuerySet, request, view=None, *, leading: Sequence = ()
    ) -> list:
        """One page of ``queryset`` (already scoped to the tenant), newest first.

        ``leading`` objects (few, already in memory: the shared base models) come
        before the queryset's rows; a cursor may name one of them too.
        """
        limit = _limit(request.query_params.get("limit"))
        cursor = request.query_params.get("starting_after")
        if cursor:
            position = next((n for n, item in enumerate(leading) if item.public_id == cursor), None)
            if position is None:
                queryset, leading = _older_than(queryset, cursor), ()
            else:
                leading = leading[position + 1 :]
        rows = list(leading[: limit + 1])
        if len(rows) <= limit:
            rows += queryset.order_by("-pk")[: limit + 1 - len(rows)]
        self.has_more = len(rows) > limit
        return rows[:limit]

    def get_paginated_response(self, data: list) -> Response:
        return Response({"object": "list", "data": data, "has_more": self.has_more})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["object", "data", "has_more"],
            "properties": {
                "object": {"type": "string", "enum": ["list"]},
                "data": schema,
                "has_more": {"type": "boolean", "description": "Whether older objects exist."},
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        return [
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_LIMIT,
                    "default": DEFAULT_LIMIT,
                },
                "description": "Page size.",
            },
            {
                "name": "starting_after",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "The id of the last object of the previous page.",
            },
        ]


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be an integer between 1 and {MAX_LIMIT}.", param="limit")
    return limit


def _older_than(queryset: QuerySet, cursor: str) -> QuerySet:
    anchor = queryset.filter(public_id=cursor).values_list("pk", flat=True).first()
    if anchor is None:
        raise InvalidRequest(
            f"No such object: '{cursor}'.", code="resource_missing", param="starting_after"
        )
    return queryset.filter(pk__lt=anchor)
