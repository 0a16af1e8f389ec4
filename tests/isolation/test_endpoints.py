"""Every endpoint, called with tenant B's key on tenant A's objects: 404, no change."""

import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.isolation.cases import CASES, LIST_ROUTES, NO_OBJECT_ROUTES

# Period close and the staff console read across tenants on the cross-tenant
# connection, which sees only what this test committed.
pytestmark = pytest.mark.django_db(transaction=True)


def _routes(resolver=None, prefix="") -> set[str]:
    routes = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes |= _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            routes.add(route)
    return {route for route in routes if route.startswith("v1/")}


def test_every_v1_route_has_an_isolation_case():
    covered = {case.route for case in CASES} | set(LIST_ROUTES) | NO_OBJECT_ROUTES
    assert _routes() - covered == set()


def _path(route: str, params: dict) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: params[m.group(1)], route)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.route}")
def test_tenant_b_gets_404_on_tenant_a_objects_and_changes_nothing(case, tenant_a, tenant_b):
    params = case.make(tenant_a)
    before = case.snapshot(tenant_a)
    response = tenant_b.client.generic(
        case.method,
        _path(case.route, params),
        data=json.dumps(case.body(params)),
        content_type="application/json",
    )
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "resource_missing"
    assert case.snapshot(tenant_a) == before
    fake = {
        name: value[: value.index("_") + 1] + "doesnotexist0000000000"
        for name, value in params.items()
    }
    missing = tenant_b.client.generic(
        case.method,
        _path(case.route, fake),
        data=json.dumps(case.body(fake)),
        content_type="application/json",
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == response.json()["error"]["type"]


@pytest.mark.parametrize("route", sorted(LIST_ROUTES))
def test_lists_never_show_another_tenants_objects(route, tenant_a, tenant_b):
    a_ids = set(LIST_ROUTES[route](tenant_a))
    response = tenant_b.client.get(f"/{route}?limit=100")
    assert response.status_code == 200
    assert a_ids and not a_ids & {row["id"] for row in response.json()["data"]}
