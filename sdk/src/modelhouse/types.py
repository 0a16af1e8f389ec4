"""Typed views of the API's JSON objects.

Each class lists the fields callers rely on, converted from JSON by their type
hints (ISO times become aware ``datetime``, nested objects their class).  The
whole answer stays in ``raw``, so a field the server adds later is reachable
before this package learns about it.  A field missing from an answer is ``None``.
"""

from __future__ import annotations

import dataclasses
import types
from datetime import datetime
from typing import (
    Any,
    ClassVar,
    Self,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

PREDICTION_FINAL = ("succeeded", "failed")
FINE_TUNE_FINAL = ("succeeded", "failed", "cancelled")


@dataclasses.dataclass(frozen=True)
class APIObject:
    raw: dict[str, Any] = dataclasses.field(repr=False, compare=False)

    _hints: ClassVar[dict[type, dict[str, Any]]] = {}

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Self:
        hints = cls._hints.get(cls)
        if hints is None:
            hints = cls._hints[cls] = get_type_hints(cls)
        values = {
            field.name: _convert(hints[field.name], data.get(field.name))
            for field in dataclasses.fields(cls)
            if field.name != "raw"
        }
        return cls(raw=data, **values)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):  # X | None
        (inner,) = [arg for arg in get_args(hint) if arg is not type(None)]
        return _convert(inner, value)
    if origin is list:
        (item,) = get_args(hint)
        return [_convert(item, element) for element in value]
    if hint is datetime:
        return datetime.fromisoformat(value)
    if isinstance(hint, type) and issubclass(hint, APIObject):
        return hint.from_api(value)
    return value


# --- models and predictions ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Model(APIObject):
    id: str
    kind: str  # "base", "head" or "full"
    name: str
    labels: list[str]
    input: dict[str, Any]
    status: str
    metrics: dict[str, Any]
    active: bool | None
    base_model: str | None
    created_at: datetime | None


@dataclasses.dataclass(frozen=True)
class Score(APIObject):
    label: str
    score: float


@dataclasses.dataclass(frozen=True)
class PredictionResult(APIObject):
    label: str
    score: float
    top_k: list[Score]


@dataclasses.dataclass(frozen=True)
class Prediction(APIObject):
    id: str
    model: str
    status: str  # "queued", "running", "succeeded" or "failed"
    results: list[PredictionResult] | None
    usage: dict[str, int]
    error: dict[str, Any] | None
    created_at: datetime | None

    @property
    def done(self) -> bool:
        return self.status in PREDICTION_FINAL


# --- datasets and fine-tunes --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Dataset(APIObject):
    id: str
    name: str
    status: str  # "processing", "ready" or "failed"
    bytes: int
    classes: list[str]
    counts: dict[str, dict[str, int]]
    class_counts: dict[str, int]
    split_counts: dict[str, int]
    rejected_files: list[dict[str, Any]]
    error: dict[str, Any] | None
    created_at: datetime | None
    validated_at: datetime | None


@dataclasses.dataclass(frozen=True)
class FineTune(APIObject):
    id: str
    status: str  # validating, queued, running, succeeded, failed or cancelled
    dataset: str
    base_model: str
    suffix: str
    hyperparameters: dict[str, Any]
    estimate: dict[str, Any]
    progress: dict[str, Any]  # {epoch, epochs, step, steps}
    metrics: dict[str, Any]
    model: str | None
    error: dict[str, Any] | None
    trained_seconds: int
    cancel_requested: bool
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINE_TUNE_FINAL


@dataclasses.dataclass(frozen=True)
class FineTuneEvent(APIObject):
    id: str
    created_at: datetime | None
    level: str
    type: str
    message: str
    data: dict[str, Any]


# --- usage, invoices, keys ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UsageRow(APIObject):
    group: str
    meter: str
    quantity: int
    amount: int | None  # minor units of the report's currency


@dataclasses.dataclass(frozen=True)
class UsageReport(APIObject):
    start: datetime
    end: datetime
    group_by: str
    currency: str
    data: list[UsageRow]
    current_period: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class InvoiceLine(APIObject):
    id: str
    kind: str
    description: str
    meter: str | None
    model: str | None
    quantity: int
    unit_price: str | None  # a decimal string, in minor units
    amount: int


@dataclasses.dataclass(frozen=True)
class CreditNote(APIObject):
    """Money given back on an invoice, decided by the operator's staff (read-only here)."""

    id: str
    invoice: str
    amount: int  # minor units of ``currency``
    currency: str
    reason: str
    refund: dict[str, Any] | None  # Stripe's refund ({"id", "status"}); None: paid back by hand
    created_at: datetime | None


@dataclasses.dataclass(frozen=True)
class Invoice(APIObject):
    id: str
    status: str
    currency: str
    plan: str
    period: dict[str, str]
    total: int
    amount_credited: int
    amount_due: int
    lines: list[InvoiceLine]
    credit_notes: list[CreditNote]
    created_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None


@dataclasses.dataclass(frozen=True)
class APIKey(APIObject):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool
    secret: str | None  # only in the answer that created the key


# --- spend controls -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Period(APIObject):
    start: datetime
    end: datetime


@dataclasses.dataclass(frozen=True)
class KeyQuota(APIObject):
    id: str
    api_key: str
    meter: str  # "images_base", "images_finetuned" or "training_seconds"
    monthly_limit: int  # units of the meter per billing period through the key
    used: int  # units used through the key this period


@dataclasses.dataclass(frozen=True)
class BillingAccount(APIObject):
    """Money is in integer minor units of ``currency``."""

    plan: str
    status: str  # "active", "past_due" or "suspended"
    past_due_since: datetime | None
    currency: str
    current_period: Period
    spend_cap: int | None  # the cap in force on usage charges; None: uncapped
    spend_cap_source: str  # "plan" or "account" (set with billing.set_spend_cap)
    plan_spend_cap: int | None
    usage_charges: int  # this period so far, before the cap
    amount_so_far: int
    projected_amount: int
    quotas: list[KeyQuota]
