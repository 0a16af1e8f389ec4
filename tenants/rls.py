"""Layer 3 of tenancy: PostgreSQL row-level security on every tenant-owned table.

Applied after every ``migrate`` on the owner connection, to every table that has
a ``tenant_id`` column — so a new tenant-owned table cannot be forgotten (and
tests/isolation/test_catalog.py checks the catalogue).  FORCE makes the policies
bind the tables' owner too.  Policies are per role (``settings.DATABASE_ROLES``):

* the app role (web and workers) sees and writes only the rows of the tenant in
  the per-statement setting ``app.tenant_id``; nothing it can set lifts that;
* the cross-tenant role, which ``tenants.scoping.unscoped()`` connects as for
  billing runs, reaping and the staff console, sees every tenant;
* the owner (migrations, and the API-key look-up function it owns) too.

The app and cross-tenant roles get plain DML privileges and nothing else.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.db import connections

_TENANT = "(SELECT NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
_USER = "(SELECT NULLIF(current_setting('app.user_id', true), '')::bigint)"
TENANT_MATCH = f"tenant_id = {_TENANT}"

# A signed-in person may list their own memberships across organisations
# (the portal's organisation switcher); they can still only write in the
# organisation in context.
_EXTRA_READ = {"tenants_membership": f"user_id = {_USER}"}

_API_KEY_LOOKUP = """
DROP FUNCTION IF EXISTS modelhouse_api_key_lookup(text);
CREATE OR REPLACE FUNCTION modelhouse_api_key_lookup(p_prefix text)
RETURNS TABLE (id bigint, tenant_id bigint, public_id varchar, digest varchar, scopes varchar[],
               expires_at timestamptz, revoked_at timestamptz, last_used_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
-- Authentication must find a key before its tenant is known.  This is the only
-- path that does (it runs as its owner), and it returns the one row whose prefix
-- matches.
SELECT k.id, k.tenant_id, k.public_id, k.digest, k.scopes, k.expires_at, k.revoked_at,
       k.last_used_at
FROM tenants_apikey k WHERE k.prefix = p_prefix;
$$;
"""


def tenant_tables(cursor) -> list[str]:
    cursor.execute(
        """SELECT c.table_name FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_schema, table_name)
           WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id'
             AND t.table_type = 'BASE TABLE' ORDER BY 1"""
    )
    return [row[0] for row in cursor.fetchall()]


def policy_sql(table: str) -> list[str]:
    roles = settings.DATABASE_ROLES
    read = f"{TENANT_MATCH} OR {_EXTRA_READ[table]}" if table in _EXTRA_READ else TENANT_MATCH
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS tenant_isolation ON "{table}"',
        f'DROP POLICY IF EXISTS cross_tenant ON "{table}"',
        f'CREATE POLICY tenant_isolation ON "{table}" TO "{roles["app"]}" '
        f"USING ({read}) WITH CHECK ({TENANT_MATCH})",
        f'CREATE POLICY cross_tenant ON "{table}" TO "{roles["cross_tenant"]}", '
        f'"{roles["owner"]}" USING (true) WITH CHECK (true)',
    ]


def apply_row_level_security(sender, using: str = "default", **kwargs) -> None:
    if sender.label != "tenants" or using != "owner":
        return
    roles = settings.DATABASE_ROLES
    with connections[using].cursor() as cursor:
        for table in tenant_tables(cursor):
            for statement in policy_sql(table):
                cursor.execute(statement)
        cursor.execute(_API_KEY_LOOKUP)
        cursor.execute("REVOKE ALL ON FUNCTION modelhouse_api_key_lookup(text) FROM PUBLIC")
        cursor.execute(
            f'GRANT EXECUTE ON FUNCTION modelhouse_api_key_lookup(text) TO "{roles["app"]}"'
        )
        for role in (roles["app"], roles["cross_tenant"]):
            cursor.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
            cursor.execute(
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"'
            )
            cursor.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
            for table in append_only_tables():
                cursor.execute(f'REVOKE UPDATE, DELETE ON "{table}" FROM "{role}"')


def append_only_tables() -> list[str]:
    """Ledgers the app may append to but never rewrite (models with APPEND_ONLY)."""
    return sorted(
        model._meta.db_table for model in apps.get_models() if getattr(model, "APPEND_ONLY", False)
    )
