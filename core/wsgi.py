"""Django's WSGI handler with one defence more: a request whose charset is no text
encoding (``Content-Type: text/plain; charset=rot13`` names a codec, but not one that
decodes bytes) made Django raise ``LookupError`` when it decoded the query string — a
500 for any URL.  Here such a charset is dropped and the default encoding used."""

from __future__ import annotations

import codecs

from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.utils.http import parse_header_parameters


class Request(WSGIRequest):
    def __init__(self, environ: dict) -> None:
        content_type, params = parse_header_parameters(environ.get("CONTENT_TYPE", ""))
        charset = params.get("charset")
        if charset and not _decodes_text(charset):
            environ = {**environ, "CONTENT_TYPE": content_type}
        super().__init__(environ)


def _decodes_text(charset: str) -> bool:
    try:
        codec = codecs.lookup(charset)
    except LookupError:
        return False
    return getattr(codec, "_is_text_encoding", True)  # False for rot13, hex, base64...


class Handler(WSGIHandler):
    request_class = Request
