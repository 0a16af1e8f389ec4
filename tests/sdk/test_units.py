"""The SDK's pure parts: retry timing, error mapping, folder archiving, typed objects."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from modelhouse._retries import RetryPolicy, parse_retry_after
from modelhouse.archive import zip_folder
from modelhouse.errors import APIError, NotFoundError, RateLimitError, error_from_response
from modelhouse.types import Prediction


def test_retry_after_in_seconds_or_as_an_http_date():
    assert parse_retry_after("3") == 3.0
    in_ten = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    assert 8 <= parse_retry_after(in_ten) <= 10
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_what_is_retried():
    policy = RetryPolicy(max_retries=2, max_retry_after=30)
    assert policy.should_retry(0, 429) and policy.should_retry(1, 503)
    assert not policy.should_retry(2, 503)  # out of retries
    assert not policy.should_retry(0, 400) and not policy.should_retry(0, 404)
    assert policy.should_retry(0, 409, "idempotency_in_progress")
    assert not policy.should_retry(0, 409, "idempotency_key_reused")
    assert policy.should_retry(0, 504, method="GET")
    assert not policy.should_retry(0, 504, method="POST")  # the work may still finish
    assert policy.should_retry(0, 504, method="PATCH")  # sets an absolute value: resend it
    assert policy.delay(0, "5") == 5.0
    assert policy.delay(0, "3600") is None  # not worth parking the caller
    assert 0 <= policy.delay(3) <= 4.0


def test_errors_from_responses_even_without_the_api_s_body():
    request = httpx.Request("GET", "http://api/v1/models/x")
    missing = error_from_response(
        httpx.Response(
            404,
            request=request,
            headers={"X-Request-Id": "req_1"},
            json={
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": "No such model",
                    "param": "id",
                }
            },
        )
    )
    assert isinstance(missing, NotFoundError)
    assert (missing.code, missing.param, missing.request_id) == ("resource_missing", "id", "req_1")
    proxy = error_from_response(httpx.Response(502, request=request, text="<html>Bad gateway"))
    assert isinstance(proxy, APIError) and (proxy.type, proxy.code) == ("api_error", "http_502")
    limited = error_from_response(
        httpx.Response(429, request=request, headers={"Retry-After": "2"}, json={})
    )
    assert isinstance(limited, RateLimitError) and limited.retry_after == 2.0


def test_zip_folder_keeps_the_layout_and_leaves_out_hidden_files_and_links(tmp_path):
    (tmp_path / "train" / "cat").mkdir(parents=True)
    (tmp_path / "train" / "cat" / "a.png").write_bytes(b"png")
    (tmp_path / "train" / "cat" / ".DS_Store").write_bytes(b"junk")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("x")
    (tmp_path / "labels.csv").write_text("path,label\n")
    (tmp_path / "link.png").symlink_to(tmp_path / "train" / "cat" / "a.png")
    with zip_folder(tmp_path) as archive, zipfile.ZipFile(archive) as reader:
        assert sorted(reader.namelist()) == ["labels.csv", "train/cat/a.png"]
        assert reader.getinfo("train/cat/a.png").compress_type == zipfile.ZIP_STORED
    with pytest.raises(NotADirectoryError):
        zip_folder(tmp_path / "labels.csv")


def test_objects_are_typed_and_keep_unknown_fields():
    prediction = Prediction.from_api(
        {
            "id": "pred_1",
            "model": "mdl_1",
            "status": "succeeded",
            "usage": {"images": 1},
            "results": [{"label": "cat", "score": 0.9, "top_k": [{"label": "cat", "score": 0.9}]}],
            "created_at": "2026-01-02T03:04:05Z",
            "added_later": True,
        }
    )
    assert prediction.done and prediction.results[0].top_k[0].label == "cat"
    assert prediction.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert prediction.error is None and prediction.raw["added_later"] is True


def test_the_sdk_and_cli_import_no_django():
    code = (
        "import sys, modelhouse, modelhouse.cli; "
        "sys.exit('django' in sys.modules or 'tensorflow' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_the_library_works_without_tqdm_and_the_cli_then_draws_no_bars():
    code = (
        "import sys; sys.modules['tqdm'] = None\n"  # `import tqdm` now raises ImportError
        "import modelhouse, modelhouse.cli\n"
        "from modelhouse.cli._progress import SilentBar, bar\n"
        "modelhouse.Client('mh_test_x', base_url='http://api.test').close()\n"
        "assert isinstance(bar(total=3, desc='x', enabled=True), SilentBar)\n"
    )
    blocked = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert blocked.returncode == 0, blocked.stderr


def test_only_the_cli_imports_tqdm():
    code = (
        "import sys, modelhouse, modelhouse.client, modelhouse.async_client\n"
        "assert 'tqdm' not in sys.modules\n"
        "import modelhouse.cli\n"
        "assert 'tqdm' in sys.modules\n"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
