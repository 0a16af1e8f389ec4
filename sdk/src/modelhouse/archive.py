"""Zip a dataset folder for upload.

The folder is laid out as the API expects (one sub-folder per class, optionally
under ``train/`` and ``val/``, or a CSV manifest next to the images); it is
archived as is.  Hidden files (``.DS_Store``, ``.git``) and symbolic links are
left out: the server would reject links anyway, and hidden files are never
images.  The archive goes to a temporary file, not memory.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import IO

# Already compressed: deflating them again costs time and saves nothing.
_STORED = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".zip"})


def dataset_files(folder: Path) -> list[Path]:
    """The files to archive, relative to ``folder``, in a stable order."""
    found = []
    for root, directories, names in os.walk(folder):
        directories[:] = sorted(d for d in directories if not d.startswith("."))
        for name in sorted(names):
            path = Path(root) / name
            if not name.startswith(".") and not path.is_symlink():
                found.append(path.relative_to(folder))
    return found


def zip_folder(folder: str | os.PathLike[str]) -> IO[bytes]:
    """A temporary file holding ``folder`` zipped, positioned at its start."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    files = dataset_files(folder)
    if not files:
        raise ValueError(f"{folder} holds no files to upload")
    archive = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
    with zipfile.ZipFile(archive, "w") as writer:
        for relative in files:
            stored = relative.suffix.lower() in _STORED
            method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            writer.write(folder / relative, relative.as_posix(), compress_type=method)
    archive.seek(0)
    return archive
