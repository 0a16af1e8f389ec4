"""The usage ledger (and, as billing grows, rollups and invoices)."""

from django.db import models

from tenants.scoping import TenantOwnedModel, public_id_constraint


class UsageEvent(TenantOwnedModel):
    """One metered fact, append-only: the source of truth for every invoice.

    ``idempotency_key`` is unique per tenant, so a retried or redelivered task
    that records the same fact again inserts nothing: usage is never counted
    twice.  The app role may insert and read these rows, never update or delete
    them (``APPEND_ONLY``, enforced by tenants.rls).
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

    class Meta:
        constraints = [
            public_id_constraint("usageevent"),
            models.UniqueConstraint(fields=["tenant", "idempotency_key"],
                                    name="usageevent_tenant_idempotency_uniq"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0),
                                   name="usageevent_quantity_positive"),
        ]
        indexes = [models.Index(fields=["tenant", "occurred_at"], name="usage_tenant_time_idx")]
