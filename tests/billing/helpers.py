"""Recording usage the way inference and training do, and the operator's staff with
exactly the permissions a test names, for billing tests."""

from __future__ import annotations

from datetime import datetime
from itertools import count

from django.contrib.auth.models import Permission
from django.test import Client

from billing import services
from billing.ledger.usage import UsageDraft
from billing.models import CreditNote, Invoice
from billing.spend.metering import usage_record
from tenants.models import User
from tests.factories import TenantHandle

_keys = count(1)
_staff = count(1)


def record(
    handle: TenantHandle,
    meter: str,
    quantity: int,
    at: datetime,
    *,
    model_ref: str = "mdl_base",
    api_key_ref: str = "",
    key: str | None = None,
) -> str:
    """One usage event for ``handle``'s tenant; returns its idempotency key."""
    key = key or f"test-{next(_keys)}"
    with handle.context():
        usage_record(
            handle.tenant,
            [
                UsageDraft(
                    meter=meter,
                    quantity=quantity,
                    occurred_at=at,
                    idempotency_key=key,
                    source="test",
                    model_ref=model_ref,
                    api_key_ref=api_key_ref,
                )
            ],
        )
    return key


def staff_member(*permissions: str) -> User:
    """An active staff user holding exactly ``permissions`` (``"billing.settle_invoice"`` …)."""
    user = User.objects.create_user(f"staff{next(_staff)}@modelhouse.test", "pw", is_staff=True)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return User.objects.get(pk=user.pk)  # a fresh instance: no stale permission cache


def signed_in(user: User) -> Client:
    """A browser session of ``user`` for the staff console (the Django admin)."""
    client = Client()
    client.force_login(user)
    return client


def staff_credit(
    handle: TenantHandle,
    invoice_id: str,
    amount_minor: int,
    *,
    reason: str = "training job crashed",
    by: User | None = None,
) -> CreditNote:
    """A credit note on ``handle``'s invoice, decided by a staff member (the only way to
    make one); below the approval threshold it is issued at once."""
    by = by or staff_member("billing.issue_credit_note")
    with handle.context():
        invoice = Invoice.objects.get(public_id=invoice_id)
        return services.credit_note_create(
            handle.tenant, actor=by, invoice=invoice, amount_minor=amount_minor, reason=reason
        )
