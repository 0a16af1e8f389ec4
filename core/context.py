"""The current tenant, user and unscoped flag of this request, task or command.

Plain context variables, so each request (see core.middleware) and each Celery
task starts empty.  Layer 2 (the ORM manager) and layer 3 (the per-statement
PostgreSQL setting in core.db) both read them; nothing else selects a tenant.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

from django.db.models import Model

# The organisation model (settings.TENANT_MODEL); the kernel names no app.
Tenant = Model

_tenant: contextvars.ContextVar[Tenant | None] = contextvars.ContextVar("tenant", default=None)
_user_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)
_unscoped: contextvars.ContextVar[str | None] = contextvars.ContextVar("unscoped", default=None)


class TenantContextMissing(RuntimeError):
    """A tenant-owned table was queried with no tenant in context (fails closed)."""


def current_tenant() -> Tenant | None:
    return _tenant.get()


def require_tenant() -> Tenant:
    tenant = _tenant.get()
    if tenant is None:
        raise TenantContextMissing(
            "No tenant in context: enter tenant_context(tenant) or, for a deliberate "
            "cross-tenant read, tenants.scoping.unscoped(reason=...)."
        )
    return tenant


def unscoped_reason() -> str | None:
    return _unscoped.get()


@contextmanager
def tenant_context(tenant: Tenant):
    """Run the block as ``tenant``: ORM and database see only its rows."""
    token = _tenant.set(tenant)
    unscoped_token = _unscoped.set(None)
    try:
        yield tenant
    finally:
        _unscoped.reset(unscoped_token)
        _tenant.reset(token)


@contextmanager
def user_context(user_id: int | None):
    """Let membership look-ups see the signed-in user's own rows (portal)."""
    token = _user_id.set(user_id)
    try:
        yield
    finally:
        _user_id.reset(token)


@contextmanager
def _unscoped_block(reason: str):
    # Only tenants.scoping.unscoped() calls this, after writing its audit row.
    token = _unscoped.set(reason)
    try:
        yield
    finally:
        _unscoped.reset(token)


def database_settings_sql() -> str:
    """The SQL that sets this context's row-level-security inputs for one statement.

    The values are integers or a fixed word, formatted here (never user text), so
    the prefix contains no parameter placeholders.
    """
    tenant = _tenant.get()
    tenant_id = "" if tenant is None else str(int(tenant.pk))
    user_id = _user_id.get()
    user = "" if user_id is None else str(int(user_id))
    return (
        f"SELECT set_config('app.tenant_id', '{tenant_id}', true), "
        f"set_config('app.user_id', '{user}', true);"
    )


def enter_request_tenant(tenant: Tenant) -> None:
    """Select the tenant for the rest of this request.

    No reset is needed: core.middleware runs every request in a fresh context,
    which is discarded when the request ends.
    """
    _tenant.set(tenant)
