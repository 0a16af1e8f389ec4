"""Idempotency-Key details beyond tests/saas/test_api_conventions.py: the lease on
abandoned requests, and what the request fingerprint covers."""

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.api.idempotency import request_fingerprint
from core.models import IdempotencyRecord
from tenants.models import ApiKey

BODY = {"name": "retried", "scopes": ["read"]}
LEASE_S = 60


def _multipart_fingerprint(data: dict) -> str:
    django_request = APIRequestFactory().post("/v1/datasets", data, format="multipart")
    return request_fingerprint(Request(django_request, parsers=[MultiPartParser()]))


def _in_progress_record(handle, key: str, *, age: timedelta) -> IdempotencyRecord:
    """A record left behind by a request whose process died mid-handler."""
    repeat = APIRequestFactory().post("/v1/api-keys", BODY, format="json")
    with handle.context():
        record = IdempotencyRecord.objects.create(
            key=key, fingerprint=request_fingerprint(Request(repeat))
        )
        IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - age)
        record.refresh_from_db()
    return record


def _keys_named(handle, name: str) -> int:
    with handle.context():
        return ApiKey.objects.filter(name=name).count()


@override_settings(IDEMPOTENCY_LEASE_S=LEASE_S)
def test_a_request_abandoned_past_the_lease_is_taken_over_and_then_replayed(tenant_a):
    _in_progress_record(tenant_a, "dead", age=timedelta(seconds=LEASE_S + 1))
    taken = tenant_a.client.post("/v1/api-keys", BODY, format="json", HTTP_IDEMPOTENCY_KEY="dead")
    assert taken.status_code == 201 and "Idempotent-Replayed" not in taken
    again = tenant_a.client.post("/v1/api-keys", BODY, format="json", HTTP_IDEMPOTENCY_KEY="dead")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == taken.json()["id"]
    assert _keys_named(tenant_a, "retried") == 1


@override_settings(IDEMPOTENCY_LEASE_S=LEASE_S)
def test_a_request_in_progress_within_the_lease_is_409_and_does_nothing(tenant_a):
    _in_progress_record(tenant_a, "busy", age=timedelta(seconds=LEASE_S - 5))
    response = tenant_a.client.post(
        "/v1/api-keys", BODY, format="json", HTTP_IDEMPOTENCY_KEY="busy"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_in_progress"
    assert _keys_named(tenant_a, "retried") == 0


@override_settings(IDEMPOTENCY_LEASE_S=LEASE_S)
def test_taking_over_with_another_body_is_409_key_reused(tenant_a):
    _in_progress_record(tenant_a, "dead", age=timedelta(seconds=LEASE_S + 1))
    other = {**BODY, "name": "other"}
    response = tenant_a.client.post(
        "/v1/api-keys", other, format="json", HTTP_IDEMPOTENCY_KEY="dead"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert _keys_named(tenant_a, "other") == 0


@override_settings(IDEMPOTENCY_LEASE_S=LEASE_S)
def test_only_one_of_two_repeats_that_saw_the_same_expired_lease_takes_it_over(tenant_a):
    from core.api.idempotency import _take_over

    record = _in_progress_record(tenant_a, "dead", age=timedelta(seconds=LEASE_S + 1))
    with tenant_a.context():
        seen_by_second = IdempotencyRecord.objects.get(pk=record.pk)
        assert _take_over(record) is True
        assert _take_over(seen_by_second) is False


@override_settings(IDEMPOTENCY_LEASE_S=LEASE_S)
def test_the_abandoned_request_finishing_late_does_not_overwrite_the_takeover(tenant_a):
    from core.api.idempotency import _release, _take_over

    record = _in_progress_record(tenant_a, "dead", age=timedelta(seconds=LEASE_S + 1))
    with tenant_a.context():
        first = IdempotencyRecord.objects.get(pk=record.pk)
        assert _take_over(record) is True
        _release(first)  # the first process crashes after all: its lease is gone
        assert IdempotencyRecord.objects.filter(pk=record.pk).exists()


def test_multipart_fields_are_framed_so_they_cannot_run_into_each_other():
    # Unframed, both read "a=" "xb=y": one field, or two fields run together.
    assert _multipart_fingerprint({"a": "xb=y"}) != _multipart_fingerprint({"a": "x", "b": "y"})
    one_file = {"a": SimpleUploadedFile("f", b"xb=y")}
    file_then_field = {"a": SimpleUploadedFile("f", b"x"), "b": "y"}
    assert _multipart_fingerprint(one_file) != _multipart_fingerprint(file_then_field)


def test_identical_multipart_requests_share_a_fingerprint():
    def upload():
        return {"file": SimpleUploadedFile("pets.zip", b"PK\x03\x04..."), "name": "pets"}

    assert _multipart_fingerprint(upload()) == _multipart_fingerprint(upload())


def test_a_repeat_with_another_query_string_is_409_key_reused(tenant_a):
    first = tenant_a.client.post(
        "/v1/api-keys?tag=1", BODY, format="json", HTTP_IDEMPOTENCY_KEY="q"
    )
    second = tenant_a.client.post(
        "/v1/api-keys?tag=2", BODY, format="json", HTTP_IDEMPOTENCY_KEY="q"
    )
    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "idempotency_key_reused"
    assert _keys_named(tenant_a, "retried") == 1
