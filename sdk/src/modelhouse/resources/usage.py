"""``/v1/usage``: metered quantities and their cost so far."""

from __future__ import annotations

from datetime import datetime

from modelhouse._calls import Call, as_object, as_text
from modelhouse.resources._base import AsyncResource, SyncResource
from modelhouse.types import UsageReport

Moment = datetime | str | None


def _iso(moment: Moment) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else moment


def _params(start: Moment, end: Moment, group_by: str | None) -> dict[str, str | None]:
    return {"start": _iso(start), "end": _iso(end), "group_by": group_by}


def _retrieve(start: Moment, end: Moment, group_by: str | None) -> Call[UsageReport]:
    return Call("GET", "/v1/usage", as_object(UsageReport), params=_params(start, end, group_by))


def _csv(start: Moment, end: Moment, group_by: str | None) -> Call[str]:
    return Call("GET", "/v1/usage.csv", as_text, params=_params(start, end, group_by))


class Usage(SyncResource):
    def retrieve(
        self, *, start: Moment = None, end: Moment = None, group_by: str | None = None
    ) -> UsageReport:
        """Usage from ``start`` (default: the period's start) to ``end`` (default: now),
        grouped by ``day``, ``model``, ``api_key`` or ``meter`` (the default)."""
        return self._send(_retrieve(start, end, group_by))

    def csv(self, *, start: Moment = None, end: Moment = None, group_by: str | None = None) -> str:
        """The same report as CSV text."""
        return self._send(_csv(start, end, group_by))


class AsyncUsage(AsyncResource):
    """:class:`Usage`, awaited."""

    async def retrieve(
        self, *, start: Moment = None, end: Moment = None, group_by: str | None = None
    ) -> UsageReport:
        return await self._send(_retrieve(start, end, group_by))

    async def csv(
        self, *, start: Moment = None, end: Moment = None, group_by: str | None = None
    ) -> str:
        return await self._send(_csv(start, end, group_by))
