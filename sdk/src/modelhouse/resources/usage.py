"""``/v1/usage``: metered quantities and their cost so far."""

from __future__ import annotations

from datetime import datetime

from modelhouse.resources._base import Resource
from modelhouse.types import UsageReport


def _iso(moment: datetime | str | None) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else moment


class UsageResource(Resource):
    def retrieve(
        self,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        group_by: str | None = None,
    ) -> UsageReport:
        """Usage from ``start`` (default: the period's start) to ``end`` (default: now),
        grouped by ``day``, ``model``, ``api_key`` or ``meter`` (the default)."""
        return self._get(
            "/v1/usage", UsageReport, start=_iso(start), end=_iso(end), group_by=group_by
        )

    def csv(
        self,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        group_by: str | None = None,
    ) -> str:
        """The same report as CSV text."""
        params = {"start": _iso(start), "end": _iso(end), "group_by": group_by}
        return self._client.request("GET", "/v1/usage.csv", params=params).text
