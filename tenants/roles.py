"""Organisation roles and what each may do (DESIGN.md §3).

Finance sees usage and invoices and nothing of datasets or models; developers
manage keys, datasets, fine-tunes and models; only owners and admins manage
members and billing settings.
"""

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    DEVELOPER = "developer"
    FINANCE = "finance"
    VIEWER = "viewer"


class Permission(StrEnum):
    MEMBERS_MANAGE = "members.manage"
    BILLING_MANAGE = "billing.manage"
    KEYS_MANAGE = "keys.manage"
    MODELS_MANAGE = "models.manage"
    MODELS_READ = "models.read"
    DATASETS_MANAGE = "datasets.manage"
    DATASETS_READ = "datasets.read"
    FINETUNES_MANAGE = "finetunes.manage"
    FINETUNES_READ = "finetunes.read"
    USAGE_READ = "usage.read"
    INVOICES_READ = "invoices.read"
    INVOICES_MANAGE = "invoices.manage"


_READ_ML = {Permission.MODELS_READ, Permission.DATASETS_READ, Permission.FINETUNES_READ}
_MANAGE_ML = _READ_ML | {
    Permission.KEYS_MANAGE,
    Permission.MODELS_MANAGE,
    Permission.DATASETS_MANAGE,
    Permission.FINETUNES_MANAGE,
}
_FINANCE = {Permission.USAGE_READ, Permission.INVOICES_READ, Permission.INVOICES_MANAGE}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: frozenset(Permission),
    Role.DEVELOPER: frozenset(_MANAGE_ML | {Permission.USAGE_READ}),
    Role.FINANCE: frozenset(_FINANCE),
    Role.VIEWER: frozenset(_READ_ML),
}


def role_allows(role: str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(Role(role), frozenset())


class Scope(StrEnum):
    """What an API key may do, independent of any member's role."""

    PREDICT = "predict"
    TRAIN = "train"
    READ = "read"
    ADMIN = "admin"
