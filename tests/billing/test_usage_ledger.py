import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from billing.ledger.usage import UsageDraft
from billing.models import UsageEvent
from billing.spend.metering import usage_record


def _draft(key: str, quantity: int = 1) -> UsageDraft:
    return UsageDraft(
        meter="images_base",
        quantity=quantity,
        occurred_at=timezone.now(),
        idempotency_key=key,
        source="prediction:pred_x",
    )


def test_recording_the_same_key_twice_counts_once(tenant_a):
    with tenant_a.context():
        usage_record(tenant_a.tenant, [_draft("a", 3), _draft("b", 2)])
        usage_record(tenant_a.tenant, [_draft("a", 3), _draft("c", 1)])
        assert sorted(UsageEvent.objects.values_list("idempotency_key", "quantity")) == [
            ("a", 3),
            ("b", 2),
            ("c", 1),
        ]


def test_same_key_in_two_tenants_is_two_facts(tenant_a, tenant_b):
    for handle in (tenant_a, tenant_b):
        with handle.context():
            usage_record(handle.tenant, [_draft("shared")])
    with tenant_b.context():
        assert UsageEvent.objects.count() == 1


def test_the_ledger_is_append_only_for_the_app_role(tenant_a):
    with tenant_a.context():
        usage_record(tenant_a.tenant, [_draft("a")])
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            UsageEvent.objects.update(quantity=100)
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            UsageEvent.objects.all().delete()
        assert UsageEvent.objects.get().quantity == 1
