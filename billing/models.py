"""Billing's tables: the usage ledger, its hourly rollups, invoices and their lines,
spend settings and alerts, credit notes, and the Stripe webhook inbox.

Money is an integer in minor units of the invoice's currency; unit prices are
decimals stored as text so no float ever touches them (see billing.pricing.rating).
"""

from django.contrib.postgres.indexes import BrinIndex
from django.db import models

from core.models import TenantOwnedModel, public_id_constraint


class CurrentTransactionId(models.Func):
    """The inserting transaction's id (``pg_current_xact_id()``: 64 bits, never wraps)."""

    template = "pg_current_xact_id()::text::bigint"
    output_field = models.BigIntegerField()


class UsageEvent(TenantOwnedModel):
    """One metered fact, append-only: the source of truth for every invoice.

    ``idempotency_key`` is unique per tenant, so a retried or redelivered task
    that records the same fact again inserts nothing: usage is never counted
    twice.  The app role may insert and read these rows, never update or delete
    them (``APPEND_ONLY``, enforced by tenants.rls).

    ``xact`` is the id of the transaction that inserted the row, set by the
    database.  The rollup job reads the ledger in windows of ``xact`` below the
    oldest transaction still running (billing.ledger.rollup), so no commit,
    however late or whatever its host's clock, can land behind what it has
    read; a BRIN index serves those windows (ids only grow).  ``created_at``
    and the ``occurred_at`` of what happens "now" come from the database clock
    too.  A late event (an old ``occurred_at``) is picked up like any other.
    """

    PUBLIC_ID_PREFIX = "ue"
    APPEND_ONLY = True

    meter = models.CharField(max_length=40)
    quantity = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    idempotency_key = models.CharField(max_length=200)
    source = models.CharField(max_length=80)  # "prediction:pred_…", "fine_tune:ft_…"
    model_ref = models.CharField(max_length=40, blank=True)  # public id of the model
    api_key_ref = models.CharField(max_length=40, blank=True)
    xact = models.BigIntegerField(db_default=CurrentTransactionId(), editable=False)

    class Meta:
        constraints = [
            public_id_constraint("usageevent"),
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"], name="usageevent_tenant_idempotency_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="usageevent_quantity_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "occurred_at"], name="usage_tenant_time_idx"),
            BrinIndex(fields=["xact"], name="usage_xact_brin"),
        ]


class UsageRollup(TenantOwnedModel):
    """The ledger summed per tenant, hour, meter, model and API key (billing.ledger.rollup).

    Written only by set-based SQL; rows are internal and never addressed by id,
    so ``public_id`` stays empty.  ``updated_at`` moves whenever late usage
    lands in the row, which is how period close finds closed periods that need
    an adjustment.

    Derived rows, rewritten by the hundred thousand in a catch-up run: the tenant
    column carries no foreign-key check (each would lock the tenant row; the
    ledger rows they sum already passed it, and tenants are never deleted
    outside the ORM, whose cascade still applies) and no index of its own (the
    unique key leads with it).
    """

    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    hour = models.DateTimeField()
    meter = models.CharField(max_length=40)
    model_ref = models.CharField(max_length=40, blank=True)
    api_key_ref = models.CharField(max_length=40, blank=True)
    quantity = models.BigIntegerField()
    events = models.BigIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "hour", "meter", "model_ref", "api_key_ref"],
                name="usagerollup_tenant_hour_key_uniq",
            ),
        ]
        indexes = [BrinIndex(fields=["hour"], name="usagerollup_hour_brin")]


class LedgerWatermark(models.Model):
    """How far the rollup job has read the ledger (one row per job).  Global table.

    Every event whose transaction id (``UsageEvent.xact``) is below ``horizon``
    is in the rollups; the next run reads from there.  ``rolled_up_to`` is the
    database time of that run.  Advanced in the rollup's own transaction, so a
    window is counted exactly once.
    """

    name = models.CharField(max_length=40, primary_key=True)
    rolled_up_to = models.DateTimeField()
    horizon = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} @ {self.rolled_up_to.isoformat()}"


