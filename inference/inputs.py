"""Predict input: images from multipart ``file`` parts or JSON ``inputs``.

Read in two steps, so that work billing refuses costs no decoding (DESIGN.md §5):

1. :func:`read_predict_request` checks the request's shape and counts its images
   (:class:`PendingImages`): no image is read from its upload, base64-decoded or
   decoded;
2. once the images' cost is reserved (inference.services),
   :meth:`PendingImages.decode` decodes each with the function the trainer uses
   (ml.images: bytes and pixels checked from the header first, a large JPEG decoded
   at reduced scale), so bad input is refused (400, 413, 415) before anything is
   queued, and the worker receives ready ``uint8`` pixels.

The body itself is bounded before it is read (:func:`predict_body_limit`, core.uploads).
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from core.errors import ApiError, InvalidRequest
from core.uploads import multipart_limit
from ml.images import HEADER_BYTES, ImageLimits, ImageRejected, check_header, load_image

MAX_TOP_K = 20
# The JSON around one image ({"image_base64": "..."}, separators) and the rest of the body.
JSON_PER_IMAGE_OVERHEAD = 64
JSON_FORM_OVERHEAD = 16 * 1024


@dataclass(frozen=True)
class PredictInput:
    """Decoded images, ready for the inference lane."""

    images: np.ndarray  # (n, h, w, 3) uint8
    top_k: int

    @property
    def image_count(self) -> int:
        return len(self.images)

    def check_headers(self) -> None:
        pass  # already decoded (benchmarks and tests pass pixels)

    def decode(self, input_size: tuple[int, int]) -> PredictInput:
        return self


@dataclass(frozen=True)
class PendingImages:
    """A predict request's images, counted but not yet read or decoded: each is
    ``(param, upload or base64 text)``."""

    sources: tuple[tuple[str, UploadedFile | str], ...]
    top_k: int

    @property
    def image_count(self) -> int:
        return len(self.sources)

    def check_headers(self) -> None:
        """Refuse what each image's first bytes already tell (too large, too many pixels,
        not an image: 413, 415) — before any cost is reserved; decodes nothing."""
        limits = _limits()
        for param, source in self.sources:
            head, total = _head(param, source)
            try:
                check_header(head, total, limits)
            except ImageRejected as exc:
                raise ApiError(
                    f"{param}: {exc.message}", code=exc.code, param=param, status=exc.status
                ) from None

    def decode(self, input_size: tuple[int, int]) -> PredictInput:
        """Decode every image to ``input_size`` (``(height, width)``); raises ApiError
        (400, 413, 415) naming the first bad one."""
        limits = _limits()
        arrays = []
        for param, source in self.sources:
            try:
                arrays.append(load_image(_bytes(param, source), input_size, limits))
            except ImageRejected as exc:
                raise ApiError(
                    f"{param}: {exc.message}", code=exc.code, param=param, status=exc.status
                ) from None
        return PredictInput(images=np.stack(arrays), top_k=self.top_k)


def predict_body_limit(request) -> int:
    """The most bytes a predict body may have: the most images, each of the most bytes
    (as base64 in JSON, 4/3 larger), with room for the rest."""
    images = settings.INFERENCE_MAX_IMAGES_PER_REQUEST
    image_bytes = settings.INFERENCE_MAX_IMAGE_BYTES
    if request.content_type.startswith("multipart/"):
        return multipart_limit(images * image_bytes, files=images)
    encoded = 4 * math.ceil(image_bytes / 3)
    return images * (encoded + JSON_PER_IMAGE_OVERHEAD) + JSON_FORM_OVERHEAD


def read_predict_request(request) -> PendingImages:
    """Check a predict request's shape and count its images, decoding none; raises
    InvalidRequest (400, or 413 for too many images)."""
    top_k = _top_k(request)
    if request.content_type.startswith("multipart/"):
        return PendingImages(sources=_multipart_sources(request), top_k=top_k)
    return PendingImages(sources=_json_sources(request), top_k=top_k)


def _limits() -> ImageLimits:
    return ImageLimits(
        max_bytes=settings.INFERENCE_MAX_IMAGE_BYTES, max_pixels=settings.INFERENCE_MAX_IMAGE_PIXELS
    )


def _multipart_sources(request) -> tuple[tuple[str, UploadedFile], ...]:
    files = request.FILES.getlist("file")
    if not files:
        raise InvalidRequest(
            "Send one or more images in the multipart field 'file'.",
            code="missing_image",
            param="file",
        )
    _check_count(len(files), "file")
    return tuple((f"file[{i}]", upload) for i, upload in enumerate(files))


def _json_sources(request) -> tuple[tuple[str, str], ...]:
    inputs = request.data.get("inputs") if isinstance(request.data, dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise InvalidRequest(
            'Send JSON {"inputs": [{"image_base64": "..."}]} or a multipart \'file\'.',
            code="missing_image",
            param="inputs",
        )
    _check_count(len(inputs), "inputs")
    sources = []
    for i, item in enumerate(inputs):
        encoded = item.get("image_base64") if isinstance(item, dict) else None
        param = f"inputs[{i}].image_base64"
        if not isinstance(encoded, str) or not encoded:
            raise InvalidRequest(
                "Each input needs an 'image_base64' string.", code="missing_image", param=param
            )
        sources.append((param, encoded))
    return tuple(sources)


def _head(param: str, source: UploadedFile | str) -> tuple[bytes, int]:
    """An image's first HEADER_BYTES and its total size, reading (or base64-decoding) no
    more than those."""
    if isinstance(source, str):
        chars = 4 * math.ceil(HEADER_BYTES / 3)
        return _bytes(param, source[:chars]), len(source) * 3 // 4
    source.seek(0)
    return source.read(HEADER_BYTES), source.size


def _bytes(param: str, source: UploadedFile | str) -> bytes:
    if isinstance(source, str):
        try:
            return base64.b64decode(source, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(
                "image_base64 is not valid base64.", code="invalid_base64", param=param
            ) from None
    source.seek(0)
    # One byte past the limit is enough for load_image to refuse it (413).
    return source.read(settings.INFERENCE_MAX_IMAGE_BYTES + 1)


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
