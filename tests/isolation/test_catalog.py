"""Layer 3 checked against PostgreSQL's own catalogue."""

import pytest
from django.db import connection, connections

from core.context import TenantContextMissing, tenant_context
from tenants.models import ApiKey, AuditEvent


def _tables_with_tenant_id(cursor) -> list[str]:
    cursor.execute("""SELECT DISTINCT c.table_name FROM information_schema.columns c
                      JOIN information_schema.tables t USING (table_schema, table_name)
                      WHERE c.column_name = 'tenant_id' AND c.table_schema = 'public'
                        AND t.table_type = 'BASE TABLE'""")
    return sorted(row[0] for row in cursor.fetchall())


@pytest.mark.django_db(databases=["default", "owner"])
def test_every_tenant_table_has_forced_row_level_security():
    with connections["owner"].cursor() as cursor:
        tables = _tables_with_tenant_id(cursor)
        cursor.execute(
            """SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
                          WHERE relname = ANY(%s) AND relkind = 'r'""",
            [tables],
        )
        flags = {name: (enabled, forced) for name, enabled, forced in cursor.fetchall()}
        cursor.execute("SELECT DISTINCT tablename FROM pg_policies WHERE schemaname = 'public'")
        with_policy = {row[0] for row in cursor.fetchall()}
    assert "tenants_apikey" in tables and len(tables) >= 4
    assert {t: flags[t] for t in tables} == dict.fromkeys(tables, (True, True))
    assert set(tables) <= with_policy


@pytest.mark.django_db
def test_app_role_is_not_superuser_bypassrls_or_owner():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (role,) = cursor.fetchone()
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        assert cursor.fetchone() == (False, False)
        cursor.execute(
            """SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
                          AND tableowner = %s""",
            [role],
        )
        assert cursor.fetchone() == (0,)
        cursor.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        )
        assert cursor.fetchone()[0] != role


def test_raw_sql_under_tenant_b_sees_none_of_tenant_a(tenant_a, tenant_b):
    with tenant_a.context():
        assert AuditEvent.objects.count() >= 1
    with tenant_b.context(), connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tenant_id FROM tenants_apikey")
        assert cursor.fetchall() == [(tenant_b.tenant.pk,)]
        cursor.execute(
            "SELECT count(*) FROM tenants_auditevent WHERE tenant_id = %s", [tenant_a.tenant.pk]
        )
        assert cursor.fetchone() == (0,)


def test_raw_sql_without_tenant_sees_nothing(tenant_a):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tenants_apikey")
        assert cursor.fetchone() == (0,)


def test_raw_insert_into_another_tenant_is_refused(tenant_a, tenant_b):
    from django.db import DatabaseError, transaction

    with (
        tenant_b.context(),
        pytest.raises(DatabaseError, match="row-level security"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            """INSERT INTO tenants_auditevent
                          (tenant_id, public_id, created_at, actor, action, target, data)
                          VALUES (%s, 'evt_x', now(), 'system', 'forged', '', '{}')""",
            [tenant_a.tenant.pk],
        )


def test_manager_fails_closed_without_tenant(tenant_a):
    with pytest.raises(TenantContextMissing):
        list(ApiKey.objects.all())


def test_manager_returns_only_current_tenant(tenant_a, tenant_b):
    with tenant_context(tenant_b.tenant):
        assert {k.tenant_id for k in ApiKey.objects.all()} == {tenant_b.tenant.pk}
