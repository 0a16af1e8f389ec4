"""IdempotencyRecord now belongs to the kernel (core.0001 renames its table)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0002_tenant_column_without_own_index"),
        ("core", "0001_idempotency_record_from_tenants"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="IdempotencyRecord")]),
    ]
