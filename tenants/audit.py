"""Audit rows for every state change (written by services, in their transaction)."""

from __future__ import annotations

from tenants.models import AuditEvent, Tenant


def actor_label(actor) -> str:
    """``user:<id>``, ``key:<public id>`` or ``system`` for whoever acted."""
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    public_id = getattr(actor, "api_key_public_id", None)
    if public_id:
        return f"key:{public_id}"
    return f"user:{actor.pk}"


def audit(tenant: Tenant, *, actor, action: str, target: str = "", **data) -> AuditEvent:
    return AuditEvent.objects.create(
        tenant=tenant, actor=actor_label(actor), action=action, target=target, data=data
    )
