"""An index for the hourly purge of expired idempotency records (core.tasks).

Built concurrently: the table may hold every record ever stored (nothing purged
it before), and a plain CREATE INDEX would block every POST with a key meanwhile.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("core", "0001_idempotency_record_from_tenants")]

    operations = [
        AddIndexConcurrently(
            model_name="idempotencyrecord",
            index=models.Index(fields=["tenant", "created_at"], name="idempotency_tenant_created"),
        ),
    ]
