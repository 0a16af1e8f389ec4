"""The ledger is read by transaction id, not by a clock.

Every usage event records the id of the transaction that inserted it
(``xact``, set by the database), and the rollup watermark becomes a transaction
horizon: rows of a transaction below the horizon are all committed (or never
will be), so a late commit or a skewed host clock can no longer leave usage
behind the watermark.

Existing rows: those the rollups have already read (created before the time
watermark) get ``xact = 0``, the rest ``1``; the watermark's horizon starts at
1, so the next rollup reads exactly the rows it had not yet read.  Invoices cut
before this migration get the horizon ``LEGACY_HORIZON`` (2): below it lie all
old rows and none of the new, and their time cutoffs keep bounding their
drill-downs.
"""

import django.contrib.postgres.indexes
from django.db import migrations, models

import billing.models

LEGACY_HORIZON = 2

# Forced row-level security binds the owner too: the backfill reads every tenant's rows.
_BACKFILL = f"""
SELECT set_config('app.unscoped', 'on', true);
UPDATE billing_usageevent e SET xact = CASE
    WHEN e.created_at < coalesce(
        (SELECT rolled_up_to FROM billing_ledgerwatermark WHERE name = 'usage_rollup'),
        '-infinity'::timestamptz) THEN 0 ELSE 1 END;
UPDATE billing_ledgerwatermark SET horizon = 1 WHERE name = 'usage_rollup';
UPDATE billing_invoice SET usage_horizon = {LEGACY_HORIZON};
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_creditnote_stripe_refund")]

    operations = [
        migrations.AddField(
            model_name="usageevent",
            name="xact",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="ledgerwatermark",
            name="horizon",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="invoice",
            name="usage_horizon",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="invoiceline",
            name="events_from_horizon",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.RunSQL(_BACKFILL, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="usageevent",
            name="xact",
            field=models.BigIntegerField(
                db_default=billing.models.CurrentTransactionId(), editable=False
            ),
        ),
        migrations.RemoveIndex(model_name="usageevent", name="usage_created_brin"),
        migrations.AddIndex(
            model_name="usageevent",
            index=django.contrib.postgres.indexes.BrinIndex(
                fields=["xact"], name="usage_xact_brin"
            ),
        ),
    ]
