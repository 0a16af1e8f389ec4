"""Request bodies bounded per route before and while they are read (core.uploads)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser
from django.test import RequestFactory
from django.test.client import BOUNDARY, encode_multipart

from core.uploads import BodyLimitUploadHandler, RequestTooLarge, limit_request_body


class Recording(FileUploadHandler):
    """Stands for the handlers that store a file: counts what reaches them."""

    def __init__(self, request=None):
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)

    def file_complete(self, file_size):
        return None


# The test client's multipart type, spelled anew so that RequestFactory sends our bytes.
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def _multipart(file_bytes: int) -> bytes:
    upload = io.BytesIO(b"x" * file_bytes)
    upload.name = "big.bin"
    return encode_multipart(BOUNDARY, {"file": upload})


def test_a_multipart_body_streaming_past_its_limit_stops_before_the_rest_is_read_or_stored():
    # A Content-Length that understates the body (ASGI reads a body to its end): the
    # count of bytes as they stream is what stops it.
    body = _multipart(1_000_000)
    stored = Recording()
    request = RequestFactory().post("/v1/anything", body, content_type=MULTIPART)
    request.META["CONTENT_LENGTH"] = "1000"
    limit_request_body(request, 100_000)
    stream = io.BytesIO(body)
    parser = MultiPartParser(request.META, stream, [BodyLimitUploadHandler(request), stored])

    with pytest.raises(RequestTooLarge) as refused:
        parser.parse()

    assert refused.value.status == 413 and refused.value.code == "request_too_large"
    assert "passed 100000 bytes" in refused.value.message
    assert stored.received <= 100_000  # the chunk that passed the limit was not handed on
    assert stream.tell() < 300_000  # the rest of the megabyte was never read


def test_a_content_length_over_the_limit_stops_the_parse_before_any_byte_is_read():
    body = _multipart(200_000)
    stored = Recording()
    request = RequestFactory().post("/v1/anything", body, content_type=MULTIPART)
    request.max_body_bytes = 100_000  # as limit_request_body leaves it, without its check
    stream = io.BytesIO(body)
    parser = MultiPartParser(request.META, stream, [BodyLimitUploadHandler(request), stored])

    with pytest.raises(RequestTooLarge, match=f"is {len(body)} bytes"):
        parser.parse()

    assert stream.tell() == 0 and stored.received == 0


def test_a_body_within_its_limit_reaches_the_next_handler_whole():
    body = _multipart(200_000)
    stored = Recording()
    request = RequestFactory().post("/v1/anything", body, content_type=MULTIPART)
    limit_request_body(request, len(body))
    parser = MultiPartParser(
        request.META, io.BytesIO(body), [BodyLimitUploadHandler(request), stored]
    )

    parser.parse()

    assert stored.received == 200_000


def test_the_content_length_is_checked_when_the_limit_is_set():
    request = RequestFactory().post("/v1/anything", _multipart(5_000), content_type=MULTIPART)

    with pytest.raises(RequestTooLarge, match="accepts at most 4000 bytes"):
        limit_request_body(request, 4_000)


def test_a_json_body_is_never_allowed_past_what_django_reads(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    json_request = RequestFactory().post("/v1/x", "{}", content_type="application/json")
    multipart = RequestFactory().post("/v1/x", _multipart(10), content_type=MULTIPART)

    limit_request_body(json_request, 50_000)
    limit_request_body(multipart, 50_000)

    assert json_request.max_body_bytes == 1_000  # above it Django's own refusal is a 500
    assert multipart.max_body_bytes == 50_000  # its files do not count there


def test_a_json_body_over_the_default_limit_is_413_not_a_server_error(tenant_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = {"dataset": "ds_" + "x" * 2_000}

    response = tenant_a.client.post("/v1/fine-tunes", body, format="json")

    assert response.status_code == 413, response.content
    assert response.json()["error"]["code"] == "request_too_large"
