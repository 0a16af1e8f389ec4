"""Cursor pagination of API.md: ``?limit=`` and ``?starting_after=<id>``, newest first."""

from __future__ import annotations

from collections.abc import Callable

from core.errors import InvalidRequest

DEFAULT_LIMIT, MAX_LIMIT = 20, 100


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


def paginate(request, queryset, serialize: Callable) -> dict:
    """One page of ``queryset`` (already scoped to the tenant) as an API list."""
    limit = _limit(request.query_params.get("limit"))
    cursor = request.query_params.get("starting_after")
    if cursor:
        anchor = queryset.filter(public_id=cursor).values_list("pk", flat=True).first()
        if anchor is None:
            raise InvalidRequest(
                f"No such object: '{cursor}'.", code="resource_missing", param="starting_after"
            )
        queryset = queryset.filter(pk__lt=anchor)
    rows = list(queryset.order_by("-pk")[: limit + 1])
    return {
        "object": "list",
        "data": [serialize(row) for row in rows[:limit]],
        "has_more": len(rows) > limit,
    }
