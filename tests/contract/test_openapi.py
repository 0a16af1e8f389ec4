"""The generated OpenAPI document: valid OpenAPI 3, every operation of API.md, and the
conventions (errors, headers, security, idempotency, lists) documented on each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import schemathesis
from django.conf import settings
from django.core.management import call_command
from rest_framework.test import APIClient

# API.md's tables, as (method, path); `{}` stands for any path parameter.
API_MD_OPERATIONS = {
    ("GET", "/v1/models"),
    ("GET", "/v1/models/{}"),
    ("POST", "/v1/models/{}/activate"),
    ("POST", "/v1/models/{}/predict"),
    ("POST", "/v1/predictions"),
    ("GET", "/v1/predictions/{}"),
    ("POST", "/v1/datasets"),
    ("GET", "/v1/datasets"),
    ("GET", "/v1/datasets/{}"),
    ("DELETE", "/v1/datasets/{}"),
    ("POST", "/v1/fine-tunes"),
    ("GET", "/v1/fine-tunes"),
    ("GET", "/v1/fine-tunes/{}"),
    ("GET", "/v1/fine-tunes/{}/events"),
    ("POST", "/v1/fine-tunes/{}/cancel"),
    ("GET", "/v1/usage"),
    ("GET", "/v1/invoices"),
    ("GET", "/v1/invoices/{}"),
    ("GET", "/v1/invoices/{}/lines.csv"),
    ("GET", "/v1/api-keys"),
    ("POST", "/v1/api-keys"),
    ("GET", "/v1/api-keys/{}"),
    ("DELETE", "/v1/api-keys/{}"),
    ("POST", "/v1/stripe/webhook"),
}
_OPERATION = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/v1/[^`?\s]*)")


def _template(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def api_md_operations(text: str) -> set[tuple[str, str]]:
    """Every `METHOD /v1/...` named in API.md (the schema endpoint itself aside)."""
    found = {(method, _template(path)) for method, path in _OPERATION.findall(text)}
    return found - {("GET", "/v1/openapi.json")}


@pytest.fixture(scope="module")
def document(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = APIClient().get("/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def _resolved(document: dict, schema: dict) -> dict:
    """``schema``, or the component its ``$ref`` names."""
    if "$ref" not in schema:
        return schema
    return document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]


def _operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_document_is_valid_openapi_3(document):
    assert document["openapi"].startswith("3.")
    schemathesis.openapi.from_dict(document).validate()  # the OpenAPI 3 meta-schema


def test_it_documents_every_operation_of_api_md(document):
    documented = {(method.upper(), _template(path)) for path, method, _ in _operations(document)}
    assert API_MD_OPERATIONS - documented == set()
    for candidate in (
        Path(settings.BASE_DIR) / "docs" / "API.md",
        Path(settings.BASE_DIR) / "API.md",
    ):
        if candidate.exists():  # the contract itself, where the repository carries it
            assert api_md_operations(candidate.read_text()) - documented == set()


def test_the_api_md_parser_finds_operations_in_tables():
    text = "| `GET /v1/usage?start=&end=` | x |\n| `GET /v1/models/{id}` | `GET /v1/openapi.json`"
    assert api_md_operations(text) == {("GET", "/v1/usage"), ("GET", "/v1/models/{}")}


def test_every_operation_documents_security_errors_and_headers(document):
    components = document["components"]
    error = _resolved(document, components["schemas"]["ErrorResponse"]["properties"]["error"])
    assert set(error["required"]) == {"type", "code", "message", "param"}
    assert set(error["properties"]["type"]["enum"]) == {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "rate_limit_error",
        "billing_error",
        "api_error",
    }
    assert components["securitySchemes"]["ApiKey"] == {
        **components["securitySchemes"]["ApiKey"],
        "type": "http",
        "scheme": "bearer",
    }
    assert "security" not in document  # no default: each operation says how it is called
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        if path == "/v1/stripe/webhook":
            assert operation.get("security", []) == []  # signed by Stripe, not key-authenticated
            continue
        assert operation["security"] == [{"ApiKey": []}], path
        assert {"401", "403", "429", "5XX"} <= set(responses), (method, path)
        success = next(r for status, r in responses.items() if status.startswith("2"))
        assert {"X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining"} <= set(
            success["headers"]
        ), (method, path)
        if method == "post":
            assert ("header", "Idempotency-Key") in {
                (p["in"], p["name"]) for p in operation["parameters"]
            }, path
            assert "409" in responses
        assert "Retry-After" in responses["429"]["headers"]
        errors = [r for status, r in responses.items() if not status.startswith("2")]
        assert all(r["content"]["application/json"]["examples"] for r in errors), path


def test_uploads_and_billed_calls_document_their_own_errors(document):
    predict = document["paths"]["/v1/models/{model_id}/predict"]["post"]
    assert {"400", "402", "404", "413", "415"} <= set(predict["responses"])
    assert set(predict["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert predict["requestBody"]["content"]["application/json"]["examples"]
    assert predict["responses"]["200"]["content"]["application/json"]["examples"]
    upload = document["paths"]["/v1/datasets"]["post"]
    assert {"413", "415"} <= set(upload["responses"])


def test_spend_settings_are_documented_as_json_with_their_errors(document):
    account = document["paths"]["/v1/billing"]
    assert set(account) == {"get", "patch"}
    assert {"400", "415"} <= set(account["patch"]["responses"])
    quotas = document["paths"]["/v1/billing/quotas"]["put"]
    assert {"400", "404", "415"} <= set(quotas["responses"])  # 404: the key named in the body
    for operation in (account["patch"], quotas):
        assert set(operation["requestBody"]["content"]) == {"application/json"}


def test_lists_are_documented_as_list_envelopes_with_paging(document):
    listed = document["paths"]["/v1/fine-tunes"]["get"]
    schema = listed["responses"]["200"]["content"]["application/json"]["schema"]
    envelope = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    assert envelope["required"] == ["object", "data", "has_more"]
    assert envelope["properties"]["data"]["items"] == {
        "$ref": "#/components/schemas/FineTuneOutput"
    }
    names = {p["name"] for p in listed["parameters"] if p["in"] == "query"}
    assert names == {"limit", "starting_after"}


def test_the_document_is_generated_without_a_warning(tmp_path):
    # A warning means drf-spectacular guessed (an unresolvable field, a clashing name).
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "openapi.yaml"))


def test_the_docs_page_renders_the_document(client):
    page = client.get("/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "redoc" in html.lower() and "/v1/openapi.json" in html


def _links(document: dict, method: str, path: str) -> dict[str, dict]:
    responses = document["paths"][path][method]["responses"]
    return {
        name: link
        for status, response in responses.items()
        if status.startswith("2")
        for name, link in response.get("links", {}).items()
    }


def test_create_operations_link_to_the_operations_that_take_the_id_they_return(document):
    """What a client (and schemathesis' stateful phase) follows from a new object."""
    targets = {
        ("post", "/v1/datasets"): {"datasets_retrieve", "datasets_delete", "fine_tunes_create"},
        ("post", "/v1/fine-tunes"): {
            "fine_tunes_retrieve",
            "fine_tunes_events",
            "fine_tunes_cancel",
        },
        ("post", "/v1/api-keys"): {"api_keys_retrieve", "api_keys_revoke"},
        ("post", "/v1/predictions"): {"predictions_retrieve"},
    }
    operation_ids = {
        operation["operationId"]: (method, path)
        for path, method, operation in _operations(document)
    }
    for (method, path), expected in targets.items():
        links = _links(document, method, path)
        assert set(links) == expected, (method, path)
        for name, link in links.items():
            target_method, target_path = operation_ids[name]
            pointer = target_path.replace("~", "~0").replace("/", "~1")
            assert link["operationRef"] == f"#/paths/{pointer}/{target_method}"
            wired = [*link.get("parameters", {}).values(), *link.get("requestBody", {}).values()]
            assert wired == ["$response.body#/id"], name
    # and nothing but a create links anywhere
    linked = {(m, p) for p, m, _ in _operations(document) if _links(document, m, p)}
    assert linked == set(targets)


def test_multipart_file_fields_are_documented_as_files(document):
    for path, method, operation in _operations(document):
        form = operation.get("requestBody", {}).get("content", {}).get("multipart/form-data")
        if form is None:
            continue
        for name, schema in _resolved(document, form["schema"]).get("properties", {}).items():
            assert schema.get("format") != "uri", (method, path, name)
