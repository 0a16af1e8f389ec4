"""``/v1/models``: list and inspect models, activate a version, predict synchronously."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from modelhouse.resources._base import Resource
from modelhouse.resources._images import ImageInput, image_parts
from modelhouse.types import Model, Page, Prediction


class Models(Resource):
    def list(self, *, limit: int | None = None, starting_after: str | None = None) -> Page[Model]:
        """Base models (on the first page) and the organisation's own model versions."""
        return self._page("/v1/models", Model, limit=limit, starting_after=starting_after)

    def iterate(self) -> Iterator[Model]:
        return self._iterate("/v1/models", Model)

    def retrieve(self, model: str) -> Model:
        """``model`` is an id (``mdl_…``), a family alias or a base model's name."""
        return self._get(f"/v1/models/{model}", Model)

    def activate(self, model: str) -> Model:
        """Serve this version under its family alias (the previous one stays for rollback)."""
        return Model.from_api(self._client.request_json("POST", f"/v1/models/{model}/activate"))

    def predict(
        self,
        model: str,
        images: Sequence[ImageInput],
        *,
        top_k: int = 3,
        idempotency_key: str | None = None,
    ) -> Prediction:
        """Classify ``images`` (paths or bytes) now; answers once every image is done."""
        body = self._client.request_json(
            "POST",
            f"/v1/models/{model}/predict",
            files=image_parts(images),
            data={"top_k": str(top_k)},
            idempotency_key=idempotency_key,
        )
        return Prediction.from_api(body)
