"""Input validation and output shapes of the usage, invoice and spend-setting endpoints.

Money is an integer in minor units next to ``currency``; unit prices are
decimal strings in minor units (a base-model image costs ``"0.05"`` cents).
"""

from __future__ import annotations

from rest_framework import serializers

from billing.models import CreditNote, Invoice, InvoiceLine, UsageEvent
from billing.periods import period_containing
from billing.price_book import METERS
from billing.selectors import BillingOverview, KeyQuotaUse
from tenants.models import Tenant

GROUP_BY = ("day", "model", "api_key", "meter")
# Far above any real cap or quota, far inside a PostgreSQL bigint.
_MAX_SETTING = 10**15


class UsageQuery(serializers.Serializer):
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    group_by = serializers.ChoiceField(GROUP_BY, default="meter")


class CreditNoteInput(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1, help_text="Minor units of the invoice currency.")
    reason = serializers.CharField(max_length=500)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer and nothing else (DRF's own takes ``"12"``, ``12.0`` and ``true``):
    a spend setting sent as anything else is a client bug, not something to guess at."""

    def to_internal_value(self, data):
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class SpendCapInput(serializers.Serializer):
    spend_cap = StrictIntegerField(
        min_value=0,
        max_value=_MAX_SETTING,
        allow_null=True,
        help_text="Monthly cap on usage charges, minor units; null: back to the plan's cap.",
    )


class KeyQuotaInput(serializers.Serializer):
    api_key = serializers.CharField(max_length=40, help_text="An API key id (key_...).")
    meter = serializers.ChoiceField(METERS)
    monthly_limit = StrictIntegerField(
        min_value=0,
        max_value=_MAX_SETTING,
        allow_null=True,
        help_text="Units of the meter per billing period through this key; null lifts it.",
    )


class TierOutput(serializers.Serializer):
    first_unit = serializers.IntegerField()
    last_unit = serializers.IntegerField()
    quantity = serializers.IntegerField()
    unit_price = serializers.CharField()
    amount = serializers.CharField(help_text="Exact, before the line is rounded.")


class PeriodOutput(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class InvoiceLineOutput(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.ChoiceField(["base_fee", "usage", "spend_cap_credit"])
    description = serializers.CharField()
    meter = serializers.CharField(allow_null=True)
    model = serializers.CharField(allow_null=True)
    quantity = serializers.IntegerField()
    unit_price = serializers.CharField(allow_null=True)
    amount = serializers.IntegerField()
    tiers = TierOutput(many=True)
    service_period = PeriodOutput()
    adjustment = serializers.BooleanField()


class CreditNoteRefundOutput(serializers.Serializer):
    id = serializers.CharField(allow_null=True, help_text="The Stripe refund (re_...) once made.")
    status = serializers.ChoiceField(
        [CreditNote.RefundStatus.PENDING.value, CreditNote.RefundStatus.REFUNDED.value]
    )


class CreditNoteOutput(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    invoice = serializers.CharField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    reason = serializers.CharField()
    refund = CreditNoteRefundOutput(
        allow_null=True,
        help_text="Stripe's refund of a credit on a Stripe invoice; null with the local provider.",
    )
    created_at = serializers.DateTimeField()


class InvoiceOutput(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    status = serializers.ChoiceField([s.value for s in Invoice.Status])
    currency = serializers.CharField()
    plan = serializers.CharField()
    period = PeriodOutput()
    total = serializers.IntegerField()
    amount_credited = serializers.IntegerField()
    amount_due = serializers.IntegerField()
    lines = InvoiceLineOutput(many=True)
    credit_notes = CreditNoteOutput(many=True)
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    voided_at = serializers.DateTimeField(allow_null=True)


class UsageEventOutput(serializers.Serializer):
    id = serializers.CharField()
    meter = serializers.CharField()
    quantity = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    recorded_at = serializers.DateTimeField()
    model = serializers.CharField()
    api_key = serializers.CharField()
    source = serializers.CharField()


class UsageRowOutput(serializers.Serializer):
    group = serializers.CharField()
    meter = serializers.CharField()
    quantity = serializers.IntegerField()
    amount = serializers.IntegerField(allow_null=True)


class UsagePeriodOutput(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    plan = serializers.CharField()
    amount_so_far = serializers.IntegerField()
    projected_amount = serializers.IntegerField()
    spend_cap = serializers.IntegerField(allow_null=True)


class UsageOutput(serializers.Serializer):
    object = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    group_by = serializers.CharField()
    currency = serializers.CharField()
    data = UsageRowOutput(many=True)
    current_period = UsagePeriodOutput()


class KeyQuotaOutput(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    api_key = serializers.CharField()
    meter = serializers.CharField()
    monthly_limit = serializers.IntegerField()
    used = serializers.IntegerField(help_text="Units used through the key this period.")


class KeyQuotaListOutput(serializers.Serializer):
    object = serializers.CharField()
    data = KeyQuotaOutput(many=True)
    has_more = serializers.BooleanField()


class BillingAccountOutput(serializers.Serializer):
    object = serializers.CharField()
    plan = serializers.CharField()
    status = serializers.ChoiceField([s.value for s in Tenant.Status])
    past_due_since = serializers.DateTimeField(allow_null=True)
    currency = serializers.CharField()
    current_period = PeriodOutput()
    spend_cap = serializers.IntegerField(allow_null=True, help_text="In force; null: uncapped.")
    spend_cap_source = serializers.ChoiceField(["plan", "account"])
    plan_spend_cap = serializers.IntegerField(allow_null=True)
    usage_charges = serializers.IntegerField(help_text="This period so far, before the cap.")
    amount_so_far = serializers.IntegerField()
    projected_amount = serializers.IntegerField()
    quotas = KeyQuotaOutput(many=True)


def _time(value):
    return serializers.DateTimeField().to_representation(value) if value else None


def _period(start) -> dict:
    return {"start": _time(start), "end": _time(period_containing(start).end)}


def line_data(line: InvoiceLine) -> dict:
    return {
        "id": line.public_id,
        "kind": line.kind,
        "description": line.description,
        "meter": line.meter or None,
        "model": line.model_ref or None,
        "quantity": line.quantity,
        "unit_price": line.unit_price or None,
        "amount": line.amount_minor,
        "tiers": line.tiers,
        "service_period": _period(line.service_period_start),
        "adjustment": line.is_adjustment,
    }


def credit_note_data(note: CreditNote, invoice: Invoice) -> dict:
    return {
        "id": note.public_id,
        "object": "credit_note",
        "invoice": invoice.public_id,
        "amount": note.amount_minor,
        "currency": invoice.currency,
        "reason": note.reason,
        "refund": _refund_data(note),
        "created_at": _time(note.created_at),
    }


def _refund_data(note: CreditNote) -> dict | None:
    if note.refund_status == CreditNote.RefundStatus.NONE:
        return None
    return {"id": note.provider_refund_id or None, "status": note.refund_status}


def invoice_data(invoice: Invoice) -> dict:
    """Needs ``lines`` and ``credit_notes`` prefetched (or costs two queries)."""
    lines = sorted(invoice.lines.all(), key=lambda line: line.position)
    notes = sorted(invoice.credit_notes.all(), key=lambda note: note.pk)
    return {
        "id": invoice.public_id,
        "object": "invoice",
        "status": invoice.status,
        "currency": invoice.currency,
        "plan": invoice.plan_code,
        "period": {"start": _time(invoice.period_start), "end": _time(invoice.period_end)},
        "total": invoice.total_minor,
        "amount_credited": invoice.credited_minor,
        "amount_due": invoice.amount_due_minor if invoice.status == Invoice.Status.OPEN else 0,
        "lines": [line_data(line) for line in lines],
        "credit_notes": [credit_note_data(note, invoice) for note in notes],
        "created_at": _time(invoice.created_at),
        "paid_at": _time(invoice.paid_at),
        "voided_at": _time(invoice.voided_at),
    }


def usage_event_data(event: UsageEvent) -> dict:
    return {
        "id": event.public_id,
        "meter": event.meter,
        "quantity": event.quantity,
        "occurred_at": _time(event.occurred_at),
        "recorded_at": _time(event.created_at),
        "model": event.model_ref,
        "api_key": event.api_key_ref,
        "source": event.source,
    }


def key_quota_data(use: KeyQuotaUse) -> dict:
    quota = use.quota
    return {
        "id": quota.public_id,
        "object": "api_key_quota",
        "api_key": quota.api_key_ref,
        "meter": quota.meter,
        "monthly_limit": quota.monthly_limit,
        "used": use.used,
    }


def key_quotas_data(uses: list[KeyQuotaUse]) -> dict:
    return {"object": "list", "data": [key_quota_data(use) for use in uses], "has_more": False}


def billing_account_data(overview: BillingOverview) -> dict:
    return {
        "object": "billing_account",
        "plan": overview.plan.code,
        "status": overview.status,
        "past_due_since": _time(overview.past_due_since),
        "currency": overview.plan.currency,
        "current_period": {
            "start": _time(overview.period.start),
            "end": _time(overview.period.end),
        },
        "spend_cap": overview.spend_cap,
        "spend_cap_source": overview.spend_cap_source,
        "plan_spend_cap": overview.plan.monthly_spend_cap_minor,
        "usage_charges": overview.usage_charges,
        "amount_so_far": overview.amount_so_far,
        "projected_amount": overview.projected_amount,
        "quotas": [key_quota_data(use) for use in overview.quotas],
    }
