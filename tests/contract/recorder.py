"""Every response the test suite gets from ``/v1/`` is checked against the OpenAPI
document the app serves: status, content type, headers and body.

The check wraps Django's request handling in the test process, so it sees the
test client's requests and the live server's (the SDK's, schemathesis') alike.
The document is made strict for the check: an object schema that lists its
properties may have no others, so a field a serializer renders but the document
lacks fails too.  tests/conftest.py fails the test during which a response broke
the contract.
"""

from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import dataclass, field

from django.core.handlers.base import BaseHandler
from django.http import StreamingHttpResponse
from drf_spectacular.generators import SchemaGenerator
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from werkzeug.datastructures import Headers, ImmutableMultiDict

CHECKED_PREFIX = "/v1/"
NOT_CHECKED = {"/v1/openapi.json"}


def strict(document: dict) -> dict:
    """A copy of ``document`` whose object schemas with listed properties allow no others."""
    document = copy.deepcopy(document)

    def visit(node) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            if node.get("nullable") and "allOf" in node:
                # drf-spectacular's nullable reference ({"allOf": [ref], "nullable": true},
                # valid OpenAPI 3.0) spelled so openapi-core's validator lets null through.
                node["anyOf"] = [*node.pop("allOf"), {"nullable": True, "enum": [None]}]
                del node["nullable"]
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(document)
    return document


class _Request:
    """What openapi-core needs of a request to find its operation."""

    def __init__(self, request) -> None:
        self.host_url = f"http://{request.get_host()}"
        self.path = request.path
        # HEAD is GET without a body (core.api.views): checked as the GET it answers.
        self.method = "get" if request.method == "HEAD" else request.method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(request.GET), header=Headers(request.headers.items())
        )
        self.content_type = request.content_type or ""
        self.body = None


class _Response:
    def __init__(self, response) -> None:
        self.status_code = response.status_code
        self.content_type = response.get("Content-Type", "")
        self.headers = Headers(response.items())
        if isinstance(response, StreamingHttpResponse):  # read a copy; the client gets the rest
            mine, theirs = itertools.tee(response.streaming_content)
            response.streaming_content = theirs
            self.data = b"".join(mine)
        else:
            self.data = response.content
        if self.content_type.startswith("text/"):  # documented as a string, not bytes
            self.data = self.data.decode(response.charset)


@dataclass
class Recorder:
    api: OpenAPI
    checked: int = 0
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, request, response) -> None:
        if not request.path.startswith(CHECKED_PREFIX) or request.path in NOT_CHECKED:
            return
        problem = self._problem(_Request(request), _Response(response))
        with self.lock:
            self.checked += 1
            if problem:
                self.violations.append(
                    f"{request.method} {request.get_full_path()} -> {response.status_code}: "
                    f"{problem}"
                )

    def _problem(self, request: _Request, response: _Response) -> str | None:
        errors = list(self.api.iter_response_errors(request, response))
        if any(isinstance(error, PathNotFound | OperationNotFound) for error in errors):
            # No such route or method: only Django's 404 or the API's 405 may answer.
            return None if response.status_code in (404, 405) else "undocumented operation"
        if not errors:
            return None
        return "; ".join(_describe(error) for error in errors)

    def take_violations(self) -> list[str]:
        with self.lock:
            found, self.violations = self.violations, []
        return found


def _describe(error: Exception) -> str:
    causes = [error, *(getattr(error, "schema_errors", None) or [])]
    cause = error.__cause__
    if cause is not None:
        causes += [cause, *(getattr(cause, "schema_errors", None) or [])]
    return " / ".join(str(item).splitlines()[0][:300] for item in causes)


def document() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def install() -> Recorder:
    """Wrap request handling so every response is checked; returns the recorder."""
    recorder = Recorder(OpenAPI.from_dict(strict(document())))
    handle = BaseHandler.get_response

    def get_response(self, request):
        response = handle(self, request)
        recorder.check(request, response)
        return response

    BaseHandler.get_response = get_response
    recorder.restore = lambda: setattr(BaseHandler, "get_response", handle)
    global active
    active = recorder
    return recorder


active: Recorder | None = None
