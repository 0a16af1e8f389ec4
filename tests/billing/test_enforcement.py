"""Spend control before work is queued, and spend alerts."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
import redis
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import services
from billing.pricing.price_book import IMAGES_BASE, IMAGES_FINETUNED
from billing.spend import enforcement, totals
from billing.spend.alerts import spend_alerts_check
from billing.spend.enforcement import ensure_billable
from core.errors import BillingError
from tenants.models import AuditEvent, Tenant
from tests.billing.helpers import record
from tests.factories import make_tenant


def now_minus(minutes: int = 1):
    return timezone.now() - timedelta(minutes=minutes)


def refused(tenant, **kwargs) -> str:
    with pytest.raises(BillingError) as error:
        ensure_billable(tenant, **kwargs)
    assert error.value.status == 402 and error.value.type == "billing_error"
    return error.value.code


def test_a_suspended_tenant_is_refused(tenant_a):
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(status="suspended")
    tenant_a.tenant.refresh_from_db()
    assert refused(tenant_a.tenant, meter=IMAGES_BASE, quantity=1) == "account_suspended"


def test_the_free_plan_stops_at_its_allowance(db):
    free = make_tenant("Freebie", plan="free")
    record(free, IMAGES_BASE, 4_990, now_minus())
    ensure_billable(free.tenant, meter=IMAGES_BASE, quantity=10)
    assert refused(free.tenant, meter=IMAGES_BASE, quantity=11) == "spend_cap_exceeded"
    ensure_billable(free.tenant, meter=IMAGES_FINETUNED, quantity=1_000)  # its own allowance


def test_a_tenants_own_cap_is_a_hard_limit(tenant_a):
    with tenant_a.context():
        services.spend_cap_set(tenant_a.tenant, actor=tenant_a.owner, cap_minor=100)
    totals.forget_limits(tenant_a.tenant)  # on_commit does this in production
    record(tenant_a, IMAGES_BASE, 1_900, now_minus())  # 95 cents
    ensure_billable(tenant_a.tenant, meter=IMAGES_BASE, quantity=100)  # exactly 100: allowed
    assert refused(tenant_a.tenant, meter=IMAGES_BASE, quantity=101) == "spend_cap_exceeded"


def test_a_key_quota_limits_that_key_only(tenant_a):
    with tenant_a.context():
        services.key_quota_set(
            tenant_a.tenant,
            actor=tenant_a.owner,
            api_key_ref="key_1",
            meter=IMAGES_BASE,
            monthly_limit=50,
        )
    record(tenant_a, IMAGES_BASE, 45, now_minus(), api_key_ref="key_1")
    ensure_billable(tenant_a.tenant, meter=IMAGES_BASE, quantity=5, api_key_ref="key_1")
    code = refused(tenant_a.tenant, meter=IMAGES_BASE, quantity=6, api_key_ref="key_1")
    assert code == "api_key_quota_exceeded"
    ensure_billable(tenant_a.tenant, meter=IMAGES_BASE, quantity=500, api_key_ref="key_2")


def test_the_warm_check_runs_no_sql_and_sees_committed_usage(
    tenant_a, django_capture_on_commit_callbacks
):
    with tenant_a.context():
        services.spend_cap_set(tenant_a.tenant, actor=tenant_a.owner, cap_minor=100)
    totals.forget_limits(tenant_a.tenant)
    ensure_billable(tenant_a.tenant, meter=IMAGES_BASE, quantity=1)  # seeds Redis
    with django_capture_on_commit_callbacks(execute=True):
        key = record(tenant_a, IMAGES_BASE, 1_990, now_minus())
        record(tenant_a, IMAGES_BASE, 1_990, now_minus(), key=key)  # a retry: counted once
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        for _ in range(200):
            ensure_billable(tenant_a.tenant, meter=IMAGES_BASE, quantity=10)
        per_call = (time.perf_counter() - started) / 200
        code = refused(tenant_a.tenant, meter=IMAGES_BASE, quantity=11)
    assert code == "spend_cap_exceeded" and len(queries) == 0
    assert per_call < 0.005, f"{per_call * 1000:.2f} ms per check"


def test_without_redis_the_check_reads_the_database(tenant_a, monkeypatch):
    class Down:
        def __getattr__(self, name):
            raise redis.ConnectionError("down")

    monkeypatch.setattr(enforcement, "client", lambda: Down())
    monkeypatch.setattr(totals, "client", lambda: Down())
    record(tenant_a, IMAGES_BASE, 2_000_000, now_minus())  # $10 of $1,000
    ensure_billable(tenant_a.tenant, meter=IMAGES_BASE, quantity=1)
    assert refused(tenant_a.tenant, meter=IMAGES_BASE, quantity=10**9) == "spend_cap_exceeded"


def test_alerts_fire_once_per_threshold_and_period(tenant_a, django_capture_on_commit_callbacks):
    with tenant_a.context():
        services.spend_cap_set(tenant_a.tenant, actor=tenant_a.owner, cap_minor=1_000)
    record(tenant_a, IMAGES_BASE, 16_000, now_minus())  # 800 of 1,000 cents
    with tenant_a.context(), django_capture_on_commit_callbacks(execute=True):
        first = spend_alerts_check(tenant_a.tenant, now=timezone.now())
        again = spend_alerts_check(tenant_a.tenant, now=timezone.now())
    assert sorted(a.threshold_percent for a in first) == [50, 80] and again == []
    assert len(mail.outbox) == 2 and mail.outbox[0].to == [tenant_a.owner.email]
    assert "80% of its spend cap" in mail.outbox[1].subject
    with tenant_a.context():
        assert AuditEvent.objects.filter(action="billing.spend_alert").count() == 2


def test_a_mail_server_that_is_down_loses_no_alert(
    tenant_a, settings, django_capture_on_commit_callbacks
):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        settings.EMAIL_PORT = closed.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    with tenant_a.context():
        services.spend_cap_set(tenant_a.tenant, actor=tenant_a.owner, cap_minor=1_000)
    record(tenant_a, IMAGES_BASE, 16_000, now_minus())
    with tenant_a.context(), django_capture_on_commit_callbacks(execute=True):
        alerts = spend_alerts_check(tenant_a.tenant, now=timezone.now())  # does not raise
    assert sorted(a.threshold_percent for a in alerts) == [50, 80]
    with tenant_a.context():
        assert AuditEvent.objects.filter(action="billing.spend_alert").count() == 2


def test_allowance_alerts_on_the_free_plan(db):
    free = make_tenant("Freebie", plan="free")
    record(free, IMAGES_BASE, 5_000, now_minus())
    with free.context():
        alerts = spend_alerts_check(free.tenant, now=timezone.now())
    assert {(a.subject, a.threshold_percent) for a in alerts} == {
        ("allowance:images_base", 50),
        ("allowance:images_base", 80),
        ("allowance:images_base", 100),
    }
