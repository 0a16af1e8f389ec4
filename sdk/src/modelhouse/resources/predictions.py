"""``/v1/predictions``: asynchronous predictions — submit now, poll for the result."""

from __future__ import annotations

from collections.abc import Sequence

from modelhouse.resources._base import Resource
from modelhouse.resources._images import ImageInput, image_parts
from modelhouse.resources._polling import poll
from modelhouse.types import Prediction


class Predictions(Resource):
    def create(
        self,
        model: str,
        images: Sequence[ImageInput],
        *,
        top_k: int = 3,
        idempotency_key: str | None = None,
    ) -> Prediction:
        """Queue a prediction; answers at once with ``status == "queued"``."""
        body = self._client.request_json(
            "POST",
            "/v1/predictions",
            files=image_parts(images),
            data={"model": model, "top_k": str(top_k)},
            idempotency_key=idempotency_key,
        )
        return Prediction.from_api(body)

    def retrieve(self, prediction: str) -> Prediction:
        return self._get(f"/v1/predictions/{prediction}", Prediction)

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
            lambda p: p.done,
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
