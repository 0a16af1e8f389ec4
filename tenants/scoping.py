"""Layer 2 of tenancy: tenant-owned models and their fail-closed manager.

Every tenant-owned model derives from :class:`TenantOwnedModel`.  Its default
manager answers only the current tenant's rows and raises when no tenant is in
context.  The one way to read across tenants is :func:`unscoped`, which names
its reason and leaves an audit row.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import models

from tenants.context import _unscoped_block, current_tenant, require_tenant, unscoped_reason
from tenants.ids import new_public_id


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
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+",
                               db_index=False)
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
    return models.UniqueConstraint(fields=["tenant", "public_id"],
                                   name=f"{model_name}_tenant_public_id_uniq")


@contextmanager
def unscoped(reason: str, *, actor: str = "system"):
    """Read across tenants, deliberately: the one audited entry point.

    Both the ORM filter and the database policy are lifted for the block.  Use it
    for billing runs, staff reports and admin — never on a tenant's request path.
    """
    from tenants.models import UnscopedAccess

    if not reason or not reason.strip():
        raise ValueError("unscoped() needs a reason")
    UnscopedAccess.objects.create(reason=reason, actor=actor,
                                  tenant_in_context=getattr(current_tenant(), "pk", None))
    with _unscoped_block(reason):
        yield

