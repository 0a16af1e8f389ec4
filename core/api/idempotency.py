"""``Idempotency-Key`` for every POST: a repeat with the same key and body gets
the first response and does nothing twice; a different body gets 409.
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


def request_fingerprint(request) -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    if request.content_type.startswith("multipart/"):
        for name in sorted(request.data.keys()):
            for value in request.data.getlist(name):
                digest.update(f"{name}=".encode())
                if hasattr(value, "chunks"):
                    for chunk in value.chunks():
                        digest.update(chunk)
                    value.seek(0)
                else:
                    digest.update(str(value).encode())
    else:
        digest.update(request._request.body)
    return digest.hexdigest()


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
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                tenant=tenant, key=key, fingerprint=fingerprint
            )
    except IntegrityError:
        record = IdempotencyRecord.objects.get(tenant=tenant, key=key)
        if record.fingerprint != fingerprint:
            raise Conflict(
                "This Idempotency-Key was used with a different request.",
                code="idempotency_key_reused",
                param="Idempotency-Key",
            ) from None
        if record.status_code is None:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed.",
                code="idempotency_in_progress",
                param="Idempotency-Key",
            ) from None
        return _replay(record)
    try:
        response = handler()
    except ServiceUnavailable as exc:  # nothing was done: a resend may do it
        record.delete()
        return error_response(exc)
    except (ApiError, APIException) as exc:
        # A deliberate error is the first answer too — including a 504 whose work
        # goes on (a prediction still running): a resend must not start it again.
        response = error_response(exc)
    except Exception:
        record.delete()  # a crash did not complete: let the client retry
        raise
    record.status_code = response.status_code
    # Secrets (a new API key's) are shown once and never stored: a replay
    # answers with them redacted.
    redacted = getattr(response, "redact_on_replay", ())
    body = {k: ("[redacted]" if k in redacted else v) for k, v in response.data.items()}
    # DRF's encoder, as the renderer uses: views may return datetimes, Decimals, UUIDs.
    record.response_body = json.dumps(body, cls=JSONEncoder).encode()
    record.content_type = "application/json"
    record.save(update_fields=["status_code", "response_body", "content_type"])
    return response
