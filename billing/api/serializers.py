"""Input validation and output shapes of the usage, invoice and spend-setting endpoints.

Money is an integer in minor units next to ``currency``; unit prices are
decimal strings in minor units (a base-model image costs ``"0.05"`` cents).
"""

from __future__ import annotations

from datetime import datetime

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.ledger.periods import period_containing
from billing.models import CreditNote, Invoice, InvoiceLine
from billing.pricing.price_book import METERS
from billing.selectors import KeyQuotaUse
from core.api.fields import Constant
from tenants.models import Tenant

GROUP_BY = ("day", "model", "api_key", "meter")
# Far above any real cap or quota, far inside a PostgreSQL bigint.
_MAX_SETTING = 10**15


class UsageQuery(serializers.Serializer):
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    group_by = serializers.ChoiceField(GROUP_BY, default="meter")


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


class ServicePeriodOutput(serializers.Serializer):
    """The billing period a line's usage happened in (an adjustment's is an earlier one)."""

    start = serializers.DateTimeField(source="service_period_start")
    end = serializers.SerializerMethodField()

    def get_end(self, line: InvoiceLine) -> datetime:
        return serializers.DateTimeField().to_representation(
            period_containing(line.service_period_start).end
        )


class InvoiceLineOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    kind = serializers.ChoiceField(["base_fee", "usage", "spend_cap_credit"])
    description = serializers.CharField()
    meter = serializers.CharField(allow_null=True)
    model = serializers.CharField(source="model_ref", allow_null=True)
    quantity = serializers.IntegerField()
    unit_price = serializers.CharField(allow_null=True)
    amount = serializers.IntegerField(source="amount_minor")
    tiers = TierOutput(many=True)
    service_period = ServicePeriodOutput(source="*")
    adjustment = serializers.BooleanField(source="is_adjustment")

    def to_representation(self, line: InvoiceLine) -> dict:
        data = super().to_representation(line)
        for name in ("meter", "model", "unit_price"):  # stored blank where a line has none
            data[name] = data[name] or None
        return data


class CreditNoteRefundOutput(serializers.Serializer):
    id = serializers.CharField(
        source="provider_refund_id", allow_null=True, help_text="The Stripe refund (re_...)."
    )
    status = serializers.ChoiceField(
        [CreditNote.RefundStatus.PENDING.value, CreditNote.RefundStatus.REFUNDED.value],
        source="refund_status",
    )

    def to_representation(self, note: CreditNote) -> dict | None:
        if note.refund_status == CreditNote.RefundStatus.NONE:  # nothing to refund through
            return None
        data = super().to_representation(note)
        data["id"] = data["id"] or None  # pending: no refund id yet
        return data


class CreditNoteOutput(serializers.Serializer):
    """An issued credit note: staff decided it, and it lowered what the invoice's tenant owes
    (tenants never see one awaiting approval or rejected: billing.selectors.credit_note_list)."""

    id = serializers.CharField(source="public_id")
    object = Constant("credit_note")
    invoice = serializers.CharField(source="invoice.public_id")
    amount = serializers.IntegerField(source="amount_minor")
    currency = serializers.CharField(source="invoice.currency")
    reason = serializers.CharField()
    refund = CreditNoteRefundOutput(
        source="*",
        allow_null=True,
        help_text="Stripe's refund of a credit on a Stripe invoice; null with the local provider.",
    )
    created_at = serializers.DateTimeField()


class InvoiceOutput(serializers.Serializer):
    """Needs ``lines`` and ``credit_notes`` prefetched (or costs two queries); the credit
    notes prefetched are the issued ones (billing.api.views)."""

    id = serializers.CharField(source="public_id")
    object = Constant("invoice")
    status = serializers.ChoiceField(Invoice.Status.values)
    currency = serializers.CharField()
    plan = serializers.CharField(source="plan_code")
    period = serializers.SerializerMethodField()
    total = serializers.IntegerField(source="total_minor")
    amount_credited = serializers.IntegerField(source="credited_minor")
    amount_due = serializers.SerializerMethodField(help_text="0 once paid or voided.")
    lines = serializers.SerializerMethodField()
    credit_notes = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    voided_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(PeriodOutput)
    def get_period(self, invoice: Invoice) -> dict:
        return PeriodOutput({"start": invoice.period_start, "end": invoice.period_end}).data

    def get_amount_due(self, invoice: Invoice) -> int:
        return invoice.amount_due_minor if invoice.status == Invoice.Status.OPEN else 0

    @extend_schema_field(InvoiceLineOutput(many=True))
    def get_lines(self, invoice: Invoice) -> list:
        lines = sorted(invoice.lines.all(), key=lambda line: line.position)
        return InvoiceLineOutput(lines, many=True).data

    @extend_schema_field(CreditNoteOutput(many=True))
    def get_credit_notes(self, invoice: Invoice) -> list:
        notes = sorted(invoice.credit_notes.all(), key=lambda note: note.pk)
        for note in notes:
            note.invoice = invoice  # already in hand: no query per note
        return CreditNoteOutput(notes, many=True).data


class UsageEventOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    meter = serializers.CharField()
    quantity = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    recorded_at = serializers.DateTimeField(source="created_at")
    model = serializers.CharField(source="model_ref")
    api_key = serializers.CharField(source="api_key_ref")
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
    """Renders a billing.selectors.UsageReport."""

    object = Constant("usage")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    group_by = serializers.CharField()
    currency = serializers.CharField()
    data = UsageRowOutput(many=True, source="rows")
    current_period = UsagePeriodOutput()


class KeyQuotaOutput(serializers.Serializer):
    """Renders a billing.selectors.KeyQuotaUse."""

    id = serializers.CharField(source="quota.public_id")
    object = Constant("api_key_quota")
    api_key = serializers.CharField(source="quota.api_key_ref")
    meter = serializers.CharField(source="quota.meter")
    monthly_limit = serializers.IntegerField(source="quota.monthly_limit")
    used = serializers.IntegerField(help_text="Units used through the key this period.")


class KeyQuotaListOutput(serializers.Serializer):
    """Every quota at once (a tenant has a few): a list that never has more."""

    object = Constant("list")
    data = KeyQuotaOutput(many=True, source="*")
    has_more = serializers.SerializerMethodField()

    def get_has_more(self, uses: list[KeyQuotaUse]) -> bool:
        return False


class BillingAccountOutput(serializers.Serializer):
    """Renders a billing.selectors.BillingOverview."""

    object = Constant("billing_account")
    plan = serializers.CharField(source="plan.code")
    status = serializers.ChoiceField([s.value for s in Tenant.Status])
    past_due_since = serializers.DateTimeField(allow_null=True)
    currency = serializers.CharField(source="plan.currency")
    current_period = PeriodOutput(source="period")
    spend_cap = serializers.IntegerField(allow_null=True, help_text="In force; null: uncapped.")
    spend_cap_source = serializers.ChoiceField(["plan", "account"])
    plan_spend_cap = serializers.IntegerField(
        source="plan.monthly_spend_cap_minor", allow_null=True
    )
    usage_charges = serializers.IntegerField(help_text="This period so far, before the cap.")
    amount_so_far = serializers.IntegerField()
    projected_amount = serializers.IntegerField()
    quotas = KeyQuotaOutput(many=True)
