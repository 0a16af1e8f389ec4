"""A dataset upload's body: a folder zipped on the fly or a ready zip, and how far it was sent."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from modelhouse.archive import zip_folder

# ``on_progress(sent_bytes, total_bytes)``: how much of an upload has been read so far.
ProgressCallback = Callable[[int, int], None]


@dataclass
class Upload:
    """An open archive to send as the multipart ``file``; close it when done (``with``)."""

    filename: str
    file: IO[bytes]
    size: int

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.file.close()

    def part(self, on_progress: ProgressCallback | None) -> tuple[str, Any, str]:
        """The ``files=`` entry for httpx, reporting reads to ``on_progress`` if given."""
        body: Any = self.file
        if on_progress is not None:
            size = self.size
            body = ReadProgress(self.file, lambda position: on_progress(position, size))
        return (self.filename, body, "application/zip")


def open_upload(path: str | os.PathLike[str]) -> Upload:
    """A folder is zipped to a temporary file (see :mod:`modelhouse.archive`); a file is
    sent as it is.  Slow for a large folder: the async client runs it in a thread."""
    path = Path(path)
    if path.is_dir():
        archive, filename = zip_folder(path), f"{path.name}.zip"
    else:
        archive, filename = path.open("rb"), path.name
    size = archive.seek(0, os.SEEK_END)
    archive.seek(0)
    return Upload(filename=filename, file=archive, size=size)


class ReadProgress:
    """A binary file that reports how far it has been read, for upload progress.

    HTTP clients rewind a body before each retry; the reported position goes
    back with it, so progress never counts the same bytes twice.
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
