"""Spend alerts: 50, 80 and 100 % of the spend cap and of each plan allowance.

Checked after each rollup for the tenants whose usage moved.  Each threshold
fires once per period (a unique ``SpendAlert`` row): an audit event in the
same transaction and, after commit, an e-mail to the organisation's owners,
admins and finance members (and the billing e-mail, if set).
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from decimal import Decimal

from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from billing.ledger.periods import Period, period_containing
from billing.models import BillingAccount, SpendAlert
from billing.pricing.price_book import get_plan
from billing.selectors import period_usage_get, spend_cap_get
from billing.spend.totals import usage_cost_exact
from tenants.audit import audit
from tenants.models import Membership, Tenant
from tenants.roles import Role

logger = logging.getLogger(__name__)

THRESHOLDS = (50, 80, 100)
_RECIPIENT_ROLES = (Role.OWNER, Role.ADMIN, Role.FINANCE)


def spend_alerts_check(tenant: Tenant, *, now: datetime) -> list[SpendAlert]:
    """Record (and announce) every threshold crossed this period and not yet announced."""
    period = period_containing(now)
    fractions = _fractions(tenant, period)
    sent = []
    for subject, fraction in fractions.items():
        for threshold in THRESHOLDS:
            if fraction * 100 >= threshold:
                alert = _record(tenant, period, subject, threshold, fraction)
                if alert is not None:
                    sent.append(alert)
    return sent


def _fractions(tenant: Tenant, period: Period) -> dict[str, Decimal]:
    """How much of the cap and of each allowance the period has used (1 = all of it)."""
    plan = get_plan(tenant.plan)
    totals: dict[str, int] = {}
    for meter, _model, quantity in period_usage_get(tenant, period=period):
        totals[meter] = totals.get(meter, 0) + quantity
    fractions: dict[str, Decimal] = {}
    cap = spend_cap_get(tenant)
    if cap:  # a cap of 0 (free plan) is announced through the allowances
        fractions["spend_cap"] = usage_cost_exact(tenant.plan, totals) / cap
    for meter, price in plan.prices.items():
        if price.included:
            fractions[f"allowance:{meter}"] = Decimal(totals.get(meter, 0)) / price.included
    return fractions


def _record(
    tenant: Tenant, period: Period, subject: str, threshold: int, fraction: Decimal
) -> SpendAlert | None:
    try:
        with transaction.atomic():
            alert = SpendAlert.objects.create(
                tenant=tenant,
                period_start=period.start,
                subject=subject,
                threshold_percent=threshold,
            )
            audit(
                tenant,
                actor="system",
                action="billing.spend_alert",
                target=subject,
                threshold_percent=threshold,
                period=period.label,
                used_percent=str(round(fraction * 100, 1)),
            )
    except IntegrityError:
        return None  # announced already this period
    recipients = _recipients(tenant)
    transaction.on_commit(lambda: _mail(tenant, period, subject, threshold, recipients))
    return alert


def _recipients(tenant: Tenant) -> list[str]:
    emails = set(
        Membership.objects.filter(tenant=tenant, role__in=_RECIPIENT_ROLES).values_list(
            "user__email", flat=True
        )
    )
    billing_email = (
        BillingAccount.objects.filter(tenant=tenant).values_list("billing_email", flat=True).first()
    )
    if billing_email:
        emails.add(billing_email)
    return sorted(emails)


def _mail(
    tenant: Tenant, period: Period, subject: str, threshold: int, recipients: list[str]
) -> None:
    if not recipients:
        return
    what = (
        "spend cap" if subject == "spend_cap" else f"included {subject.partition(':')[2]} allowance"
    )
    # Best effort: the alert and its audit event are stored already, and a mail
    # server that is down must not stop the other tenants' alerts of this run.
    try:
        send_mail(
            subject=f"[Modelhouse] {tenant.name} has used {threshold}% of its {what}",
            message=(
                f"Your organisation {tenant.name} ({tenant.public_id}) has used {threshold}% "
                f"of its {what} for {period.label}.\n"
                "See GET /v1/usage for the details and the projected amount."
            ),
            from_email=None,
            recipient_list=recipients,
        )
    except (smtplib.SMTPException, OSError):
        logger.exception(
            "billing: could not mail the %s%% %s alert of %s", threshold, what, tenant.public_id
        )
