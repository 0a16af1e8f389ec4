"""Environment configuration, validated once at start with clear errors.

Database connections (see docs/operations.md), three roles:

* the app role (``default``): web and workers; row-level security binds it to the
  tenant in context, and nothing it can run lifts that;
* the cross-tenant role (``crosstenant``): what ``tenants.scoping.unscoped()``
  connects as, for billing runs, reaping and the staff console;
* the owner (``owner``): ``migrate`` and ``setup_database`` only.

Where they come from:

* nothing set: the embedded PostgreSQL under ``var/pg`` (started on demand);
* ``DATABASE_URL`` alone: a role allowed to create roles and databases (a
  developer's own server); ``setup_database`` creates the three roles on it
  (password ``DATABASE_ROLE_PASSWORD``) and each connects as its own;
* production (``MODELHOUSE_DATABASE_ROLES=given``, set by saas.settings.production):
  ``DATABASE_URL`` is the app role, plus ``DATABASE_CROSS_TENANT_URL`` and
  ``DATABASE_OWNER_URL`` where a process needs them.  Each process gets only the URLs it needs:
  the owner's only the migration job, the cross-tenant one only web and the
  default worker.  A process without one has no such alias.

The app and cross-tenant roles are never superuser, BYPASSRLS, or the tables' owner.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import environ

env = environ.Env()

OWNER_ROLE = "modelhouse_owner"
APP_ROLE = "modelhouse_app"
CROSS_TENANT_ROLE = "modelhouse_crosstenant"
# The lane shares the cache's database number it always had; counters are rate
# limits and spend totals.
_REDIS_DBS = {"broker": 0, "results": 1, "cache": 2, "lane": 2, "counters": 3}


class ConfigurationError(RuntimeError):
    pass


def require(*names: str) -> None:
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise ConfigurationError(
            f"Missing required environment variable(s): {', '.join(missing)}. "
            "See docs/operations.md for what each one means."
        )


@dataclass(frozen=True)
class DatabasePlan:
    app: dict
    cross_tenant: dict | None  # None: this process may not read across tenants
    owner: dict | None  # None: this process may not migrate
    admin: dict | None  # only when this process may create roles and databases


def _from_url(url: str, name: str) -> dict:
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise ConfigurationError(f"{name} must be a postgres:// URL, got scheme {parsed.scheme!r}.")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")) or "modelhouse",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
    }


def _as_role(base: dict, role: str, password: str) -> dict:
    return {**base, "USER": role, "PASSWORD": password}


def database_plan() -> DatabasePlan:
    database = os.environ.get("MODELHOUSE_DB_NAME", "modelhouse")
    app_url = os.environ.get("DATABASE_URL")
    owner_url = os.environ.get("DATABASE_OWNER_URL")
    cross_tenant_url = os.environ.get("DATABASE_CROSS_TENANT_URL")
    # Production settings say the operator created the roles: DATABASE_URL is the app
    # role's own, never an administrator that may create the others.
    given_roles = os.environ.get("MODELHOUSE_DATABASE_ROLES") == "given"
    if app_url and (given_roles or owner_url or cross_tenant_url):
        return DatabasePlan(
            app=_from_url(app_url, "DATABASE_URL"),
            cross_tenant=cross_tenant_url
            and _from_url(cross_tenant_url, "DATABASE_CROSS_TENANT_URL"),
            owner=owner_url and _from_url(owner_url, "DATABASE_OWNER_URL"),
            admin=None,
        )
    if app_url:
        admin = _from_url(app_url, "DATABASE_URL")
        admin_db = admin["NAME"]
        target = {**admin, "NAME": database if admin_db in ("", "postgres") else admin_db}
        password = os.environ.get("DATABASE_ROLE_PASSWORD", "")
        return DatabasePlan(
            app=_as_role(target, APP_ROLE, password),
            cross_tenant=_as_role(target, CROSS_TENANT_ROLE, password),
            owner=_as_role(target, OWNER_ROLE, password),
            admin={**admin, "NAME": "postgres"},
        )
    from saas.embedded import ensure_postgres

    server = ensure_postgres()
    base = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "HOST": server.host,
        "PORT": str(server.port),
        "PASSWORD": "",
    }
    return DatabasePlan(
        app={**base, "USER": APP_ROLE},
        cross_tenant={**base, "USER": CROSS_TENANT_ROLE},
        owner={**base, "USER": OWNER_ROLE},
        admin={**base, "USER": "postgres", "NAME": "postgres"},
    )


def databases(plan: DatabasePlan) -> dict:
    # core.db sends the tenant setting with every statement of the app's connections.
    pooled = {
        "ENGINE": "core.db",
        "CONN_MAX_AGE": env.int("CONN_MAX_AGE", default=60),
        "CONN_HEALTH_CHECKS": True,
    }
    aliases = {"default": {**plan.app, **pooled}}
    if plan.cross_tenant:
        aliases["crosstenant"] = {**plan.cross_tenant, **pooled}
    if plan.owner:
        aliases["owner"] = plan.owner
    return aliases


def database_roles(plan: DatabasePlan) -> dict[str, str]:
    """The three roles' names, from the connections this process has, else the
    standard names (tenants.rls writes a policy per role)."""
    return {
        "app": plan.app["USER"],
        "cross_tenant": plan.cross_tenant["USER"] if plan.cross_tenant else CROSS_TENANT_ROLE,
        "owner": plan.owner["USER"] if plan.owner else OWNER_ROLE,
    }


def redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        from saas.embedded import ensure_redis

        return ensure_redis()
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss"):
        raise ConfigurationError(f"REDIS_URL must be a redis:// URL, got {parsed.scheme!r}.")
    # Each use gets its own logical database (redis_db); drop any given one.
    return f"{parsed.scheme}://{parsed.netloc}"


def redis_db(use: str) -> int:
    return _REDIS_DBS[use] + env.int("MODELHOUSE_REDIS_DB_OFFSET", default=0)


def media_root(base_dir: Path) -> Path:
    root = Path(os.environ.get("MODELHOUSE_MEDIA_ROOT", "var/media"))
    return root if root.is_absolute() else base_dir / root
