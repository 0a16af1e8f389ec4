"""``/v1/predictions``: asynchronous predictions — submit now, poll for the result."""

from __future__ import annotations

from collections.abc import Sequence

from modelhouse._calls import Call, as_object
from modelhouse.resources._base import AsyncResource, SyncResource
from modelhouse.resources._images import ImageInput, image_parts
from modelhouse.resources._polling import async_poll, poll
from modelhouse.types import Prediction


def _create(
    model: str, images: Sequence[ImageInput], top_k: int, idempotency_key: str | None
) -> Call[Prediction]:
    return Call(
        "POST",
        "/v1/predictions",
        as_object(Prediction),
        files=image_parts(images),
        data={"model": model, "top_k": str(top_k)},
        idempotency_key=idempotency_key,
    )


def _retrieve(prediction: str) -> Call[Prediction]:
    return Call("GET", f"/v1/predictions/{prediction}", as_object(Prediction))


def _done(prediction: Prediction) -> bool:
    return prediction.done


class Predictions(SyncResource):
    def create(
        self,
        model: str,
        images: Sequence[ImageInput],
        *,
        top_k: int = 3,
        idempotency_key: str | None = None,
    ) -> Prediction:
        """Queue a prediction; answers at once with ``status == "queued"``."""
        return self._send(_create(model, images, top_k, idempotency_key))

    def retrieve(self, prediction: str) -> Prediction:
        return self._send(_retrieve(prediction))

    def wait(
        self,
        prediction: str,
        *,
        timeout: float | None = 120.0,
        poll_interval: float = 0.25,
    ) -> Prediction:
        """Poll until the prediction has succeeded or failed; return it either way."""
        return poll(
            lambda: self.retrieve(prediction),
            _done,
            timeout=timeout,
            interval=poll_interval,
            what=f"prediction {prediction}",
        )

    def run(
        self,
        model: str,
        images: Sequence[ImageInput],
        *,
        top_k: int = 3,
        timeout: float | None = 120.0,
    ) -> Prediction:
        """``create`` then ``wait``: the asynchronous path, for large or slow batches."""
        return self.wait(self.create(model, images, top_k=top_k).id, timeout=timeout)


class AsyncPredictions(AsyncResource):
    """:class:`Predictions`, awaited."""

    async def create(
        self,
        model: str,
        images: Sequence[ImageInput],
        *,
        top_k: int = 3,
        idempotency_key: str | None = None,
    ) -> Prediction:
        return await self._send(_create(model, images, top_k, idempotency_key))

    async def retrieve(self, prediction: str) -> Prediction:
        return await self._send(_retrieve(prediction))

    async def wait(
        self,
        prediction: str,
        *,
        timeout: float | None = 120.0,
        poll_interval: float = 0.25,
    ) -> Prediction:
        return await async_poll(
            lambda: self.retrieve(prediction),
            _done,
            timeout=timeout,
            interval=poll_interval,
            what=f"prediction {prediction}",
        )

    async def run(
        self,
        model: str,
        images: Sequence[ImageInput],
        *,
        top_k: int = 3,
        timeout: float | None = 120.0,
    ) -> Prediction:
        created = await self.create(model, images, top_k=top_k)
        return await self.wait(created.id, timeout=timeout)
