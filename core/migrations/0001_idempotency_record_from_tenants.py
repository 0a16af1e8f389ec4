"""IdempotencyRecord moves from the tenants app to the kernel: its table is
renamed in place (rows, constraints and row-level security stay)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("tenants", "0002_tenant_column_without_own_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE tenants_idempotencyrecord RENAME TO core_idempotencyrecord",
                    "ALTER TABLE core_idempotencyrecord RENAME TO tenants_idempotencyrecord"),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="IdempotencyRecord",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                                   serialize=False, verbose_name="ID")),
                        ("public_id", models.CharField(editable=False, max_length=40)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("key", models.CharField(max_length=255)),
                        ("fingerprint", models.CharField(max_length=64)),
                        ("status_code", models.PositiveSmallIntegerField(null=True)),
                        ("response_body", models.BinaryField(null=True)),
                        ("content_type", models.CharField(blank=True, max_length=100)),
                        ("tenant", models.ForeignKey(
                            db_index=False, on_delete=django.db.models.deletion.CASCADE,
                            related_name="+", to="tenants.tenant")),
                    ],
                    options={
                        "constraints": [
                            models.UniqueConstraint(fields=("tenant", "public_id"),
                                                    name="idempotencyrecord_tenant_public_id_uniq"),
                            models.UniqueConstraint(fields=("tenant", "key"),
                                                    name="idempotency_tenant_key_uniq"),
                        ],
                    },
                ),
            ],
        ),
    ]
