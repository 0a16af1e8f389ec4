"""Cross-tenant cases: for every endpoint that takes an object id, how to make
tenant A's object and how to snapshot A's state, so the suite can call it with
tenant B's credentials and assert 404 *and* no change.

Register a case here for every new ``/v1/`` route with a path parameter;
test_endpoints.py fails for any route without one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tenants.models import ApiKey, AuditEvent


@dataclass(frozen=True)
class Case:
    method: str
    route: str  # Django route, e.g. "v1/api-keys/<str:key_id>"
    make: Callable  # (handle) -> {path parameter: tenant A's public id}
    snapshot: Callable  # (handle) -> comparable state of tenant A
    body: dict = field(default_factory=dict)


def _key(handle) -> dict:
    key, _ = handle.new_key(["read"])
    return {"key_id": key.public_id}


def _keys_state(handle):
    with handle.context():
        return (sorted(ApiKey.objects.values_list("public_id", "revoked_at", "name")),
                AuditEvent.objects.count())


CASES: list[Case] = [
    Case("GET", "v1/api-keys/<str:key_id>", _key, _keys_state),
    Case("DELETE", "v1/api-keys/<str:key_id>", _key, _keys_state),
]

# Routes without an object id: listing with B's key must show none of A's objects.
LIST_ROUTES: dict[str, Callable] = {
    "v1/api-keys": lambda handle: [handle.key.public_id],
}

# Routes that are not tenant data at all.
PUBLIC_ROUTES = {"v1/openapi.json"}
