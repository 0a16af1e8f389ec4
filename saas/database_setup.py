"""Create the three database roles and the database (embedded or developer server).

``owner`` owns the schema and runs migrations; ``app`` is what web and workers
connect as, and ``crosstenant`` what cross-tenant jobs connect as: LOGIN only —
not superuser, not BYPASSRLS, not the owner (saas.config).  In production the
operator creates the roles (docs/operations.md) and this module is not used.
"""

from __future__ import annotations

import psycopg2
from psycopg2 import sql


def _connect(settings_dict: dict):
    connection = psycopg2.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        password=settings_dict.get("PASSWORD") or None,
        host=settings_dict.get("HOST") or None,
        port=settings_dict.get("PORT") or None,
    )
    connection.autocommit = True
    return connection


def ensure_roles_and_database(plan, *, recreate: bool = False) -> None:
    """The three roles and the database of ``plan`` (a saas.config.DatabasePlan with
    an ``admin`` connection); ``recreate`` drops the database first (tests, benches)."""
    admin, owner = plan.admin, plan.owner
    clients = [plan.app, plan.cross_tenant]
    password = owner.get("PASSWORD") or None
    connection = _connect(admin)
    with connection.cursor() as cursor:
        for role in (owner["USER"], *(client["USER"] for client in clients)):
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if not cursor.fetchone():
                cursor.execute(
                    sql.SQL(
                        "CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS "
                        "NOCREATEDB NOCREATEROLE PASSWORD %s"
                    ).format(sql.Identifier(role)),
                    [password],
                )
        database = owner["NAME"]
        if recreate:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
        if not cursor.fetchone():
            cursor.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(owner["USER"])
                )
            )
        cursor.execute(
            sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database))
        )
        for client in clients:
            cursor.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(database), sql.Identifier(client["USER"])
                )
            )
    connection.close()
