"""Writes of billing: spend settings and account status (``accounts``), invoice
settlement (``invoices``) and credit notes (``credit_notes``).

Each service takes the tenant first, runs in one transaction, and leaves an audit row.
"""

from billing.services.accounts import (
    billing_account,
    key_quota_set,
    spend_cap_set,
    suspend_after_grace,
    tenant_restore_if_settled,
    tenant_status_set,
)
from billing.services.credit_notes import (
    REFUND_TASK,
    credit_approval_threshold_minor,
    credit_note_approve,
    credit_note_create,
    credit_note_refunded,
    credit_note_reject,
    staff_label,
)
from billing.services.invoices import (
    invoice_locked,
    invoice_mark_paid,
    invoice_payment_failed,
    invoice_void,
)

__all__ = [
    "REFUND_TASK",
    "billing_account",
    "credit_approval_threshold_minor",
    "credit_note_approve",
    "credit_note_create",
    "credit_note_refunded",
    "credit_note_reject",
    "invoice_locked",
    "invoice_mark_paid",
    "invoice_payment_failed",
    "invoice_void",
    "key_quota_set",
    "spend_cap_set",
    "staff_label",
    "suspend_after_grace",
    "tenant_restore_if_settled",
    "tenant_status_set",
]
