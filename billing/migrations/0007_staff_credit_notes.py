"""Credit notes and settlement become staff decisions behind dedicated permissions.

Credit notes gain a status (``pending_approval`` until a second staff member
approves one above ``BILLING_CREDIT_NOTE_APPROVAL_MINOR``), who requested and
who reviewed them.  Existing notes already took effect, so they become
``issued``; ``created_by`` (which may name the API key that made one before
tenants lost that power) is kept as ``requested_by``.  New notes default to
``pending_approval``: one made without saying otherwise takes no effect.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0006_ledger_transaction_horizon"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="invoice",
            options={"permissions": [("settle_invoice", "Can mark invoices paid or void them")]},
        ),
        migrations.AlterModelOptions(
            name="creditnote",
            options={
                "permissions": [
                    ("issue_credit_note", "Can issue credit notes (large ones need an approver)"),
                    (
                        "approve_credit_note",
                        "Can approve or reject another staff member's credit note",
                    ),
                ]
            },
        ),
        migrations.RenameField(
            model_name="creditnote", old_name="created_by", new_name="requested_by"
        ),
        migrations.AddField(
            model_name="creditnote",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending_approval", "Pending Approval"),
                    ("issued", "Issued"),
                    ("rejected", "Rejected"),
                ],
                default="issued",
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="creditnote",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending_approval", "Pending Approval"),
                    ("issued", "Issued"),
                    ("rejected", "Rejected"),
                ],
                default="pending_approval",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="creditnote",
            name="reviewed_by",
            field=models.CharField(blank=True, max_length=80),
        ),
        migrations.AddField(
            model_name="creditnote",
            name="reviewed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="creditnote",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status", "issued"), ("refund_status", "none"), _connector="OR"
                ),
                name="creditnote_refund_only_when_issued",
            ),
        ),
    ]
