"""Reads for organisations and API keys; "not yours" and "missing" look the same."""

from __future__ import annotations

from core.errors import NotFound
from tenants.models import ApiKey, Tenant


def api_key_get(tenant: Tenant, *, public_id: str, param: str = "id") -> ApiKey:
    """``param``: where the caller got the id (a path's ``id``, a body's ``api_key``)."""
    key = ApiKey.objects.filter(tenant=tenant, public_id=public_id).first()
    if key is None:
        raise NotFound.for_id("api key", public_id, param=param)
    return key


def api_key_list(tenant: Tenant):
    return ApiKey.objects.filter(tenant=tenant)
