"""Billing periods: calendar months in UTC, half-open ``[start, end)``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.errors import InvalidRequest

_LABEL = re.compile(r"^(\d{4})-(\d{2})$")
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, order=True)
class Period:
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m")

    def previous(self) -> Period:
        return period_containing(self.start.replace(day=1) - _ONE_MICROSECOND)

    def __str__(self) -> str:
        return self.label


def period_of_month(year: int, month: int) -> Period:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return Period(start, end)


def period_containing(moment: datetime) -> Period:
    if moment.tzinfo is None:
        raise ValueError("billing periods need timezone-aware datetimes")
    moment = moment.astimezone(UTC)
    return period_of_month(moment.year, moment.month)


def parse_period(label: str) -> Period:
    """``YYYY-MM`` as a period; ``InvalidRequest`` for anything else."""
    match = _LABEL.match(label or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InvalidRequest(f"A period is written YYYY-MM, got {label!r}.", param="period")
    return period_of_month(int(match.group(1)), int(match.group(2)))
