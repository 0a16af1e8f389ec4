"""Inside ``tenants.scoping.unscoped()``, every ORM query and write goes to the
cross-tenant connection (core.db.CROSS_TENANT): only that role may read across
tenants, so the app role's connection never can, whatever SQL it runs."""

from __future__ import annotations

from core.context import unscoped_reason
from core.db import CROSS_TENANT


class CrossTenantRouter:
    def db_for_read(self, model, **hints) -> str | None:
        return CROSS_TENANT if unscoped_reason() else None

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # one database, seen through two roles
