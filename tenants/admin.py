"""Staff admin for the global tables.  Tenant-owned rows are not browsed here:
the admin has no tenant context, and cross-tenant reads go through
``unscoped(reason)`` in purpose-built reports (see billing's revenue report)."""

from django.contrib import admin

from tenants.models import Tenant, UnscopedAccess, User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("email", "name", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "name")
    exclude = ("password",)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "public_id", "plan", "status", "created_at")
    list_filter = ("plan", "status")
    search_fields = ("name", "public_id")
    readonly_fields = ("public_id", "created_at")


@admin.register(UnscopedAccess)
class UnscopedAccessAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "reason", "tenant_in_context")
    readonly_fields = ("created_at", "actor", "reason", "tenant_in_context")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
