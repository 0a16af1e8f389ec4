"""Credit notes: staff decisions, never a tenant's.  Their services take a staff user
holding the permission and refuse anyone else, a tenant's API key or member included;
above a threshold a second staff member approves."""

from __future__ import annotations

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from billing.models import CreditNote, Invoice
from billing.services.invoices import invoice_locked
from core.errors import Conflict, InvalidRequest, PermissionDenied
from tenants.audit import audit
from tenants.models import Tenant

# The task (billing.tasks) that refunds a credit note through Stripe, sent by name after commit.
REFUND_TASK = "billing.refund_credit_note"

Status = Invoice.Status


# Credits above this many minor units of the invoice's currency wait for a second
# staff member's approval (``BILLING_CREDIT_NOTE_APPROVAL_MINOR``; $100.00).
DEFAULT_CREDIT_APPROVAL_MINOR = 10_000

NoteStatus = CreditNote.Status
RefundStatus = CreditNote.RefundStatus


def credit_approval_threshold_minor() -> int:
    return getattr(settings, "BILLING_CREDIT_NOTE_APPROVAL_MINOR", DEFAULT_CREDIT_APPROVAL_MINOR)


def staff_label(user) -> str:
    """How a member of the operator's staff appears in audit rows: ``staff:<user id>``."""
    return f"staff:{user.pk}"


def _staff_with(actor, permission: str) -> str:
    """``actor``'s label if it is an active staff user holding ``permission``, else 403.

    Checked here as well as in the staff console (billing.admin), so no other
    caller can turn a tenant's API key or member into a money decision.
    """
    has_perm = getattr(actor, "has_perm", None)
    allowed = (
        getattr(actor, "is_active", False)
        and getattr(actor, "is_staff", False)
        and has_perm is not None
        and has_perm(permission)
    )
    if not allowed:
        raise PermissionDenied(
            f"Only the operator's staff with the '{permission}' permission may do this.",
            code="staff_permission_required",
        )
    return staff_label(actor)


@transaction.atomic
def credit_note_create(
    tenant: Tenant, *, actor, invoice: Invoice, amount_minor: int, reason: str
) -> CreditNote:
    """A staff member's credit on an issued invoice; credits never exceed its total.

    ``actor`` is a staff user with ``billing.issue_credit_note``.  Up to the
    approval threshold the note is issued at once; above it, it is stored
    ``pending_approval`` and changes nothing until another staff member
    approves it (``credit_note_approve``), though it holds its room on the
    invoice meanwhile.

    On an invoice issued through Stripe the money goes back as a Stripe refund
    (``billing.refund_credit_note``, after the issue commits), so the invoice
    must be paid in Stripe; an open one is refused (``credit_note_requires_payment``):
    Stripe has no credit to mirror it here and would still collect the full amount.
    """
    requested_by = _staff_with(actor, "billing.issue_credit_note")
    if not reason.strip():
        raise InvalidRequest("A credit note needs a reason.", param="reason")
    if amount_minor <= 0:
        raise InvalidRequest("The amount must be a positive integer.", param="amount")
    invoice = invoice_locked(invoice)
    _ensure_creditable(invoice)
    pending = CreditNote.objects.filter(
        tenant=tenant, invoice=invoice, status=NoteStatus.PENDING_APPROVAL
    ).aggregate(total=Sum("amount_minor"))["total"]
    _ensure_room(invoice, amount_minor, pending=pending or 0)
    issued = amount_minor <= credit_approval_threshold_minor()
    note = CreditNote.objects.create(
        tenant=tenant,
        invoice=invoice,
        amount_minor=amount_minor,
        reason=reason.strip(),
        requested_by=requested_by,
        status=NoteStatus.ISSUED if issued else NoteStatus.PENDING_APPROVAL,
        refund_status=_refund_status(invoice) if issued else RefundStatus.NONE,
    )
    audit(
        tenant,
        actor=requested_by,
        action="credit_note.created",
        target=note.public_id,
        invoice=invoice.public_id,
        amount_minor=amount_minor,
        reason=note.reason,
        status=note.status,
        refund_status=note.refund_status,
    )
    if issued:
        _take_effect(note, invoice)
    return note


