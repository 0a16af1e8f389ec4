"""Tiny, learnable datasets and small waits for the training tests."""

from __future__ import annotations

import io
import time
import zipfile
import zlib
from collections.abc import Callable, Mapping

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

# One colour per class, so a few images per class are enough to learn them.
_COLOURS = [(220, 40, 40), (40, 200, 60), (50, 70, 230), (230, 210, 40)]


def class_png(label_index: int, name: str, size: int = 16) -> bytes:
    """A noisy image of class ``label_index``'s colour, unique to ``name``."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    base = np.array(_COLOURS[label_index % len(_COLOURS)], dtype=np.int16)
    pixels = np.clip(base + rng.integers(-30, 31, (size, size, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def dataset_files(counts: Mapping[str, int], prefix: str = "") -> dict[str, bytes]:
    """``{prefix + label/label_i.png: png}``; labels in the given order pick the colours."""
    return {
        f"{prefix}{label}/{label}_{i}.png": class_png(index, f"{prefix}{label}{i}")
        for index, (label, count) in enumerate(counts.items())
        for i in range(count)
    }


def zip_bytes(files: Mapping[str, bytes] | list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items() if isinstance(files, Mapping) else files:
            archive.writestr(name, data)
    return buffer.getvalue()


def upload(handle, data: bytes, name: str = "pets.zip"):
    return handle.client.post(
        "/v1/datasets", {"file": SimpleUploadedFile(name, data)}, format="multipart"
    )


def wait_for(check: Callable[[], object], timeout: float = 60.0, every: float = 0.1):
    """Poll ``check`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(every)
