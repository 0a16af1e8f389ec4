"""Layer 2 of tenancy: tenant-owned models and their fail-closed manager, and
the one kernel table (idempotency records).

Every tenant-owned model derives from :class:`TenantOwnedModel`.  Its default
manager answers only the current tenant's rows and raises when no tenant is in
context.  The one way to read across tenants is ``tenants.scoping.unscoped``,
which names its reason and leaves an audit row.  The organisation model is
named by ``settings.TENANT_MODEL`` (as ``AUTH_USER_MODEL`` names the user), so
the kernel imports no app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.context import require_tenant, unscoped_reason
from core.ids import new_public_id


class TenantQuerySet(models.QuerySet):
    pass


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    def get_queryset(self) -> TenantQuerySet:
        queryset = super().get_queryset()
        if unscoped_reason():
            return queryset
        return queryset.filter(tenant=require_tenant())


class TenantOwnedModel(models.Model):
    """Base of every table that belongs to one organisation.

    ``public_id`` is the opaque id clients see; subclasses set ``PUBLIC_ID_PREFIX``.
    Unique constraints and indexes lead with ``tenant`` (see tenants.rls for the
    row-level-security policy every such table receives).
    """

    PUBLIC_ID_PREFIX = ""

    # No index of its own: every subclass has a unique constraint leading with
    # tenant (public_id_constraint) that serves tenant lookups and cascades; a
    # second index on the column only cost every insert (the usage ledger's most).
    tenant = models.ForeignKey(
        settings.TENANT_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    public_id = models.CharField(max_length=40, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        # Not business logic: the two fields every tenant row needs, filled from
        # the context so that a row can never be saved into another tenant.
        if not self.public_id:
            self.public_id = new_public_id(self.PUBLIC_ID_PREFIX)
        if self.tenant_id is None:
            self.tenant = require_tenant()
        super().save(*args, **kwargs)


def public_id_constraint(model_name: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(
        fields=["tenant", "public_id"], name=f"{model_name}_tenant_public_id_uniq"
    )


class IdempotencyRecord(TenantOwnedModel):
    """The first response to a POST with an ``Idempotency-Key``, replayed for repeats.

    While in progress, ``created_at`` is also the lease that a repeat may take
    over once it has run out (core.api.idempotency).
    """

    PUBLIC_ID_PREFIX = "idem"

    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # see request_fingerprint
    status_code = models.PositiveSmallIntegerField(null=True)  # null while in progress
    response_body = models.BinaryField(null=True)
    content_type = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            public_id_constraint("idempotencyrecord"),
            models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_tenant_key_uniq"),
        ]
        # The hourly purge (core.tasks) deletes each tenant's expired rows in
        # batches: a range scan on this index, not a scan of all the tenant's rows.
        indexes = [models.Index(fields=["tenant", "created_at"], name="idempotency_tenant_created")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code or 'in progress'})"
