"""Image decoding shared by training and serving (Pillow + NumPy only).

The web process calls :func:`load_image` to reject bad input before anything is
queued; training calls the same function on dataset files, so both sides see
identical pixels (train/serve skew is impossible by construction).  Images stay
``uint8`` here: scaling to floats happens inside the model, on the device.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, UnidentifiedImageError

# Bump when decoding, colour conversion or resizing changes; every artifact
# records the version it was trained with and serving refuses a mismatch.  Decoding
# large JPEGs in draft mode (reduced scale, before the same resize) kept it: against a
# full decode it moves a 64x64 input by 0.1/255 on average, at most 1-2/255.
PREPROCESSING_VERSION = "rgb-bilinear-v1"

# Content types we accept, keyed by Pillow's format name (sniffed from bytes,
# never from a file name or a client-sent content type).
ALLOWED_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
}


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000


class ImageRejected(ValueError):
    """An input image that must not be processed.

    ``code`` is a stable machine-readable reason; ``status`` the HTTP status the
    API answers with (400 undecodable, 413 too large, 415 unsupported type).
    """

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _open(data: bytes, limits: ImageLimits) -> Image.Image:
    if not data:
        raise ImageRejected("image_empty", "The image is empty.", 400)
    if len(data) > limits.max_bytes:
        raise ImageRejected(
            "image_too_large",
            f"The image is {len(data)} bytes; the limit is {limits.max_bytes} bytes.",
            413,
        )
    try:
        # Only the allowed formats' parsers ever see the bytes (none of Pillow's
        # others, such as EPS, which would run Ghostscript).
        image = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    except Image.DecompressionBombError as exc:
        raise ImageRejected(
            "image_too_many_pixels", f"The image has too many pixels: {exc}", 413
        ) from None
    except UnidentifiedImageError:
        raise ImageRejected(
            "unsupported_image_type",
            "The file is not an image in a supported format "
            f"({', '.join(sorted(ALLOWED_FORMATS))}).",
            415,
        ) from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is bad input
        raise ImageRejected(
            "image_undecodable", f"The image could not be read: {exc}.", 400
        ) from None
    # The header's dimensions are known before any pixel is decoded: check them
    # first so a decompression bomb never allocates its pixels.  (Pillow's own
    # bomb warning is not needed for that, and turning warnings into errors with
    # warnings.catch_warnings is not thread-safe in a threaded web server.)
    width, height = image.size
    if width * height > limits.max_pixels:
        raise ImageRejected(
            "image_too_many_pixels",
            f"The image has {width}x{height} pixels; the limit is {limits.max_pixels} pixels.",
            413,
        )
    return image


HEADER_BYTES = 64 * 1024  # where every allowed format keeps its size (JPEG: after EXIF)


def check_header(head: bytes, total_bytes: int, limits: ImageLimits = ImageLimits()) -> None:
    """Refuse from its first bytes an image that is too large, has too many pixels or is
    no image of an allowed format (ImageRejected); anything the header alone cannot
    settle is left to :func:`load_image`.  No pixel is decoded."""
    if total_bytes > limits.max_bytes:
        raise ImageRejected(
            "image_too_large",
            f"The image is {total_bytes} bytes; the limit is {limits.max_bytes} bytes.",
            413,
        )
    try:
        _open(head, replace(limits, max_bytes=len(head)))
    except ImageRejected as rejected:
        if rejected.code not in ("image_undecodable", "image_empty"):  # settled later
            raise


def inspect_image(data: bytes, limits: ImageLimits = ImageLimits()) -> tuple[str, int, int]:
    """Return ``(format, width, height)`` after full validation, or raise ImageRejected."""
    image = _open(data, limits)
    _decode(image)
    return image.format, image.size[0], image.size[1]


def _decode(
    image: Image.Image, size: tuple[int, int] | None = None
) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """Decode ``image`` to RGB; returns it and the box of it that covers the whole original.

    With ``size`` (``(width, height)``), a JPEG is decoded in draft mode: libjpeg scales
    by 1/2, 1/4 or 1/8 while decoding (never below ``size``), so a 12 MP photo costs a
    fraction of a full decode.  The reduced image rounds its edges up; the box says
    which part of it maps onto the original, for an exact resize.
    """
    box = (0, 0, *image.size)
    try:
        if size is not None and image.format == "JPEG":
            drafted = image.draft("RGB", size)
            if drafted is not None:
                box = drafted[1]
        image.load()
        return (image if image.mode == "RGB" else image.convert("RGB")), box
    except Image.DecompressionBombError as exc:
        raise ImageRejected("image_too_many_pixels", str(exc), 413) from None
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt data is bad input
        raise ImageRejected(
            "image_undecodable", f"The image could not be decoded: {exc}.", 400
        ) from None


def load_image(
    data: bytes, size: tuple[int, int], limits: ImageLimits = ImageLimits()
) -> np.ndarray:
    """Decode ``data`` into a ``uint8`` array of shape ``(height, width, 3)``.

    ``size`` is ``(height, width)`` of the model input.  Animated images use
    their first frame; alpha is dropped; resizing is bilinear with Pillow's
    antialiasing; a JPEG at least twice the size is decoded at reduced scale
    (draft mode) first.  Raises :class:`ImageRejected` for anything unusable.
    """
    height, width = size
    rgb, box = _decode(_open(data, limits), (width, height))
    if rgb.size != (width, height):
        rgb = rgb.resize((width, height), Image.Resampling.BILINEAR, box=box)
    return np.asarray(rgb, dtype=np.uint8)