@transaction.atomic
def credit_note_approve(tenant: Tenant, *, actor, note: CreditNote) -> CreditNote:
    """A second staff member issues a pending credit note: it takes effect now.

    ``actor`` holds ``billing.approve_credit_note`` and did not request the
    note: nobody, superusers included, approves their own.  The invoice is
    checked again as at creation, so a note on an invoice voided meanwhile is
    refused and stays pending (reject it).
    """
    reviewed_by = _staff_with(actor, "billing.approve_credit_note")
    invoice = invoice_locked(note.invoice)  # the invoice first, in credit_note_create's order
    note = _pending(tenant, note)
    if note.requested_by == reviewed_by:
        raise PermissionDenied(
            f"You requested {note.public_id}: another staff member must approve it.",
            code="credit_note_own_request",
        )
    _ensure_creditable(invoice)
    _ensure_room(invoice, note.amount_minor, pending=0)
    note.status, note.refund_status = NoteStatus.ISSUED, _refund_status(invoice)
    note.reviewed_by, note.reviewed_at = reviewed_by, timezone.now()
    note.save(update_fields=["status", "refund_status", "reviewed_by", "reviewed_at"])
    audit(
        tenant,
        actor=reviewed_by,
        action="credit_note.approved",
        target=note.public_id,
        invoice=invoice.public_id,
        amount_minor=note.amount_minor,
        requested_by=note.requested_by,
        refund_status=note.refund_status,
    )
    _take_effect(note, invoice)
    return note


@transaction.atomic
def credit_note_reject(tenant: Tenant, *, actor, note: CreditNote) -> CreditNote:
    """A staff member with ``billing.approve_credit_note`` turns down a pending note (its
    requester may withdraw it this way): it never takes effect and frees its room."""
    reviewed_by = _staff_with(actor, "billing.approve_credit_note")
    note = _pending(tenant, note)
    note.status = NoteStatus.REJECTED
    note.reviewed_by, note.reviewed_at = reviewed_by, timezone.now()
    note.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    audit(
        tenant,
        actor=reviewed_by,
        action="credit_note.rejected",
        target=note.public_id,
        invoice=note.invoice.public_id,
        amount_minor=note.amount_minor,
        requested_by=note.requested_by,
    )
    return note


def _pending(tenant: Tenant, note: CreditNote) -> CreditNote:
    note = CreditNote.objects.select_for_update().get(tenant_id=tenant.pk, pk=note.pk)
    if note.status != NoteStatus.PENDING_APPROVAL:
        raise Conflict(
            f"Credit note {note.public_id} is {note.status}, not awaiting approval.",
            code="credit_note_not_pending",
        )
    return note


def _ensure_creditable(invoice: Invoice) -> None:
    if invoice.status == Status.VOID:
        raise Conflict(f"Invoice {invoice.public_id} is void.", code="invoice_void")
    if invoice.provider == "stripe":
        _ensure_refundable_in_stripe(invoice)


def _ensure_room(invoice: Invoice, amount_minor: int, *, pending: int) -> None:
    room = invoice.total_minor - invoice.credited_minor - pending
    if amount_minor > room:
        held = f" ({pending} awaits approval)" if pending else ""
        raise InvalidRequest(
            f"At most {max(room, 0)} can still be credited on {invoice.public_id}{held}.",
            param="amount",
            code="credit_exceeds_invoice",
        )


def _refund_status(invoice: Invoice) -> str:
    return RefundStatus.PENDING if invoice.provider == "stripe" else RefundStatus.NONE


def _take_effect(note: CreditNote, invoice: Invoice) -> None:
    """An issued note lowers what is owed and, on a Stripe invoice, is refunded after commit."""
    Invoice.objects.filter(pk=invoice.pk).update(
        credited_minor=F("credited_minor") + note.amount_minor
    )
    if note.refund_status == RefundStatus.PENDING:
        transaction.on_commit(lambda: _schedule_refund(note))


def _ensure_refundable_in_stripe(invoice: Invoice) -> None:
    if invoice.status == Status.OPEN:
        raise Conflict(
            f"Invoice {invoice.public_id} is not paid yet: credit a Stripe invoice once it "
            "is paid (it is refunded), or void it.",
            code="credit_note_requires_payment",
        )
    if not invoice.provider_invoice_id:
        raise Conflict(
            f"Invoice {invoice.public_id} has no Stripe payment to refund yet (its Stripe "
            "sync has not finished); credit it once it has.",
            code="credit_note_requires_payment",
        )


def _schedule_refund(note: CreditNote) -> None:
    current_app.send_task(REFUND_TASK, args=[note.tenant_id, note.pk])


@transaction.atomic
def credit_note_refunded(
    tenant: Tenant, *, actor, note: CreditNote, refund_id: str, amount_minor: int
) -> CreditNote:
    """Record the provider's refund of ``note``; recording it again changes nothing."""
    note = CreditNote.objects.select_for_update().get(tenant_id=tenant.pk, pk=note.pk)
    if note.provider_refund_id:
        return note
    note.provider_refund_id, note.refund_status = refund_id, RefundStatus.REFUNDED
    note.save(update_fields=["provider_refund_id", "refund_status"])
    audit(
        tenant,
        actor=actor,
        action="credit_note.refunded",
        target=note.public_id,
        refund=refund_id,
        amount_minor=amount_minor,
    )
    return note


# --- account status -------------------------------------------------------------