class BillingAccount(TenantOwnedModel):
    """A tenant's billing settings and its link to the payment provider (one per tenant)."""

    PUBLIC_ID_PREFIX = "ba"

    spend_cap_minor = models.BigIntegerField(null=True, blank=True)  # None: the plan's cap
    billing_email = models.EmailField(blank=True)
    stripe_customer_id = models.CharField(max_length=60, blank=True)
    stripe_subscription_id = models.CharField(max_length=60, blank=True)
    past_due_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            public_id_constraint("billingaccount"),
            models.UniqueConstraint(fields=["tenant"], name="billingaccount_tenant_uniq"),
        ]
        indexes = [models.Index(fields=["stripe_customer_id"], name="billing_stripe_customer_idx")]


class ApiKeyQuota(TenantOwnedModel):
    """At most ``monthly_limit`` units of ``meter`` per billing period through one API key."""

    PUBLIC_ID_PREFIX = "kq"

    api_key_ref = models.CharField(max_length=40)
    meter = models.CharField(max_length=40)
    monthly_limit = models.BigIntegerField()

    class Meta:
        constraints = [
            public_id_constraint("apikeyquota"),
            models.UniqueConstraint(
                fields=["tenant", "api_key_ref", "meter"], name="apikeyquota_tenant_key_meter_uniq"
            ),
        ]


class Invoice(TenantOwnedModel):
    """A tenant's bill for one monthly period, rated from the rollups at period close.

    ``usage_horizon`` is the ledger's transaction horizon the close read up to
    (billing.ledger.rollup): the invoice bills exactly the events of its
    period whose transaction id lies below it, and ``usage_cutoff`` is the
    database time of that read.  Events that arrive later become adjustment
    lines of a later invoice.
    """

    PUBLIC_ID_PREFIX = "inv"

    class Status(models.TextChoices):
        OPEN = "open"
        PAID = "paid"
        VOID = "void"

    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    plan_code = models.CharField(max_length=40)
    currency = models.CharField(max_length=3)
    total_minor = models.BigIntegerField()
    credited_minor = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    usage_cutoff = models.DateTimeField()
    usage_horizon = models.BigIntegerField(default=0)
    closed_at = models.DateTimeField()  # database time of the close that cut it
    provider = models.CharField(max_length=20)
    provider_invoice_id = models.CharField(max_length=60, blank=True)
    remote_status = models.CharField(max_length=20, blank=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True)  # newest webhook applied
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            public_id_constraint("invoice"),
            models.UniqueConstraint(
                fields=["tenant", "period_start"], name="invoice_tenant_period_uniq"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "-id"], name="invoice_tenant_list_idx")]
        # The staff console's money decisions (billing.admin); tenants never settle.
        permissions = [("settle_invoice", "Can mark invoices paid or void them")]

    def __str__(self) -> str:
        return self.public_id

    @property
    def amount_due_minor(self) -> int:
        return max(0, self.total_minor - self.credited_minor)


class InvoiceLine(TenantOwnedModel):
    """One rated line: a fee, one meter and model of the period, a cap credit, or an adjustment.

    An adjustment (``is_adjustment``) bills usage of an earlier, already
    invoiced period (``service_period_start``) that reached the ledger after
    that invoice was cut: events from the earlier invoice's horizon
    (``events_from_horizon``) to this invoice's.  ``events_created_from`` also
    bounds them by time where the earlier invoice predates transaction horizons
    (billing migration 0006).  ``tiers`` holds the tier breakdown as text
    decimals.
    """

    PUBLIC_ID_PREFIX = "il"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20)  # base_fee | usage | spend_cap_credit
    description = models.CharField(max_length=200)
    meter = models.CharField(max_length=40, blank=True)
    model_ref = models.CharField(max_length=40, blank=True)
    quantity = models.BigIntegerField(default=0)
    unit_price = models.CharField(max_length=40, blank=True)  # effective price, minor units
    amount_minor = models.BigIntegerField()
    tiers = models.JSONField(default=list)
    service_period_start = models.DateTimeField()
    is_adjustment = models.BooleanField(default=False)
    events_created_from = models.DateTimeField(null=True, blank=True)
    events_from_horizon = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            public_id_constraint("invoiceline"),
            models.UniqueConstraint(
                fields=["tenant", "invoice", "position"], name="invoiceline_tenant_position_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "service_period_start"], name="invoiceline_service_idx")
        ]


