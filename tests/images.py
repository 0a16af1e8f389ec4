"""Image bytes for tests, made with Pillow."""

import io

import numpy as np
from PIL import Image


def png(size=(48, 40), seed=0, mode="RGB") -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(size=(48, 40), seed=0) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png(size, seed))).save(buffer, "JPEG")
    return buffer.getvalue()
