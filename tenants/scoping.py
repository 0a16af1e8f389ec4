"""The one way to read across tenants: :func:`unscoped`, which names its reason
and leaves an audit row (the fail-closed manager it lifts is core.models)."""

from __future__ import annotations

from contextlib import contextmanager

from core.context import _unscoped_block, current_tenant


@contextmanager
def unscoped(reason: str, *, actor: str = "system"):
    """Read across tenants, deliberately: the one audited entry point.

    Both the ORM filter and the database policy are lifted for the block.  Use it
    for billing runs, staff reports and admin — never on a tenant's request path.
    """
    from tenants.models import UnscopedAccess

    if not reason or not reason.strip():
        raise ValueError("unscoped() needs a reason")
    UnscopedAccess.objects.create(
        reason=reason, actor=actor, tenant_in_context=getattr(current_tenant(), "pk", None)
    )
    with _unscoped_block(reason):
        yield
