"""The tenant-aware PostgreSQL backend (``ENGINE: "core.db"``, see base.py), and which
connection the current scope uses.

Inside ``tenants.scoping.unscoped()`` the ORM uses the cross-tenant connection (its
own database role, whose policies let it read every tenant: router.py); everywhere
else, the app role's, which row-level security binds to the tenant in context.  Raw
SQL that may run in either scope takes :func:`scoped_connection`.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

from core.context import unscoped_reason

CROSS_TENANT = "crosstenant"


def scoped_alias() -> str:
    return CROSS_TENANT if unscoped_reason() else DEFAULT_DB_ALIAS


def scoped_connection():
    return connections[scoped_alias()]
