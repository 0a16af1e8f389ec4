"""Tenant-owned tables keep no index of their own on ``tenant``: the unique
constraint every one of them leads with serves tenant lookups (core.models)."""

from django.db import migrations

from core.db.migration_ops import tenant_column_without_own_index


class Migration(migrations.Migration):
    dependencies = [
        ("inference", "0001_initial"),
        ("tenants", "0002_tenant_column_without_own_index"),
    ]

    operations = [tenant_column_without_own_index("inference", "modelversion", "prediction")]
