"""One API call described as data: what to send, and how to read a successful answer.

Each resource method builds a :class:`Call` once; :class:`~modelhouse.Client` sends it
with httpx's blocking client and :class:`~modelhouse.AsyncClient` with its async one.
So an endpoint's path, body and answer type are written in one place for both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import httpx

from modelhouse.pagination import Page
from modelhouse.types import APIObject

Answer = TypeVar("Answer")
Object = TypeVar("Object", bound=APIObject)

Parse = Callable[[httpx.Response], Answer]


@dataclasses.dataclass(frozen=True)
class Call(Generic[Answer]):
    """``method`` on ``path`` (below the base URL), parsed by ``parse`` once it succeeded.

    Parameters whose value is ``None`` are left out of the query.  ``timeout``
    replaces the client's for this call (a large upload needs longer).
    """

    method: str
    path: str
    parse: Parse[Answer]
    params: Mapping[str, Any] | None = None
    json: Any = None
    data: Mapping[str, Any] | None = None
    files: Any = None
    idempotency_key: str | None = None
    timeout: float | None = None

    def with_params(self, **params: Any) -> Call[Answer]:
        return dataclasses.replace(self, params={**(self.params or {}), **params})

    def query(self) -> dict[str, Any]:
        return {name: value for name, value in (self.params or {}).items() if value is not None}


def as_object(cls: type[Object]) -> Parse[Object]:
    """Read the answer as one ``cls``."""
    return lambda response: cls.from_api(response.json())


def as_page(cls: type[Object]) -> Parse[Page[Object]]:
    """Read a list answer (``{"data": [...], "has_more": bool}``) as a :class:`Page` of ``cls``."""
    return lambda response: Page.from_api(response.json(), cls)


def as_json(response: httpx.Response) -> dict[str, Any]:
    return response.json()


def as_text(response: httpx.Response) -> str:
    return response.text


def as_response(response: httpx.Response) -> httpx.Response:
    return response


def list_call(
    path: str,
    cls: type[Object],
    *,
    limit: int | None,
    starting_after: str | None,
    **params: Any,
) -> Call[Page[Object]]:
    """A page of a cursor-paginated list; the page walks on with ``starting_after``."""
    return Call(
        "GET",
        path,
        as_page(cls),
        params={"limit": limit, "starting_after": starting_after, **params},
    )
