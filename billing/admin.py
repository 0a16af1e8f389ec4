"""The operator's staff console in the Django admin: invoices and credit notes across
tenants, the revenue report, and the money decisions.

Every admin page here reads across tenants, so each view runs (and renders)
inside one audited ``unscoped`` block naming the staff member.  Nothing is
edited in a form: money moves only through actions, each behind its own
permission (``billing.settle_invoice`` to mark paid or void,
``billing.issue_credit_note`` to credit, ``billing.approve_credit_note`` to
approve or reject a large credit), so a staff member without it is offered no
such action and a forged POST of one is refused.  An action re-enters the
object's tenant and calls the service, which audits the decision with the
staff member as its actor (``staff:<user id>``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from billing import services
from billing.models import CreditNote, Invoice
from billing.reports import revenue_row_list
from core.context import tenant_context
from core.errors import ApiError
from tenants.scoping import unscoped


def _staff(request) -> str:
    return services.staff_label(request.user)


class CrossTenantAdmin(admin.ModelAdmin):
    """Runs list and detail pages inside ``unscoped`` (rendering included: it is lazy)."""

    def _unscoped(self, request, view, *args, **kwargs):
        reason = f"admin: {self.model._meta.label} pages"
        with unscoped(reason=reason, actor=_staff(request)):
            response = view(request, *args, **kwargs)
            if isinstance(response, TemplateResponse):
                response.render()
            return response

    def changelist_view(self, request, extra_context=None):
        return self._unscoped(request, super().changelist_view, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return self._unscoped(request, super().change_view, object_id, form_url, extra_context)

    def has_add_permission(self, request) -> bool:
        return False  # rows come from period close and the services only

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # no form edits money: the actions call the services

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _each_in_its_tenant(self, request, objects, decide: Callable, done: str) -> None:
        """``decide(obj)`` for each object in its tenant's context; refusals become messages."""
        count = 0
        for obj in objects:
            with tenant_context(obj.tenant):
                try:
                    decide(obj)
                    count += 1
                except ApiError as error:
                    self.message_user(request, error.message, messages.ERROR)
        self.message_user(request, f"{count} {done}.")


def _may(request, permission: str) -> bool:
    return request.user.has_perm(permission)


class CreditNoteInline(admin.TabularInline):
    """An invoice's credit notes, whatever their status, on its page (read-only)."""

    model = CreditNote
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "public_id",
        "amount_minor",
        "status",
        "reason",
        "requested_by",
        "reviewed_by",
        "refund_status",
        "provider_refund_id",
        "created_at",
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class CreditNoteForm(forms.Form):
    amount = forms.IntegerField(
        min_value=1, max_value=10**15, help_text="Minor units of the invoice's currency."
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded on the credit note and shown to the customer.",
    )


