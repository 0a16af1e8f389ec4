"""``/v1/api-keys``: the organisation's keys (these calls need the ``admin`` scope)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from modelhouse._calls import Call, as_object, list_call
from modelhouse.pagination import AsyncPaginator, CursorPage, Page
from modelhouse.resources._base import AsyncResource, SyncResource
from modelhouse.types import APIKey


def _list(limit: int | None, starting_after: str | None) -> Call[Page[APIKey]]:
    return list_call("/v1/api-keys", APIKey, limit=limit, starting_after=starting_after)


def _create(
    name: str, scopes: Sequence[str], expires_at: datetime | None, idempotency_key: str | None
) -> Call[APIKey]:
    body = {
        "name": name,
        "scopes": list(scopes),
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    return Call(
        "POST", "/v1/api-keys", as_object(APIKey), json=body, idempotency_key=idempotency_key
    )


def _retrieve(key: str) -> Call[APIKey]:
    return Call("GET", f"/v1/api-keys/{key}", as_object(APIKey))


def _revoke(key: str) -> Call[APIKey]:
    return Call("DELETE", f"/v1/api-keys/{key}", as_object(APIKey))


class APIKeys(SyncResource):
    def list(
        self, *, limit: int | None = None, starting_after: str | None = None
    ) -> CursorPage[APIKey]:
        return self._list(_list(limit, starting_after))

    def create(
        self,
        name: str,
        scopes: Sequence[str],
        *,
        expires_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> APIKey:
        """A new key; its ``secret`` is in this answer only (a replay shows it redacted)."""
        return self._send(_create(name, scopes, expires_at, idempotency_key))

    def retrieve(self, key: str) -> APIKey:
        return self._send(_retrieve(key))

    def revoke(self, key: str) -> APIKey:
        """Revoke at once: the key's next request is refused."""
        return self._send(_revoke(key))


class AsyncAPIKeys(AsyncResource):
    """:class:`APIKeys`, awaited."""

    def list(
        self, *, limit: int | None = None, starting_after: str | None = None
    ) -> AsyncPaginator[APIKey]:
        return self._list(_list(limit, starting_after))

    async def create(
        self,
        name: str,
        scopes: Sequence[str],
        *,
        expires_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> APIKey:
        return await self._send(_create(name, scopes, expires_at, idempotency_key))

    async def retrieve(self, key: str) -> APIKey:
        return await self._send(_retrieve(key))

    async def revoke(self, key: str) -> APIKey:
        return await self._send(_revoke(key))
