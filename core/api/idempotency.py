"""``Idempotency-Key`` for every POST: a repeat with the same key and request gets
the first response and does nothing twice; a different request gets 409.

A request claims its key with an in-progress record (``status_code`` NULL)
before its handler runs, and stores the answer after.  The record's
``created_at`` is also its lease: a process killed mid-handler runs no
``except`` and leaves the record in progress, so once ``IDEMPOTENCY_LEASE_S``
has passed the next repeat takes it over and runs the handler.  Records expire
after ``IDEMPOTENCY_TTL_HOURS``; ``core.tasks`` purges them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from core.context import Tenant
from core.errors import ApiError, Conflict, InvalidRequest, ServiceUnavailable
from core.models import IdempotencyRecord

# Longer than any handler runs, so that a live request is never taken over: a
# synchronous prediction waits at most INFERENCE_SYNC_TIMEOUT_S (30 s), and an
# upload's bytes are all read (for the fingerprint) before the key is claimed.
DEFAULT_LEASE_S = 300

# Bumped whenever what the fingerprint covers changes: records stored under an
# older scheme then answer 409 idempotency_key_reused until they expire.
_FINGERPRINT_SCHEME = b"modelhouse-idempotency-v2"


def request_fingerprint(request) -> str:
    """SHA-256 of method, path, query string and body.

    Every part is framed with its length, so that no two different requests feed
    the hash the same bytes (unframed, the multipart fields ``a=xb=y`` and
    ``a=x``, ``b=y`` did).
    """
    digest = hashlib.sha256(_FINGERPRINT_SCHEME)

    def frame(data: bytes) -> None:
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)

    for part in (request.method, request.path, request.META.get("QUERY_STRING", "")):
        frame(part.encode())
    if request.content_type.startswith("multipart/"):
        # The boundary differs on every send: hash the parsed fields, not the bytes.
        for name in sorted(request.data.keys()):
            for value in request.data.getlist(name):
                frame(name.encode())
                if hasattr(value, "chunks"):
                    frame(f"file {value.name}".encode())
                    frame(_file_digest(value))
                else:
                    frame(b"field")
                    frame(str(value).encode())
    else:
        frame(request._request.body)
    return digest.hexdigest()


def _file_digest(upload) -> bytes:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)  # the handler reads it again
    return digest.digest()


def _lease() -> timedelta:
    return timedelta(seconds=getattr(settings, "IDEMPOTENCY_LEASE_S", DEFAULT_LEASE_S))


def _replay(record: IdempotencyRecord) -> Response:
    response = Response(json.loads(bytes(record.response_body)), status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def run_idempotently(
    tenant: Tenant,
    key: str,
    request,
    handler: Callable[[], Response],
    error_response: Callable[[Exception], Response],
) -> Response:
    if len(key) > 255:
        raise InvalidRequest(
            "Idempotency-Key is longer than 255 characters.", param="Idempotency-Key"
        )
    fingerprint = request_fingerprint(request)
    horizon = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    IdempotencyRecord.objects.filter(tenant=tenant, key=key, created_at__lt=horizon).delete()
    record = _claim(tenant, key, fingerprint)
    if record.status_code is not None:
        return _replay(record)
    try:
        response = handler()
    except ServiceUnavailable as exc:  # nothing was done: a resend may do it
        _release(record)
        return error_response(exc)
    except (ApiError, APIException) as exc:
        # A deliberate error is the first answer too — including a 504 whose work
        # goes on (a prediction still running): a resend must not start it again.
        response = error_response(exc)
    except Exception:
        _release(record)  # a crash did not complete: let the client retry
        raise
    _store(record, response)
    return response


def _claim(tenant: Tenant, key: str, fingerprint: str) -> IdempotencyRecord:
    """This request's record: new, finished (to replay) or abandoned and taken over."""
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(tenant=tenant, key=key, fingerprint=fingerprint)
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.filter(tenant=tenant, key=key).first()
    if record is not None and record.fingerprint != fingerprint:
        raise Conflict(
            "This Idempotency-Key was used with a different request.",
            code="idempotency_key_reused",
            param="Idempotency-Key",
        )
    # No record: the first request failed and let go of the key just now.
    if record is None or (record.status_code is None and not _take_over(record)):
        raise Conflict(
            "A request with this Idempotency-Key is still being processed.",
            code="idempotency_in_progress",
            param="Idempotency-Key",
        )
    return record


def _take_over(record: IdempotencyRecord) -> bool:
    """Take over an in-progress record whose lease has run out.

    A compare-and-set on ``created_at``: of two repeats that saw the same expired
    lease, only the first UPDATE matches; and the request taken over from, were
    it alive after all, no longer owns the record (see ``_store``, ``_release``).
    """
    now = timezone.now()
    if record.created_at > now - _lease():
        return False
    taken = IdempotencyRecord.objects.filter(
        pk=record.pk, status_code__isnull=True, created_at=record.created_at
    ).update(created_at=now)
    if taken:
        record.created_at = now
    return taken == 1


def _store(record: IdempotencyRecord, response: Response) -> None:
    # Secrets (a new API key's) are shown once and never stored: a replay
    # answers with them redacted.
    redacted = getattr(response, "redact_on_replay", ())
    body = {k: ("[redacted]" if k in redacted else v) for k, v in response.data.items()}
    # Only while this request still holds the lease (see _take_over).
    IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).update(
        status_code=response.status_code,
        # DRF's encoder, as the renderer uses: views may return datetimes, Decimals, UUIDs.
        response_body=json.dumps(body, cls=JSONEncoder).encode(),
        content_type="application/json",
    )


def _release(record: IdempotencyRecord) -> None:
    """Free the key for a retry, unless another request has taken the lease over."""
    IdempotencyRecord.objects.filter(
        pk=record.pk, created_at=record.created_at, status_code__isnull=True
    ).delete()