@admin.register(Invoice)
class InvoiceAdmin(CrossTenantAdmin):
    list_display = (
        "public_id",
        "tenant",
        "period_start",
        "status",
        "total_minor",
        "credited_minor",
        "currency",
        "provider",
    )
    list_filter = ("status", "provider", "period_start")
    list_select_related = ("tenant",)
    search_fields = ("public_id", "tenant__public_id", "tenant__name")
    readonly_fields = [field.name for field in Invoice._meta.fields]
    inlines = (CreditNoteInline,)
    actions = ("mark_paid", "mark_void", "issue_credit_note")

    def has_settle_invoice_permission(self, request) -> bool:
        return _may(request, "billing.settle_invoice")

    def has_issue_credit_note_permission(self, request) -> bool:
        return _may(request, "billing.issue_credit_note")

    @admin.action(description="Mark paid (settled outside Stripe)", permissions=["settle_invoice"])
    def mark_paid(self, request, queryset):
        self._settle(request, queryset, services.invoice_mark_paid, "marked paid")

    @admin.action(description="Void", permissions=["settle_invoice"])
    def mark_void(self, request, queryset):
        self._settle(request, queryset, services.invoice_void, "voided")

    def _settle(self, request, queryset, service, word: str) -> None:
        actor = _staff(request)
        self._each_in_its_tenant(
            request,
            queryset.select_related("tenant"),
            lambda invoice: service(invoice.tenant, actor=actor, invoice=invoice),
            f"invoice(s) {word}",
        )

    @admin.action(description="Issue a credit note…", permissions=["issue_credit_note"])
    def issue_credit_note(self, request, queryset):
        """A form for one invoice (amount and reason), then the credit: issued at once up
        to the approval threshold, else left for a second staff member to approve."""
        invoices = list(queryset.select_related("tenant")[:2])
        if len(invoices) != 1:
            self.message_user(request, "Select exactly one invoice to credit.", messages.WARNING)
            return None
        (invoice,) = invoices
        form = CreditNoteForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid() and self._credit(request, invoice, form):
            return None  # back to the list, with the outcome as a message
        context = {
            **self.admin_site.each_context(request),
            "title": f"Credit invoice {invoice.public_id}",
            "opts": self.model._meta,
            "invoice": invoice,
            "form": form,
            "threshold_minor": services.credit_approval_threshold_minor(),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/billing/invoice/issue_credit_note.html", context)

    def _credit(self, request, invoice: Invoice, form: CreditNoteForm) -> bool:
        amount = form.cleaned_data["amount"]
        with tenant_context(invoice.tenant):
            try:
                note = services.credit_note_create(
                    invoice.tenant,
                    actor=request.user,
                    invoice=invoice,
                    amount_minor=amount,
                    reason=form.cleaned_data["reason"],
                )
            except ApiError as error:
                form.add_error(error.param if error.param in form.fields else None, error.message)
                return False
        if note.status == CreditNote.Status.ISSUED:
            outcome = "issued"
        else:
            outcome = "awaits another staff member's approval (above the threshold)"
        self.message_user(
            request, f"Credit note {note} of {amount} {invoice.currency} on {invoice}: {outcome}."
        )
        return True

    def get_urls(self):
        revenue = path(
            "revenue/", self.admin_site.admin_view(self.revenue_view), name="billing_revenue"
        )
        return [revenue, *super().get_urls()]

    def revenue_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = revenue_row_list(actor=_staff(request))
        totals: dict[str, int] = defaultdict(int)
        for row in rows:
            totals[row.currency] += row.amount_minor
        context = {
            **self.admin_site.each_context(request),
            "rows": rows,
            "totals": dict(totals),
            "title": "Revenue",
        }
        return TemplateResponse(request, "admin/billing/revenue.html", context)


@admin.register(CreditNote)
class CreditNoteAdmin(CrossTenantAdmin):
    """Every credit note; those ``pending_approval`` wait for a second staff member."""

    list_display = (
        "public_id",
        "tenant",
        "invoice",
        "amount_minor",
        "status",
        "requested_by",
        "reviewed_by",
        "refund_status",
        "created_at",
    )
    list_filter = ("status", "refund_status")
    list_select_related = ("tenant", "invoice")
    search_fields = ("public_id", "invoice__public_id", "tenant__public_id", "tenant__name")
    readonly_fields = [field.name for field in CreditNote._meta.fields]
    actions = ("approve_credit_notes", "reject_credit_notes")

    def has_approve_credit_note_permission(self, request) -> bool:
        return _may(request, "billing.approve_credit_note")

    @admin.action(
        description="Approve (issue) — not your own request", permissions=["approve_credit_note"]
    )
    def approve_credit_notes(self, request, queryset):
        self._review(request, queryset, services.credit_note_approve, "credit note(s) approved")

    @admin.action(description="Reject", permissions=["approve_credit_note"])
    def reject_credit_notes(self, request, queryset):
        self._review(request, queryset, services.credit_note_reject, "credit note(s) rejected")

    def _review(self, request, queryset, service, done: str) -> None:
        self._each_in_its_tenant(
            request,
            queryset.select_related("tenant", "invoice"),
            lambda note: service(note.tenant, actor=request.user, note=note),
            done,
        )
