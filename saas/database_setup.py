"""Create the two database roles and the database (embedded or developer server).

``owner`` owns the schema and runs migrations; ``app`` is what web and workers
connect as: LOGIN only — not superuser, not BYPASSRLS, not the owner.
In production the operator creates both roles (docs/operations.md) and this
module is not used.
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


def ensure_roles_and_database(
    admin: dict, owner: dict, app: dict, *, recreate: bool = False
) -> None:
    password = owner.get("PASSWORD") or None
    connection = _connect(admin)
    with connection.cursor() as cursor:
        for role in (owner["USER"], app["USER"]):
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
        cursor.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(app["USER"])
            )
        )
    connection.close()
