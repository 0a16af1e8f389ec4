"""Open an uploaded zip safely and read its members without extracting anything.

Every archive-level check below looks only at the end record and the central
directory, before a single member is decompressed. Reads are then bounded a
second time by counting the bytes actually produced, because headers can lie.

Only stored and deflated members are accepted: they are what every zip tool
writes, and Python's deflate reader bounds each output chunk, whereas its
bzip2 and LZMA readers can inflate one small input chunk into gigabytes.
"""

from __future__ import annotations

import re
import stat
import struct
import zipfile
import zlib
from itertools import pairwise
from types import TracebackType
from typing import BinaryIO

from .errors import ArchiveRejected
from .limits import ArchiveLimits

_ACCEPTED_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
_FLAG_ENCRYPTED = 0x1
_FLAG_STRONG_ENCRYPTION = 0x40
_LOCAL_HEADER_SIZE = 30  # fixed part of a local file header; the name follows it
_END_RECORD = b"PK\x05\x06"
_END_RECORD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_END_RECORD = b"PK\x06\x06"
# A central-directory record is 46 bytes plus name and extras; a directory far
# larger than this per allowed entry is refused before Python parses it.
_DIRECTORY_BYTES_PER_ENTRY = 1024
_READ_CHUNK = 64 * 1024
_DRIVE_LETTER = re.compile(r"[A-Za-z]:")


class EntryUnreadable(Exception):
    """One member's compressed data is damaged (CRC mismatch, broken deflate stream)."""


def open_archive(fileobj: BinaryIO, limits: ArchiveLimits) -> SafeArchive:
    """Open ``fileobj`` (seekable, binary) as a zip, or raise :class:`ArchiveRejected`.

    On success every file entry has a safe relative name, is a regular file,
    is neither encrypted nor compressed with an unaccepted method, and the
    declared sizes fit ``limits``. The caller closes the returned archive; the
    file object itself stays open.
    """
    archive_size = fileobj.seek(0, 2)
    fileobj.seek(0)
    if archive_size > limits.max_archive_bytes:
        raise ArchiveRejected(
            "archive_too_large",
            f"the archive is {archive_size} bytes; the limit is {limits.max_archive_bytes} bytes",
        )
    _check_declared_directory(fileobj, archive_size, limits)
    try:
        zip_file = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, EOFError, struct.error) as exc:
        raise ArchiveRejected(
            "not_a_zip", f"the file is not a readable zip archive ({exc})"
        ) from None
    try:
        files = _validated_files(zip_file.infolist(), limits)
    except BaseException:
        zip_file.close()
        raise
    return SafeArchive(zip_file, files, limits)


class SafeArchive:
    """A validated zip whose file members are addressed by their normalised paths."""

    def __init__(
        self, zip_file: zipfile.ZipFile, files: dict[str, zipfile.ZipInfo], limits: ArchiveLimits
    ) -> None:
        self._zip = zip_file
        self._files = files
        self._limits = limits
        self._bytes_read = 0

    @property
    def paths(self) -> list[str]:
        """Normalised paths of all file entries (directories excluded), sorted."""
        return sorted(self._files)

    def declared_size(self, path: str) -> int:
        return self._files[path].file_size

    def read(self, path: str) -> bytes:
        """Return the member's bytes, never producing more than its declared size.

        Raises :class:`EntryUnreadable` for damaged data, and
        :class:`ArchiveRejected` when the member yields more than its header
        declared or the archive's running total passes the uncompressed limit.
        """
        info = self._files[path]
        budget_left = self._limits.max_total_uncompressed_bytes - self._bytes_read
        try:
            with self._zip.open(info) as stream:
                data = _read_at_most(stream, min(info.file_size, budget_left))
        except _Overflow:
            if info.file_size <= budget_left:
                raise ArchiveRejected(
                    "entry_size_mismatch",
                    f"entry '{path}' holds more data than the {info.file_size} bytes its "
                    "header declares",
                ) from None
            raise ArchiveRejected(
                "uncompressed_too_large",
                "the archive expands past the limit of "
                f"{self._limits.max_total_uncompressed_bytes} bytes while reading '{path}'",
            ) from None
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise EntryUnreadable(f"the zip entry is damaged ({exc})") from None
        self._bytes_read += len(data)
        if len(data) != info.file_size:
            raise EntryUnreadable(
                f"the zip entry holds {len(data)} bytes, not the {info.file_size} it declares"
            )
        return data

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def safe_member_path(name: str) -> str:
    """Normalise a zip entry name to a relative POSIX path, or reject the archive.

    Backslashes count as separators (Windows tools write them), so
    ``..\\..\\x`` is caught like ``../../x``. Any ``..`` component is refused,
    even one that stays inside: no honest zip tool writes one. Returns ``""``
    for names that denote the root itself (``./``).
    """
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise ArchiveRejected(
            "unsafe_entry_name", f"entry {name!r} has control characters in its name"
        )
    unified = name.replace("\\", "/")
    if unified.startswith("/") or _DRIVE_LETTER.match(unified):
        raise ArchiveRejected(
            "path_traversal", f"entry '{name}' is an absolute path, outside the archive root"
        )
    parts = [part for part in unified.split("/") if part not in ("", ".")]
    if ".." in parts:
        where = "escapes the archive root" if _escapes(parts) else "contains a '..' component"
        raise ArchiveRejected("path_traversal", f"entry '{name}' {where}")
    return "/".join(parts)


def _escapes(parts: list[str]) -> bool:
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else 1
        if depth < 0:
            return True
    return False


