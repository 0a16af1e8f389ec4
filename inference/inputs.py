"""Predict input: images from multipart ``file`` parts or JSON ``inputs``.

Every image is decoded here, in the web process, with the same function the
trainer uses (ml.images), so bad input is refused before anything is queued
or billed, and the worker receives ready ``uint8`` pixels.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from core.errors import ApiError, InvalidRequest
from ml.images import ImageLimits, ImageRejected, load_image

MAX_TOP_K = 20


@dataclass(frozen=True)
class PredictInput:
    images: np.ndarray  # (n, h, w, 3) uint8
    top_k: int


def _limits() -> ImageLimits:
    return ImageLimits(
        max_bytes=settings.INFERENCE_MAX_IMAGE_BYTES, max_pixels=settings.INFERENCE_MAX_IMAGE_PIXELS
    )


def _raw_images(request) -> list[tuple[str, bytes]]:
    if request.content_type.startswith("multipart/"):
        files = request.FILES.getlist("file")
        if not files:
            raise InvalidRequest(
                "Send one or more images in the multipart field 'file'.",
                code="missing_image",
                param="file",
            )
        _check_count(len(files), "file")
        return [
            (f"file[{i}]", upload.read(settings.INFERENCE_MAX_IMAGE_BYTES + 1))
            for i, upload in enumerate(files)
        ]
    inputs = request.data.get("inputs") if isinstance(request.data, dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise InvalidRequest(
            'Send JSON {"inputs": [{"image_base64": "..."}]} or a multipart \'file\'.',
            code="missing_image",
            param="inputs",
        )
    _check_count(len(inputs), "inputs")
    raw = []
    for i, item in enumerate(inputs):
        encoded = item.get("image_base64") if isinstance(item, dict) else None
        param = f"inputs[{i}].image_base64"
        if not isinstance(encoded, str) or not encoded:
            raise InvalidRequest(
                "Each input needs an 'image_base64' string.", code="missing_image", param=param
            )
        try:
            raw.append((param, base64.b64decode(encoded, validate=True)))
        except (binascii.Error, ValueError):
            raise InvalidRequest(
                "image_base64 is not valid base64.", code="invalid_base64", param=param
            ) from None
    return raw


def _check_count(count: int, param: str) -> None:
    limit = settings.INFERENCE_MAX_IMAGES_PER_REQUEST
    if count > limit:
        raise InvalidRequest(
            f"{count} images sent; at most {limit} are allowed per request.",
            code="too_many_images",
            param=param,
            status=413,
        )


def _top_k(request) -> int:
    raw = request.data.get("top_k", 3) if hasattr(request.data, "get") else 3
    try:
        top_k = int(raw)
    except (TypeError, ValueError):
        top_k = 0
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidRequest(f"top_k must be an integer between 1 and {MAX_TOP_K}.", param="top_k")
    return top_k


def parse_predict_input(request, input_size: tuple[int, int]) -> PredictInput:
    top_k = _top_k(request)
    limits = _limits()
    arrays = []
    for param, data in _raw_images(request):
        try:
            arrays.append(load_image(data, input_size, limits))
        except ImageRejected as exc:
            raise ApiError(
                f"{param}: {exc.message}", code=exc.code, param=param, status=exc.status
            ) from None
    return PredictInput(images=np.stack(arrays), top_k=top_k)
