"""The kernel's beat task: expired idempotency records of every tenant are purged."""

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.context import current_tenant
from core.models import IdempotencyRecord
from tenants.models import UnscopedAccess


def _record(handle, key: str, *, age: timedelta) -> None:
    with handle.context():
        record = IdempotencyRecord.objects.create(key=key, fingerprint="f", status_code=201)
        IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - age)


def _keys(handle) -> list[str]:
    with handle.context():
        return sorted(IdempotencyRecord.objects.values_list("key", flat=True))


def test_purge_deletes_only_expired_records_of_every_tenant(tenant_a, tenant_b):
    from core.tasks import purge_idempotency_records

    ttl = timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    for handle in (tenant_a, tenant_b):
        _record(handle, "expired", age=ttl + timedelta(minutes=1))
        _record(handle, "fresh", age=ttl - timedelta(minutes=1))
    audits = UnscopedAccess.objects.count()
    assert current_tenant() is None  # as beat runs it

    assert purge_idempotency_records() == {"deleted": 2, "finished": True}

    assert _keys(tenant_a) == _keys(tenant_b) == ["fresh"]
    # Each tenant's rows are deleted in that tenant's own scope: isolation is
    # never lifted, so there is no cross-tenant access to audit.
    assert UnscopedAccess.objects.count() == audits
    assert current_tenant() is None


def test_purge_deletes_in_bounded_batches(tenant_a):
    from core.tasks import purge_idempotency_records

    old = timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS + 1)
    for n in range(5):
        _record(tenant_a, f"k{n}", age=old)
    with CaptureQueriesContext(connection) as queries:
        assert purge_idempotency_records(batch_size=2)["deleted"] == 5
    deletes = [q["sql"] for q in queries if "DELETE" in q["sql"]]
    assert len(deletes) == 3  # 2 + 2 + 1
    assert _keys(tenant_a) == []


def test_purge_stops_at_its_deadline_and_says_so(tenant_a):
    from core.tasks import purge_idempotency_records

    _record(tenant_a, "expired", age=timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS + 1))
    assert purge_idempotency_records(budget_s=0) == {"deleted": 0, "finished": False}
    assert _keys(tenant_a) == ["expired"]
