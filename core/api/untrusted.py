"""Strings the database cannot store, refused at the API's door.

PostgreSQL's text types cannot hold NUL (psycopg refuses the statement, so a NUL
reaching any query was a 500), and a string with an unpaired surrogate (JSON may
spell one as ``"\\ud800"``) cannot even be encoded as UTF-8.  TenantAPIView checks
every string a request carries once, before its handler runs: query and path
parameters, the headers the API reads, and the parsed body (JSON at any depth,
keys included; multipart field names, values, file names).  Checking what the
parsers returned, whichever parsers a view uses, leaves no body type out.  A
refused string is a 400 ``invalid_request_error`` naming the parameter
(``inputs.0.image_base64``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation

from core.errors import ApiError, InvalidRequest

_REFUSED = re.compile("[\x00\ud800-\udfff]")
# Headers whose values the API stores or compares (Authorization is checked by the
# key format itself, before any look-up).
READ_HEADERS = ("Idempotency-Key", "X-Request-Id")


def refusal(text: str) -> str | None:
    """What in ``text`` the database would refuse, or None."""
    if text.isascii():  # the common case: one memchr, no regex
        return "a NUL character" if "\x00" in text else None
    found = _REFUSED.search(text)
    if found is None:
        return None
    return "a NUL character" if found.group() == "\x00" else "an unpaired surrogate"


def check_text(text: str, param: str | None) -> None:
    reason = refusal(text)
    if reason is not None:
        where = param or "The request body"
        raise InvalidRequest(
            f"{where} contains {reason}, which is not allowed.",
            code="invalid_characters",
            param=param,
        )


def _name(key: str) -> str:
    """A parameter name fit for an error message, even when the name itself is refused."""
    return key if refusal(key) is None else key.encode("unicode_escape").decode("ascii")


def _join(prefix: str | None, key: str) -> str:
    return key if prefix is None else f"{prefix}.{key}"


def check_tree(data: object, param: str | None = None) -> None:
    """Every string in parsed JSON, keys included, at any depth.

    Iterative: a body nested deeper than Python's recursion limit is already
    refused by the parser, but this walk must not be the next thing to recurse.
    """
    pending: list[tuple[object, str | None]] = [(data, param)]
    while pending:
        node, where = pending.pop()
        if isinstance(node, str):
            check_text(node, where)
        elif isinstance(node, Mapping):
            for key, value in node.items():
                check_text(str(key), _join(where, _name(str(key))))
                pending.append((value, _join(where, str(key))))
        elif isinstance(node, list | tuple):
            pending.extend((item, _join(where, str(n))) for n, item in enumerate(node))


def check_multi_value(pairs: Iterable[tuple[str, list]]) -> None:
    """A QueryDict's ``lists()``: every name, string value, and uploaded file's name
    and declared content type."""
    for key, values in pairs:
        name = _name(key)
        check_text(key, name)
        for value in values:
            if isinstance(value, str):
                check_text(value, name)
            else:  # an UploadedFile
                check_text(getattr(value, "name", None) or "", name)
                check_text(getattr(value, "content_type", None) or "", name)


def check_request_line(request, path_params: dict) -> None:
    """Query and path parameters and the headers the API reads."""
    for header in READ_HEADERS:
        value = request.headers.get(header)
        if value is not None:
            check_text(value, header)
    for name, value in path_params.items():
        if isinstance(value, str):
            check_text(value, name)
    try:
        query = request.query_params
    except SuspiciousOperation as exc:  # more than DATA_UPLOAD_MAX_NUMBER_FIELDS
        raise InvalidRequest(str(exc), code="too_many_parameters") from None
    check_multi_value(query.lists())


def check_body(request) -> None:
    """Parse the body now (handlers would anyway) and check every string in it."""
    try:
        data = request.data
    except ApiError:
        raise
    except RecursionError:  # DRF lets Python's JSON decoder's through
        raise InvalidRequest("The request body is nested too deeply.", code="parse_error") from None
    except RequestDataTooBig as exc:
        raise InvalidRequest(str(exc), code="request_too_large", status=413) from None
    except SuspiciousOperation as exc:  # too many multipart fields or files
        raise InvalidRequest(str(exc), code="too_many_parameters") from None
    if hasattr(data, "lists"):  # multipart: a QueryDict of fields and files
        check_multi_value(data.lists())
    else:
        check_tree(data)
