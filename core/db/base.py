"""PostgreSQL backend for the app role: every statement carries its tenant.

Layer 3 of the tenancy design.  Each statement is sent as
``SELECT set_config('app.tenant_id', …, true), …; <statement>`` in one round
trip.  ``is_local=true`` scopes the setting to the statement's transaction
(the implicit one in autocommit, or the enclosing ``atomic()`` block), so a
pooled or reused connection never carries a tenant into the next request, and
``on_commit`` callbacks or streamed responses run with whatever context is
current *then* — never a stale one.  With no tenant in context the setting is
empty and the row-level-security policies match nothing: it fails closed.
"""

from django.db.backends.postgresql import base

from core.context import database_settings_sql

# Transaction control carries no tenant, and after an error PostgreSQL would
# refuse the prefix itself ("current transaction is aborted"), so a rollback
# to a savepoint must go out bare.
_TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")


def _with_tenant_settings(execute, sql, params, many, context):
    if sql.startswith(_TRANSACTION_CONTROL):
        return execute(sql, params, many, context)
    return execute(database_settings_sql() + sql, params, many, context)


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.execute_wrappers.append(_with_tenant_settings)
