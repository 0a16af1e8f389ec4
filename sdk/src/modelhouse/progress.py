"""Progress bars (tqdm, on stderr so ``--json`` output on stdout stays clean)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import IO, Any

from tqdm import tqdm


def bar(*, total: int | None, desc: str, enabled: bool, **options: Any) -> tqdm:
    """A bar, or a silent stand-in with the same methods when ``enabled`` is false."""
    return tqdm(
        total=total,
        desc=desc,
        disable=not enabled,
        file=sys.stderr,
        leave=True,
        dynamic_ncols=True,
        **options,
    )


class ReadProgress:
    """A binary file that reports how far it has been read, for upload bars.

    HTTP clients rewind a body before each retry; the reported position goes
    back with it, so a bar never counts the same bytes twice.
    """

    def __init__(self, file: IO[bytes], on_position: Callable[[int], None]) -> None:
        self._file = file
        self._on_position = on_position

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._on_position(self._file.tell())
        return chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()
