"""``/v1/api-keys``: the organisation's keys (these calls need the ``admin`` scope)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from modelhouse.resources._base import Resource
from modelhouse.types import ApiKey, Page


class ApiKeys(Resource):
    def list(self, *, limit: int | None = None, starting_after: str | None = None) -> Page[ApiKey]:
        return self._page("/v1/api-keys", ApiKey, limit=limit, starting_after=starting_after)

    def iterate(self) -> Iterator[ApiKey]:
        return self._iterate("/v1/api-keys", ApiKey)

    def create(
        self,
        name: str,
        scopes: Sequence[str],
        *,
        expires_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> ApiKey:
        """A new key; its ``secret`` is in this answer only (a replay shows it redacted)."""
        body = {
            "name": name,
            "scopes": list(scopes),
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
        return ApiKey.from_api(
            self._client.request_json(
                "POST", "/v1/api-keys", json=body, idempotency_key=idempotency_key
            )
        )

    def retrieve(self, key: str) -> ApiKey:
        return self._get(f"/v1/api-keys/{key}", ApiKey)

    def revoke(self, key: str) -> ApiKey:
        """Revoke at once: the key's next request is refused."""
        return ApiKey.from_api(self._client.request_json("DELETE", f"/v1/api-keys/{key}"))
