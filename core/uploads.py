"""Request bodies are bounded per route, before and while they are read.

A view names the most bytes its request body may have
(``TenantAPIView.max_body_bytes``); the base view passes it to
:func:`limit_request_body` after authentication, scope and rate limits and before
anything reads the body (a parser, the ``Idempotency-Key`` fingerprint or the
handler).  That refuses at once a ``Content-Length`` over the limit, and records
the limit on the request for the parsers:

* JSON and forms: Django reads exactly ``Content-Length`` bytes and never more
  than ``DATA_UPLOAD_MAX_MEMORY_SIZE``, so the limit of such a body is capped at
  that (above it Django's own refusal would be a 500);
* multipart: :class:`BodyLimitUploadHandler`, first in ``FILE_UPLOAD_HANDLERS``,
  refuses the parse when ``Content-Length`` passes the limit and counts the file
  bytes as they stream, stopping the upload the moment they pass it: the handlers
  after it (memory, temporary file) never see that chunk and the rest of the body
  is not read.  Under WSGI the body cannot outgrow its ``Content-Length``; the
  count is what holds where it can (ASGI reads the body to its end).

A refused body is a 413 ``request_too_large``.  A request whose view names no limit
(or that no TenantAPIView serves) gets :func:`default_limit`.  The proxy in front
should cap bodies too: a refused body is not read, but the connection carries it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest

from core.errors import ApiError

_ATTRIBUTE = "max_body_bytes"

# What a multipart body carries besides file contents: each part's boundary and
# headers, and small form fields (a name, top_k, a model id).
MULTIPART_PART_OVERHEAD = 1024
MULTIPART_FORM_OVERHEAD = 16 * 1024


class RequestTooLarge(ApiError, RequestDataTooBig):
    """413 for the API; a SuspiciousOperation (400) for a view outside it."""

    status = 413
    code = "request_too_large"

    @classmethod
    def over(cls, limit: int, size: int | None = None) -> RequestTooLarge:
        said = f"is {size} bytes" if size is not None else f"passed {limit} bytes"
        return cls(f"The request body {said}; this endpoint accepts at most {limit} bytes.")


def multipart_limit(file_bytes: int, *, files: int = 1) -> int:
    """The body limit of a multipart request carrying up to ``file_bytes`` in ``files`` files."""
    return file_bytes + files * MULTIPART_PART_OVERHEAD + MULTIPART_FORM_OVERHEAD


def default_limit() -> int | None:
    """The limit of a body whose view names none: as much as Django would read as JSON."""
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def limit_request_body(request: HttpRequest, limit: int | None) -> None:
    """Bound ``request``'s body to ``limit`` bytes (None: :func:`default_limit`); raises
    :class:`RequestTooLarge` now if its ``Content-Length`` says more.  Call it before the
    body is read.  ``request`` may be DRF's Request; the limit goes on Django's."""
    request = getattr(request, "_request", request)
    default = default_limit()
    if limit is None:
        limit = default
    elif default is not None and not request.META.get("CONTENT_TYPE", "").startswith("multipart/"):
        limit = min(limit, default)
    setattr(request, _ATTRIBUTE, limit)
    length = _content_length(request.META)
    if limit is not None and length > limit:
        raise RequestTooLarge.over(limit, length)


def body_limit(request: HttpRequest) -> int | None:
    """The limit in force for ``request`` (None: unlimited)."""
    return getattr(request, _ATTRIBUTE, default_limit())


def _content_length(meta) -> int:
    try:
        return int(meta.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        return 0  # Django reads no body then


class BodyLimitUploadHandler(FileUploadHandler):
    """Stops a multipart body at its request's limit (see above); install it first in
    ``FILE_UPLOAD_HANDLERS``.  It stores nothing: each chunk passes on to the next handler."""

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.limit: int | None = None  # read as the parse starts (handle_raw_input)
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # Returns nothing: Django's parser goes on, this handler sees the chunks.
        self.limit = body_limit(self.request) if self.request is not None else default_limit()
        if self.limit is not None and content_length > self.limit:
            raise RequestTooLarge.over(self.limit, content_length)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.limit is not None and self.received > self.limit:
            raise RequestTooLarge.over(self.limit)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        """Nothing: the next handler makes the file."""
