"""Layer 4 of tenancy: every tenant file lives under ``tenants/<org id>/``.

Keys are built here and only here, from server-side ids — never from a client's
file name — so no path a client sends can reach another tenant's files.
"""

from __future__ import annotations

import re

from tenants.models import Tenant

_SAFE_PART = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def tenant_key(tenant: Tenant, *parts: str) -> str:
    for part in parts:
        if not _SAFE_PART.match(part) or part in (".", ".."):
            raise ValueError(f"unsafe storage key part: {part!r}")
    return "/".join(("tenants", tenant.public_id, *parts))
