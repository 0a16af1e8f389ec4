"""Migration operations shared by the apps."""

from __future__ import annotations

from django.db import migrations, models


def tenant_column_without_own_index(
    app_label: str, *model_names: str
) -> migrations.SeparateDatabaseAndState:
    """Mark ``tenant`` unindexed on ``model_names`` and drop the column's own index.

    Django's ``AlterField`` would drop and re-add the foreign key, re-validating
    every row under a table lock (the usage ledger's millions); dropping the
    index alone is enough, and the constraint stays as it is.
    """

    def own_indexes(apps, schema_editor):
        connection = schema_editor.connection
        for name in model_names:
            table = apps.get_model(app_label, name)._meta.db_table
            with connection.cursor() as cursor:
                constraints = connection.introspection.get_constraints(cursor, table)
            yield (
                table,
                [
                    index
                    for index, info in constraints.items()
                    if info["index"]
                    and not info["unique"]
                    and not info["primary_key"]
                    and info["columns"] == ["tenant_id"]
                ],
            )

    def drop(apps, schema_editor):
        for _table, indexes in own_indexes(apps, schema_editor):
            for index in indexes:
                schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(index)}")

    def create(apps, schema_editor):
        for table, indexes in own_indexes(apps, schema_editor):
            if not indexes:
                schema_editor.execute(
                    f"CREATE INDEX {schema_editor.quote_name(table + '_tenant')}"
                    f" ON {schema_editor.quote_name(table)} (tenant_id)"
                )

    return migrations.SeparateDatabaseAndState(
        state_operations=[
            migrations.AlterField(
                model_name=name,
                name="tenant",
                field=models.ForeignKey(
                    db_index=False, on_delete=models.CASCADE, related_name="+", to="tenants.tenant"
                ),
            )
            for name in model_names
        ],
        database_operations=[migrations.RunPython(drop, create)],
    )