class CreditNote(TenantOwnedModel):
    """Money given back on an issued invoice, decided by the operator's staff, never a tenant.

    A staff member with ``issue_credit_note`` requests it (``requested_by``,
    ``staff:<user id>``) with a reason.  Up to ``BILLING_CREDIT_NOTE_APPROVAL_MINOR``
    it is ``issued`` at once; above, it waits in ``pending_approval`` until a
    *different* staff member with ``approve_credit_note`` approves it (then
    ``issued``) or rejects it (``rejected``), recorded in ``reviewed_by`` and
    ``reviewed_at`` (billing.services).  Only an issued note lowers what the
    invoice's tenant owes, counts in ``Invoice.credited_minor``, is shown to the
    tenant and is refunded; a pending one already holds its room on the invoice.

    On a Stripe invoice the money goes back as a Stripe refund of the invoice's
    payment (billing.stripe.refunds): ``refund_status`` is ``pending`` from the
    issue until the ``billing.refund_credit_note`` task has made it, then
    ``refunded`` with ``provider_refund_id`` set.  With the local provider, and
    for any note not issued, there is no refund to make (``none``): finance pays
    a local credit back by hand.
    """

    PUBLIC_ID_PREFIX = "cn"

    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval"
        ISSUED = "issued"
        REJECTED = "rejected"

    class RefundStatus(models.TextChoices):
        NONE = "none"
        PENDING = "pending"
        REFUNDED = "refunded"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    amount_minor = models.BigIntegerField()
    reason = models.CharField(max_length=500)
    # Fail closed: a note made without saying otherwise takes no effect.
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING_APPROVAL
    )
    requested_by = models.CharField(max_length=80)  # "staff:<user id>"
    reviewed_by = models.CharField(max_length=80, blank=True)  # the approver or rejecter
    reviewed_at = models.DateTimeField(null=True, blank=True)
    refund_status = models.CharField(
        max_length=10, choices=RefundStatus.choices, default=RefundStatus.NONE
    )
    provider_refund_id = models.CharField(max_length=60, blank=True)  # "re_…" once refunded

    class Meta:
        constraints = [
            public_id_constraint("creditnote"),
            models.CheckConstraint(
                condition=models.Q(amount_minor__gt=0), name="creditnote_amount_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(status="issued") | models.Q(refund_status="none"),
                name="creditnote_refund_only_when_issued",
            ),
        ]
        permissions = [
            ("issue_credit_note", "Can issue credit notes (large ones need an approver)"),
            ("approve_credit_note", "Can approve or reject another staff member's credit note"),
        ]

    def __str__(self) -> str:
        return self.public_id


class SpendAlert(TenantOwnedModel):
    """A threshold crossed in a period; unique, so each alert is sent once per period.

    ``subject`` is ``spend_cap`` or ``allowance:<meter>``.
    """

    PUBLIC_ID_PREFIX = "sa"

    period_start = models.DateTimeField()
    subject = models.CharField(max_length=60)
    threshold_percent = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            public_id_constraint("spendalert"),
            models.UniqueConstraint(
                fields=["tenant", "period_start", "subject", "threshold_percent"],
                name="spendalert_once_per_period_uniq",
            ),
        ]


class StripeEvent(models.Model):
    """The webhook inbox: each Stripe event stored once, processed asynchronously.  Global table.

    Global because nothing at receipt says which tenant an event is for; the
    processing task resolves the tenant from the Stripe customer id and only
    then enters that tenant's context.  ``event_id`` is unique, so a redelivery
    inserts nothing.
    """

    event_id = models.CharField(max_length=80, unique=True)
    type = models.CharField(max_length=80)
    created = models.DateTimeField()  # Stripe's timestamp of the event
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.event_id} ({self.type})"
