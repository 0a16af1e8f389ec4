"""The CSV manifest layout: ``path,label[,split]`` rows naming images in the archive.

Paths are relative to the manifest's folder. They only ever select members of
the already validated archive (nothing touches a file system), so a path that
cannot name a member is simply a bad row. Files the manifest does not name are
ignored, and listed as such.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from .conventions import DEFAULT_SPLIT, SPLITS, canonical_split
from .errors import ArchiveRejected
from .limits import ArchiveLimits
from .plan import LayoutPlan
from .result import IgnoredFile, RejectedFile
from .zip_safety import EntryUnreadable, SafeArchive, safe_member_path

_REQUIRED_COLUMNS = ("path", "label")


def plan_from_manifest(
    plan: LayoutPlan,
    archive: SafeArchive,
    manifest: str,
    root: str,
    content: list[str],
    limits: ArchiveLimits,
) -> None:
    """Fill ``plan`` from the rows of ``manifest``; bad rows become rejections."""
    present = set(content) - {manifest}
    listed_on: dict[str, int] = {}
    text = _manifest_text(archive, manifest, limits)
    for line, path, label, split in _rows(text, manifest, limits):
        member = _member_for(path, root)
        where = f"{manifest} line {line}"
        problem = _row_problem(where, path, member, split, present, listed_on)
        if problem:
            plan.rejected.append(problem)
        else:
            listed_on[member] = line
            plan.add(member, label.strip(), canonical_split(split) or DEFAULT_SPLIT, limits)
    accounted_for = {manifest, *listed_on, *(item.member for item in plan.rejected)}
    plan.ignored.extend(
        IgnoredFile(member, f"not listed in {manifest}")
        for member in content
        if member not in accounted_for
    )


def _row_problem(
    where: str,
    path: str,
    member: str | None,
    split: str,
    present: set[str],
    listed_on: dict[str, int],
) -> RejectedFile | None:
    if member is None:
        return RejectedFile(path, "invalid_path", f"{where}: {path!r} is not a relative path")
    if member not in present:
        return RejectedFile(member, "missing_file", f"{where} names a file the archive lacks")
    if member in listed_on:
        return RejectedFile(
            member,
            "duplicate_manifest_row",
            f"{where} repeats the file already listed on line {listed_on[member]}",
        )
    if split.strip() and not canonical_split(split):
        return RejectedFile(
            member,
            "unknown_split",
            f"{where} has split {split!r}; use one of {', '.join(SPLITS)} or leave it empty",
        )
    return None


def _manifest_text(archive: SafeArchive, manifest: str, limits: ArchiveLimits) -> str:
    size = archive.declared_size(manifest)
    if size > limits.max_file_bytes:
        raise ArchiveRejected(
            "invalid_manifest",
            f"the manifest {manifest} is {size} bytes; the limit is {limits.max_file_bytes} bytes",
        )
    try:
        return archive.read(manifest).decode("utf-8-sig")
    except EntryUnreadable as exc:
        raise ArchiveRejected("invalid_manifest", f"the manifest {manifest}: {exc}") from None
    except UnicodeDecodeError:
        raise ArchiveRejected(
            "invalid_manifest", f"the manifest {manifest} is not UTF-8 text"
        ) from None


def _rows(text: str, manifest: str, limits: ArchiveLimits) -> Iterator[tuple[int, str, str, str]]:
    """Yield ``(line, path, label, split)`` for each non-blank row after the header."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = [column.strip().lower() for column in next(reader, [])]
        if not all(column in header for column in _REQUIRED_COLUMNS):
            raise ArchiveRejected(
                "invalid_manifest",
                f"the manifest {manifest} needs a header row with the columns path and label "
                f"(and optionally split); its first row is {','.join(header)!r}",
            )
        columns = {
            name: header.index(name) for name in (*_REQUIRED_COLUMNS, "split") if name in header
        }
        for count, row in enumerate(reader, start=1):
            if count > limits.max_entries:
                raise ArchiveRejected(
                    "invalid_manifest",
                    f"the manifest {manifest} has more than {limits.max_entries} rows",
                )
            cells = {
                name: row[index] if index < len(row) else "" for name, index in columns.items()
            }
            if any(cell.strip() for cell in row):
                yield reader.line_num, cells["path"], cells["label"], cells.get("split", "")
    except csv.Error as exc:
        raise ArchiveRejected(
            "invalid_manifest",
            f"the manifest {manifest} is not valid CSV at line {reader.line_num}: {exc}",
        ) from None


def _member_for(path: str, root: str) -> str | None:
    try:
        relative = safe_member_path(path.strip())
    except ArchiveRejected:
        return None
    return root + relative if relative else None
