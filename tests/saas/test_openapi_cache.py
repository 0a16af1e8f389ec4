"""``/v1/openapi.json`` is built once per process, then served from memory."""

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from core.api.schema_view import CachedSchemaView


@pytest.fixture
def builds(monkeypatch):
    counted = []
    build = SchemaGenerator.get_schema

    def counting(self, *args, **kwargs):
        counted.append(1)
        return build(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting)
    CachedSchemaView.forget()
    yield counted
    CachedSchemaView.forget()


def test_the_document_is_built_once_and_served_the_same(db, builds):
    client = APIClient()
    first, second, third = (client.get("/v1/openapi.json") for _ in range(3))
    assert first.status_code == second.status_code == third.status_code == 200
    assert first.content == second.content == third.content
    assert first["Content-Type"] == "application/vnd.oai.openapi+json"
    assert len(builds) == 1


def test_the_cached_document_is_the_generated_one(db, builds):
    served = APIClient().get("/v1/openapi.json").json()
    assert served == SchemaGenerator().get_schema(request=None, public=True)
