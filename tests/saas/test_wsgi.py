"""The production WSGI application answers a request with an unknown charset like any
other (Django's own handler raised LookupError before any middleware: a 500)."""

from __future__ import annotations

import io

from saas.wsgi import application


def call(content_type: str) -> str:
    status = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/v1/ping",
        "QUERY_STRING": "a=1",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": "2",
        "wsgi.input": io.BytesIO(b"{}"),
        "wsgi.url_scheme": "http",
    }
    application(environ, lambda code, headers: status.append(code))
    return status[0]


def test_an_unknown_charset_is_answered_not_crashed_on(db):
    assert not call("text/plain; charset=rot13").startswith("500")
    assert not call("application/json; charset=nope").startswith("500")
