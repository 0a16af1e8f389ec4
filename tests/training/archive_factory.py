"""Build dataset zips in memory for tests: real images, layouts and forged entries.

Image bytes are derived from the member name, so every file in an archive is
distinct unless a test copies bytes on purpose.
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping

import numpy as np
from PIL import Image

Files = Mapping[str, bytes]


def image_bytes(name: str, *, size: tuple[int, int] = (8, 6), image_format: str = "PNG") -> bytes:
    """A small noise image (``size`` is ``(width, height)``) unique to ``name``."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format)
    return buffer.getvalue()


def class_images(counts: Mapping[str, int], *, prefix: str = "") -> dict[str, bytes]:
    """``{prefix + label/label_i.png: png}`` with ``counts[label]`` images per label."""
    files = {}
    for label, count in counts.items():
        for index in range(count):
            name = f"{prefix}{label}/{label}_{index}.png"
            files[name] = image_bytes(name)
    return files


def png_claiming_size(width: int, height: int) -> bytes:
    """A well-formed PNG header announcing ``width x height`` with almost no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def build_zip(
    files: Files | Iterable[tuple[str | zipfile.ZipInfo, bytes]],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
    edit: Callable[[list[zipfile.ZipInfo]], None] | None = None,
) -> io.BytesIO:
    """Write ``files`` into an in-memory zip, rewound and ready to read.

    ``edit`` may change the entries' fields after their data is written: the
    central directory is written from them at close, which is how tests forge
    sizes, flags and offsets that real tools would never produce.
    """
    items = files.items() if isinstance(files, Mapping) else files
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in items:
            archive.writestr(name, data)
        if edit:
            edit(archive.infolist())
    buffer.seek(0)
    return buffer


def symlink_entry(name: str) -> zipfile.ZipInfo:
    """An entry whose Unix mode marks it as a symbolic link."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the mode lives in the high bits of external_attr
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]
