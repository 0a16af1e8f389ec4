"""Finance staff in the Django admin: invoices across tenants, settlement, the revenue report.

Every admin page here reads across tenants, so each view runs (and renders)
inside one audited ``unscoped`` block naming the staff member; actions that
change an invoice re-enter that invoice's tenant and call the services.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from billing import services
from billing.models import Invoice
from billing.reports import revenue_row_list
from core.context import tenant_context
from core.errors import ApiError
from tenants.scoping import unscoped


def _staff(request) -> str:
    return f"user:{request.user.pk}"


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
        return False  # invoices come from period close only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


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
    search_fields = ("public_id", "tenant__public_id", "tenant__name")
    readonly_fields = [field.name for field in Invoice._meta.fields]
    actions = ("mark_paid", "mark_void")

    @admin.action(description="Mark paid (settled outside Stripe)")
    def mark_paid(self, request, queryset):
        self._settle(request, queryset, services.invoice_mark_paid, "paid")

    @admin.action(description="Void")
    def mark_void(self, request, queryset):
        self._settle(request, queryset, services.invoice_void, "void")

    def _settle(self, request, queryset, service, word: str) -> None:
        done = 0
        for invoice in queryset.select_related("tenant"):
            with tenant_context(invoice.tenant):
                try:
                    service(invoice.tenant, actor=request.user, invoice=invoice)
                    done += 1
                except ApiError as error:
                    self.message_user(request, error.message, messages.ERROR)
        self.message_user(request, f"{done} invoice(s) marked {word}.")

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