def _check_declared_directory(fileobj: BinaryIO, archive_size: int, limits: ArchiveLimits) -> None:
    """Refuse an oversized central directory before :mod:`zipfile` builds objects for it."""
    declared = _read_end_record(fileobj, archive_size)
    fileobj.seek(0)
    if declared is None:
        return  # no end record found: zipfile reports the archive as unreadable
    entry_count, directory_size = declared
    if entry_count > limits.max_entries:
        raise ArchiveRejected(
            "too_many_entries",
            f"the archive has {entry_count} entries; the limit is {limits.max_entries}",
        )
    if directory_size > limits.max_entries * _DIRECTORY_BYTES_PER_ENTRY:
        raise ArchiveRejected(
            "too_many_entries",
            f"the archive's directory is {directory_size} bytes, more than "
            f"{limits.max_entries} entries can need",
        )


def _read_end_record(fileobj: BinaryIO, archive_size: int) -> tuple[int, int] | None:
    """Return ``(entry count, central directory size)`` from the end record, if one is found."""
    tail_size = min(archive_size, _END_RECORD_SIZE + 0xFFFF)  # the comment is at most 64 KiB
    fileobj.seek(archive_size - tail_size)
    tail = fileobj.read(tail_size)
    at = tail.rfind(_END_RECORD)
    if at < 0 or len(tail) - at < _END_RECORD_SIZE:
        return None
    entry_count, directory_size = struct.unpack("<HI", tail[at + 10 : at + 16])
    if entry_count != 0xFFFF and directory_size != 0xFFFFFFFF:
        return entry_count, directory_size
    # Zip64: the real figures sit in a record the locator before the end record points to.
    locator = tail[max(at - 20, 0) : at]
    if len(locator) != 20 or not locator.startswith(_ZIP64_LOCATOR):
        return None
    (record_offset,) = struct.unpack("<Q", locator[8:16])
    if record_offset > archive_size:
        return None
    fileobj.seek(record_offset)
    record = fileobj.read(56)
    if len(record) != 56 or not record.startswith(_ZIP64_END_RECORD):
        return None
    entry_count, directory_size = struct.unpack("<QQ", record[32:48])
    return entry_count, directory_size


def _validated_files(
    infos: list[zipfile.ZipInfo], limits: ArchiveLimits
) -> dict[str, zipfile.ZipInfo]:
    if len(infos) > limits.max_entries:
        raise ArchiveRejected(
            "too_many_entries",
            f"the archive has {len(infos)} entries; the limit is {limits.max_entries}",
        )
    files: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        path = safe_member_path(info.filename)
        _check_entry_type(info)
        if info.is_dir() or not path:
            continue
        if path in files:
            raise ArchiveRejected(
                "duplicate_entry_name", f"entry '{path}' appears more than once in the archive"
            )
        _check_encoding(info)
        _check_ratio(info, limits)
        files[path] = info
    declared_total = sum(info.file_size for info in files.values())
    if declared_total > limits.max_total_uncompressed_bytes:
        raise ArchiveRejected(
            "uncompressed_too_large",
            f"the archive expands to {declared_total} bytes; the limit is "
            f"{limits.max_total_uncompressed_bytes} bytes",
        )
    _check_no_overlap(infos)
    return files


def _check_entry_type(info: zipfile.ZipInfo) -> None:
    # Unix tools store the file mode in the high 16 bits of the external attributes.
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ArchiveRejected(
            "symlink_entry", f"entry '{info.filename}' is a symbolic link; links are not accepted"
        )
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise ArchiveRejected(
            "special_entry", f"entry '{info.filename}' is a device, pipe or socket, not a file"
        )


def _check_encoding(info: zipfile.ZipInfo) -> None:
    if info.flag_bits & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
        raise ArchiveRejected(
            "encrypted_entry",
            f"entry '{info.filename}' is encrypted; upload an archive without a password",
        )
    if info.compress_type not in _ACCEPTED_COMPRESSION:
        raise ArchiveRejected(
            "unsupported_compression",
            f"entry '{info.filename}' uses compression method {info.compress_type}; "
            "only stored and deflate (what zip tools write by default) are accepted",
        )


def _check_ratio(info: zipfile.ZipInfo, limits: ArchiveLimits) -> None:
    # The actual output is capped at the declared size when read, so checking
    # the declared ratio also bounds the real one.
    if info.file_size <= limits.ratio_exempt_below_bytes:
        return
    if info.file_size > limits.max_compression_ratio * max(info.compress_size, 1):
        ratio = info.file_size // max(info.compress_size, 1)
        raise ArchiveRejected(
            "zip_bomb",
            f"entry '{info.filename}' expands {ratio}:1 ({info.compress_size} to "
            f"{info.file_size} bytes), over the {limits.max_compression_ratio}:1 limit "
            "(a zip bomb)",
        )


def _check_no_overlap(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse entries sharing compressed data, the trick of non-recursive zip bombs."""
    by_offset = sorted(infos, key=lambda info: info.header_offset)
    for before, after in pairwise(by_offset):
        if after.header_offset < before.header_offset + _LOCAL_HEADER_SIZE + before.compress_size:
            raise ArchiveRejected(
                "overlapping_entries",
                f"entries '{before.filename}' and '{after.filename}' overlap inside the "
                "archive, a construction used by zip bombs",
            )


class _Overflow(Exception):
    pass


def _read_at_most(stream: BinaryIO, limit: int) -> bytes:
    """Read ``stream`` to its end; raise ``_Overflow`` as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    total = 0
    while chunk := stream.read(_READ_CHUNK):
        total += len(chunk)
        if total > limit:
            raise _Overflow
        chunks.append(chunk)
    return b"".join(chunks)
