"""``/v1/models``: list and inspect models, activate a version, predict synchronously."""

from __future__ import annotations

from collections.abc import Sequence

from modelhouse._calls import Call, as_object, list_call
from modelhouse.pagination import AsyncPaginator, CursorPage, Page
from modelhouse.resources._base import AsyncResource, SyncResource
from modelhouse.resources._images import ImageInput, image_parts
from modelhouse.types import Model, Prediction


def _list(limit: int | None, starting_after: str | None) -> Call[Page[Model]]:
    return list_call("/v1/models", Model, limit=limit, starting_after=starting_after)


def _retrieve(model: str) -> Call[Model]:
    return Call("GET", f"/v1/models/{model}", as_object(Model))


def _activate(model: str) -> Call[Model]:
    return Call("POST", f"/v1/models/{model}/activate", as_object(Model))


def _predict(
    model: str, images: Sequence[ImageInput], top_k: int, idempotency_key: str | None
) -> Call[Prediction]:
    return Call(
        "POST",
        f"/v1/models/{model}/predict",
        as_object(Prediction),
        files=image_parts(images),
        data={"top_k": str(top_k)},
        idempotency_key=idempotency_key,
    )


class Models(SyncResource):
    def list(
        self, *, limit: int | None = None, starting_after: str | None = None
    ) -> CursorPage[Model]:
        """Base models (on the first page) and the organisation's own model versions."""
        return self._list(_list(limit, starting_after))

    def retrieve(self, model: str) -> Model:
        """``model`` is an id (``mdl_…``), a family alias or a base model's name."""
        return self._send(_retrieve(model))

    def activate(self, model: str) -> Model:
        """Serve this version under its family alias (the previous one stays for rollback)."""
        return self._send(_activate(model))

    def predict(
        self,
        model: str,
        images: Sequence[ImageInput],
        *,
        top_k: int = 3,
        idempotency_key: str | None = None,
    ) -> Prediction:
        """Classify ``images`` (paths or bytes) now; answers once every image is done."""
        return self._send(_predict(model, images, top_k, idempotency_key))


class AsyncModels(AsyncResource):
    """:class:`Models`, awaited."""

    def list(
        self, *, limit: int | None = None, starting_after: str | None = None
    ) -> AsyncPaginator[Model]:
        return self._list(_list(limit, starting_after))

    async def retrieve(self, model: str) -> Model:
        return await self._send(_retrieve(model))

    async def activate(self, model: str) -> Model:
        return await self._send(_activate(model))

    async def predict(
        self,
        model: str,
        images: Sequence[ImageInput],
        *,
        top_k: int = 3,
        idempotency_key: str | None = None,
    ) -> Prediction:
        return await self._send(_predict(model, images, top_k, idempotency_key))
