"""Read a scanned archive's accepted images again, for training.

The archive is re-opened under the limits recorded in the scan, and every
member's bytes must hash to what the scan saw: a replaced or altered file is
refused rather than silently trained on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator
from typing import BinaryIO, NamedTuple

import numpy as np

from ml.images import ImageLimits, load_image

from .conventions import SPLITS
from .errors import ArchiveRejected
from .result import DatasetScan, Example
from .zip_safety import EntryUnreadable, open_archive


class ExampleData(NamedTuple):
    split: str
    label: str
    member: str
    data: bytes


def iter_examples(
    fileobj: BinaryIO, scan: DatasetScan, *, splits: Collection[str] | None = None
) -> Iterator[ExampleData]:
    """Yield the bytes of each accepted example of ``scan`` (optionally only some splits).

    Order is the scan's: by split (train, val, test), then member path. Raises
    :class:`ArchiveRejected` (``archive_changed``) if the archive no longer
    holds exactly the scanned bytes.
    """
    with open_archive(fileobj, scan.limits) as archive:
        present = set(archive.paths)
        for example in _selected(scan, splits):
            if example.member not in present:
                raise _changed(example, "is missing")
            try:
                data = archive.read(example.member)
            except EntryUnreadable as exc:
                raise _changed(example, f"can no longer be read: {exc}") from None
            if hashlib.sha256(data).hexdigest() != example.sha256:
                raise _changed(example, "has different bytes")
            yield ExampleData(example.split, example.label, example.member, data)


def load_arrays(
    fileobj: BinaryIO,
    scan: DatasetScan,
    size: tuple[int, int],
    *,
    splits: Collection[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode the accepted examples into ``(x, y, split)`` for training.

    ``x`` is ``uint8`` of shape ``(n, height, width, 3)`` decoded by
    :func:`ml.images.load_image` (``size`` is ``(height, width)``); ``y`` holds
    ``int64`` indices into ``scan.classes``; ``split`` names each row's split.
    Memory is ``n * height * width * 3`` bytes: pass ``splits`` or stream with
    :func:`iter_examples` when that is too much.
    """
    selected = _selected(scan, splits)
    height, width = size
    x = np.empty((len(selected), height, width, 3), dtype=np.uint8)
    y = np.empty(len(selected), dtype=np.int64)
    split_of_row: list[str] = []
    index_of = {label: index for index, label in enumerate(scan.classes)}
    image_limits = ImageLimits(
        max_bytes=scan.limits.max_file_bytes, max_pixels=scan.limits.max_image_pixels
    )
    for row, item in enumerate(iter_examples(fileobj, scan, splits=splits)):
        x[row] = load_image(item.data, size, image_limits)
        y[row] = index_of[item.label]
        split_of_row.append(item.split)
    return x, y, split_of_row


def _selected(scan: DatasetScan, splits: Collection[str] | None) -> list[Example]:
    if splits is None:
        return list(scan.examples)
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown splits {sorted(unknown)}; splits are {', '.join(SPLITS)}")
    return [example for example in scan.examples if example.split in splits]


def _changed(example: Example, what: str) -> ArchiveRejected:
    return ArchiveRejected(
        "archive_changed", f"entry '{example.member}' {what} since the dataset was scanned"
    )
