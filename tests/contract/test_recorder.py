"""The check every response of the suite goes through (tests/contract/recorder.py)
catches what it is there to catch."""

from __future__ import annotations

import pytest
from django.http import JsonResponse
from django.test import RequestFactory

from tests.contract import recorder


@pytest.fixture(scope="module")
def check():
    strict = recorder.Recorder(recorder.OpenAPI.from_dict(recorder.strict(recorder.document())))

    def run(path: str, status: int, body: dict, **headers) -> list[str]:
        response = JsonResponse(body, status=status)
        for name, value in {"X-Request-Id": "req_12345678", **headers}.items():
            response[name] = value
        strict.check(RequestFactory().get(path), response)
        return strict.take_violations()

    return run


PING = {"object": "ping", "organization": "org_x"}
RATE = {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9", "X-RateLimit-Reset": "1"}
MISSING = {"type": "invalid_request_error", "code": "resource_missing", "message": "x"}


def test_a_documented_answer_passes(check):
    assert check("/v1/ping", 200, PING, **RATE) == []


def test_a_member_the_document_lacks_fails(check):
    assert check("/v1/ping", 200, {**PING, "extra": 1}, **RATE)


def test_a_missing_required_member_or_header_fails(check):
    assert check("/v1/ping", 200, {"object": "ping"}, **RATE)
    assert check("/v1/ping", 200, PING)  # no rate-limit headers


def test_an_undocumented_status_or_error_shape_fails(check):
    assert check("/v1/ping", 418, {"error": {**MISSING, "param": None}})
    assert check("/v1/models/mdl_x", 404, {"detail": "Not found."})


def test_unknown_routes_may_only_answer_404(check):
    assert check("/v1/nowhere", 404, {"error": {**MISSING, "param": None}}) == []
    assert check("/v1/nowhere", 200, PING, **RATE)
