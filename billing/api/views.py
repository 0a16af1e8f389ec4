"""``/v1/usage`` and ``/v1/invoices``: what a tenant used, what it owes and what it was
credited (``read`` scope).  Read-only: credit notes, refunds and settlement are decided by
the operator's staff in the staff console (billing.admin), never through a tenant's key."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from django.db.models import Prefetch
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from billing import selectors
from billing.api.serializers import (
    CreditNoteOutput,
    InvoiceOutput,
    UsageEventOutput,
    UsageOutput,
    UsageQuery,
)
from billing.ledger.periods import period_containing
from billing.models import InvoiceLine
from core.api.views import TenantAPIView
from core.context import tenant_context
from core.errors import InvalidRequest, NotFound
from tenants.roles import Scope

_MAX_RANGE = timedelta(days=400)
_CSV_CHUNK = 2000
_HOUR = timedelta(hours=1)

_USAGE_PARAMS = [
    OpenApiParameter(
        "start",
        OpenApiTypes.DATETIME,
        description="Inclusive, rounded down to the hour (default: period start).",
    ),
    OpenApiParameter(
        "end",
        OpenApiTypes.DATETIME,
        description="Exclusive, rounded up to the hour (default: now).",
    ),
    OpenApiParameter("group_by", str, enum=["day", "model", "api_key", "meter"]),
]


def _usage_query(request) -> tuple[datetime, datetime, str]:
    query = UsageQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    now = timezone.now()
    start = _floor_hour(query.validated_data.get("start") or period_containing(now).start)
    end = _floor_hour(query.validated_data.get("end") or now)
    if end < (query.validated_data.get("end") or now):
        end += _HOUR
    if start >= end:
        raise InvalidRequest("start must be before end.", param="start")
    if end - start > _MAX_RANGE:
        raise InvalidRequest("A usage range spans at most 400 days.", param="end")
    return start, end, query.validated_data["group_by"]


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class UsageSummary(TenantAPIView):
    required_scopes = {"GET": Scope.READ}

    @extend_schema(operation_id="usage_retrieve", parameters=_USAGE_PARAMS, responses=UsageOutput)
    def get(self, request):
        start, end, group_by = _usage_query(request)
        report = selectors.usage_report_get(
            self.tenant, start=start, end=end, group_by=group_by, now=timezone.now()
        )
        return Response(UsageOutput(report).data)


class UsageCsv(TenantAPIView):
    required_scopes = {"GET": Scope.READ}

    @extend_schema(
        operation_id="usage_csv",
        parameters=_USAGE_PARAMS,
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request):
        start, end, group_by = _usage_query(request)
        report = selectors.usage_report_get(
            self.tenant, start=start, end=end, group_by=group_by, now=timezone.now()
        )
        rows = [[group_by, "meter", "quantity", "amount", "currency"]]
        rows += [
            [
                row["group"],
                row["meter"],
                row["quantity"],
                "" if row["amount"] is None else row["amount"],
                report.currency,
            ]
            for row in report.rows
        ]
        return _csv_response(rows, f"usage-{start:%Y%m%d%H}-{end:%Y%m%d%H}.csv")


def _invoices(tenant):
    lines = Prefetch("lines", queryset=InvoiceLine.objects.order_by("position"))
    notes = Prefetch("credit_notes", queryset=selectors.credit_note_list(tenant).order_by("pk"))
    return selectors.invoice_list(tenant).prefetch_related(lines, notes)


class InvoiceList(TenantAPIView):
    required_scopes = {"GET": Scope.READ}

    @extend_schema(operation_id="invoices_list", responses=InvoiceOutput(many=True))
    def get(self, request):
        return self.paginated(_invoices(self.tenant), InvoiceOutput)


class InvoiceDetail(TenantAPIView):
    required_scopes = {"GET": Scope.READ}

    @extend_schema(operation_id="invoices_retrieve", responses=InvoiceOutput)
    def get(self, request, invoice_id: str):
        selectors.invoice_get(self.tenant, public_id=invoice_id)
        return Response(InvoiceOutput(_invoices(self.tenant).get(public_id=invoice_id)).data)


class InvoiceLinesCsv(TenantAPIView):
    required_scopes = {"GET": Scope.READ}

    @extend_schema(
        operation_id="invoices_lines_csv", responses={(200, "text/csv"): OpenApiTypes.STR}
    )
    def get(self, request, invoice_id: str):
        invoice = selectors.invoice_get(self.tenant, public_id=invoice_id)
        rows = [
            [
                "invoice",
                "line",
                "position",
                "kind",
                "description",
                "meter",
                "model",
                "quantity",
                "unit_price",
                "amount",
                "currency",
                "service_period",
                "adjustment",
                "tiers",
            ]
        ]
        for line in selectors.invoice_line_list(self.tenant, invoice=invoice):
            tiers = "; ".join(
                f"{t['first_unit']}-{t['last_unit']} @ {t['unit_price']}" for t in line.tiers
            )
            rows.append(
                [
                    invoice.public_id,
                    line.public_id,
                    line.position,
                    line.kind,
                    line.description,
                    line.meter,
                    line.model_ref,
                    line.quantity,
                    line.unit_price,
                    line.amount_minor,
                    invoice.currency,
                    f"{line.service_period_start:%Y-%m}",
                    line.is_adjustment,
                    tiers,
                ]
            )
        return _csv_response(rows, f"{invoice.public_id}-lines.csv")


def _line(tenant, invoice_id: str, line_id: str) -> InvoiceLine:
    invoice = selectors.invoice_get(tenant, public_id=invoice_id)
    line = selectors.invoice_line_list(tenant, invoice=invoice).filter(public_id=line_id).first()
    if line is None:
        raise NotFound.for_id("invoice line", line_id, param="line_id")
    return line


class InvoiceLineEvents(TenantAPIView):
    required_scopes = {"GET": Scope.READ}

    @extend_schema(operation_id="invoices_line_events", responses=UsageEventOutput(many=True))
    def get(self, request, invoice_id: str, line_id: str):
        line = _line(self.tenant, invoice_id, line_id)
        return self.paginated(selectors.usage_event_list(self.tenant, line=line), UsageEventOutput)


class InvoiceLineEventsCsv(TenantAPIView):
    required_scopes = {"GET": Scope.READ}

    @extend_schema(
        operation_id="invoices_line_events_csv", responses={(200, "text/csv"): OpenApiTypes.STR}
    )
    def get(self, request, invoice_id: str, line_id: str):
        line = _line(self.tenant, invoice_id, line_id)
        header = [
            "event",
            "occurred_at",
            "recorded_at",
            "meter",
            "model",
            "api_key",
            "quantity",
            "source",
        ]
        events = selectors.usage_event_list(self.tenant, line=line).order_by()

        def rows() -> Iterator[list]:
            for event in _in_chunks(events):
                yield [
                    event.public_id,
                    event.occurred_at.isoformat(),
                    event.created_at.isoformat(),
                    event.meter,
                    event.model_ref,
                    event.api_key_ref,
                    event.quantity,
                    event.source,
                ]

        return _csv_stream(self.tenant, header, rows, f"{line.public_id}-events.csv")


class InvoiceCreditNoteList(TenantAPIView):
    required_scopes = {"GET": Scope.READ}

    @extend_schema(operation_id="invoices_credit_notes_list", responses=CreditNoteOutput(many=True))
    def get(self, request, invoice_id: str):
        invoice = selectors.invoice_get(self.tenant, public_id=invoice_id)
        notes = selectors.credit_note_list(self.tenant, invoice=invoice).select_related("invoice")
        return self.paginated(notes, CreditNoteOutput)


# --- CSV --------------------------------------------------------------------------


def _csv_response(rows: Iterable[list], filename: str) -> HttpResponse:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv_stream(
    tenant, header: list, rows: Callable[[], Iterator[list]], filename: str
) -> StreamingHttpResponse:
    """Stream a large CSV; the generator runs after the view returns, so it re-enters
    the tenant's context itself (outside it, the database would show no rows)."""

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        with tenant_context(tenant):
            for row in rows():
                writer.writerow(row)
                if buffer.tell() > 64_000:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _in_chunks(queryset) -> Iterator:
    """Keyset pages in primary-key order: bounded memory without server-side cursors."""
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last).order_by("pk")[:_CSV_CHUNK])
        yield from batch
        if len(batch) < _CSV_CHUNK:
            return
        last = batch[-1].pk
