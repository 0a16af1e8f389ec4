"""Writes of a tenant's billing account: spend settings and billing status."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.models import ApiKeyQuota, BillingAccount, Invoice
from billing.pricing.price_book import METERS, get_plan
from billing.spend import totals
from billing.spend.enforcement import forget_refusals
from core.context import tenant_context
from core.errors import InvalidRequest
from tenants.audit import audit
from tenants.models import Tenant
from tenants.scoping import unscoped


def billing_account(tenant: Tenant) -> BillingAccount:
    """The tenant's billing account, created on first use."""
    account, _ = BillingAccount.objects.get_or_create(tenant=tenant)
    return account


@transaction.atomic
def spend_cap_set(tenant: Tenant, *, actor, cap_minor: int | None) -> BillingAccount:
    """Lower the plan's monthly spend cap (``None``: back to the plan's).

    Only at or below the plan's cap (any cap on an uncapped plan): the plan's
    cap is what period close credits above, so raising it would make usage free.
    """
    if cap_minor is not None and cap_minor < 0:
        raise InvalidRequest("The spend cap cannot be negative.", param="spend_cap")
    plan_cap = get_plan(tenant.plan).monthly_spend_cap_minor
    if cap_minor is not None and plan_cap is not None and cap_minor > plan_cap:
        raise InvalidRequest(
            f"The spend cap can only be lowered: the {tenant.plan} plan allows at most "
            f"{plan_cap} (minor units) a month; change plans to spend more.",
            code="spend_cap_above_plan",
            param="spend_cap",
        )
    account = billing_account(tenant)
    account.spend_cap_minor = cap_minor
    account.save(update_fields=["spend_cap_minor"])
    audit(
        tenant,
        actor=actor,
        action="billing.spend_cap_set",
        target=account.public_id,
        spend_cap_minor=cap_minor,
    )
    transaction.on_commit(lambda: _limits_changed(tenant))
    return account


@transaction.atomic
def key_quota_set(
    tenant: Tenant, *, actor, api_key_ref: str, meter: str, monthly_limit: int | None
) -> ApiKeyQuota | None:
    """Limit one API key to ``monthly_limit`` units of ``meter`` a period (``None`` lifts it)."""
    if meter not in METERS:
        raise InvalidRequest(f"Unknown meter '{meter}'.", param="meter")
    if monthly_limit is not None and monthly_limit < 0:
        raise InvalidRequest("A quota cannot be negative.", param="monthly_limit")
    quota = None
    if monthly_limit is None:
        ApiKeyQuota.objects.filter(tenant=tenant, api_key_ref=api_key_ref, meter=meter).delete()
    else:
        quota, _ = ApiKeyQuota.objects.update_or_create(
            tenant=tenant,
            api_key_ref=api_key_ref,
            meter=meter,
            defaults={"monthly_limit": monthly_limit},
        )
    audit(
        tenant,
        actor=actor,
        action="billing.key_quota_set",
        target=api_key_ref,
        meter=meter,
        monthly_limit=monthly_limit,
    )
    transaction.on_commit(lambda: _limits_changed(tenant))
    return quota


def _limits_changed(tenant: Tenant) -> None:
    totals.forget_limits(tenant)
    forget_refusals(tenant.pk)


def tenant_restore_if_settled(tenant: Tenant, *, actor) -> None:
    failing = Invoice.objects.filter(
        tenant=tenant, status=Invoice.Status.OPEN, payment_failed_at__isnull=False
    )
    if failing.exists():
        return
    BillingAccount.objects.filter(tenant=tenant).update(past_due_since=None)
    if tenant.status != Tenant.Status.ACTIVE:
        tenant_status_set(tenant, Tenant.Status.ACTIVE, actor=actor)


def tenant_status_set(tenant: Tenant, status: str, *, actor, **data) -> None:
    previous = tenant.status
    Tenant.objects.filter(pk=tenant.pk).update(status=status)
    tenant.status = status
    audit(
        tenant,
        actor=actor,
        action="tenant.billing_status",
        target=tenant.public_id,
        previous=previous,
        status=status,
        **data,
    )


def suspend_after_grace(*, now: datetime | None = None) -> list[str]:
    """Suspend every tenant past due for longer than ``BILLING_GRACE_DAYS``; their ids."""
    deadline = (now or timezone.now()) - timedelta(days=settings.BILLING_GRACE_DAYS)
    with unscoped(reason="billing: find tenants past the payment grace period"):
        overdue = list(
            BillingAccount.objects.filter(past_due_since__lte=deadline).values_list(
                "tenant_id", flat=True
            )
        )
    suspended = []
    for tenant in Tenant.objects.filter(pk__in=overdue, status=Tenant.Status.PAST_DUE):
        with tenant_context(tenant), transaction.atomic():
            tenant_status_set(
                tenant,
                Tenant.Status.SUSPENDED,
                actor="system",
                reason=f"unpaid for {settings.BILLING_GRACE_DAYS} days",
            )
        suspended.append(tenant.public_id)
    return suspended
