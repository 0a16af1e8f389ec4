"""Every method a TenantAPIView answers has a scope: HEAD takes GET's, OPTIONS and any
other method are 405 before authentication, and the class refuses, when it is
created, a handler without a scope or a scope without a handler."""

import pytest
from rest_framework.test import APIClient

from core.api.views import TenantAPIView


def test_head_needs_the_get_scope(tenant_a):
    _, predict_only = tenant_a.new_key(["predict"])
    response = predict_only.head("/v1/api-keys")
    assert response.status_code == 403
    assert tenant_a.client.head("/v1/api-keys").status_code == 200
    assert tenant_a.client.head("/v1/api-keys").content == b""


def test_head_without_a_key_is_401(db):
    assert APIClient().head("/v1/api-keys").status_code == 401


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "PAGINATED", "DISPATCH", "TENANT"])
def test_other_methods_are_405_and_run_nothing(tenant_a, method):
    response = tenant_a.client.generic(method, "/v1/api-keys")
    assert response.status_code == 405, response.content
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, POST, HEAD"
    assert b"api_key" not in response.content  # no metadata, no data


def test_options_without_a_key_describes_nothing(db):
    response = APIClient().options("/v1/api-keys")
    assert response.status_code == 405
    assert set(response.json()) == {"error"}


def test_a_method_without_a_handler_is_405(tenant_a):
    response = tenant_a.client.put("/v1/api-keys", {}, format="json")
    assert response.status_code == 405


def test_a_handler_without_a_scope_is_refused_at_class_creation():
    with pytest.raises(TypeError, match="no entry in required_scopes"):

        class NoScope(TenantAPIView):
            required_scopes = {"GET": "read"}

            def get(self, request): ...

            def delete(self, request): ...


@pytest.mark.parametrize("entry", ["HEAD", "OPTIONS", "PUT"])
def test_a_scope_without_a_handler_is_refused_at_class_creation(entry):
    with pytest.raises(TypeError, match="no handler"):

        class Stray(TenantAPIView):
            required_scopes = {"GET": "read", entry: "read"}

            def get(self, request): ...


@pytest.mark.parametrize("name", ["head", "options"])
def test_head_and_options_handlers_are_sealed(name):
    with pytest.raises(TypeError, match=name):
        type("Sealed", (TenantAPIView,), {"required_scopes": {}, name: lambda self, r: None})
