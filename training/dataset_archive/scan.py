"""Scan an uploaded dataset archive: validate it and describe what can be trained on.

The archive is read in place, one member at a time; nothing is extracted to
disk and at most one member's bytes are held in memory. Images are judged by
:mod:`ml.images`, the same code that decodes them for training and serving.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import BinaryIO

from ml.images import ImageLimits, ImageRejected, inspect_image

from .conventions import SPLITS, looks_like_archive
from .errors import ArchiveRejected
from .layout import plan_layout
from .limits import DEFAULT_LIMITS, ArchiveLimits
from .plan import Candidate
from .result import DatasetScan, DuplicateFile, Example, ExcludedClass, RejectedFile
from .zip_safety import EntryUnreadable, SafeArchive, open_archive

_MIN_CLASSES = 2


def read_dataset_archive(
    fileobj: BinaryIO, *, limits: ArchiveLimits = DEFAULT_LIMITS
) -> DatasetScan:
    """Validate the zip in ``fileobj`` (seekable, binary) and describe its usable images.

    Problems with single files are listed in the result and the scan goes on;
    problems that make the archive unsafe or leave fewer than two usable
    classes raise :class:`ArchiveRejected`. Runs on the datasets worker: it
    needs Pillow and NumPy, never TensorFlow.
    """
    with open_archive(fileobj, limits) as archive:
        plan = plan_layout(archive, limits)
        _check_class_count(plan.candidates, limits)
        inspection = _inspect_all(archive, plan.candidates, limits)
    rejected = [*plan.rejected, *inspection.rejected]
    examples, excluded = _apply_class_rules(inspection.accepted, rejected, limits)
    return DatasetScan(
        layout=plan.layout,
        examples=tuple(examples),
        rejected=tuple(sorted(rejected, key=lambda item: item.member)),
        ignored=tuple(sorted(plan.ignored, key=lambda item: item.member)),
        duplicates=tuple(inspection.duplicates),
        excluded_classes=tuple(excluded),
        limits=limits,
    )


@dataclass
class _Inspection:
    accepted: list[Example] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    duplicates: list[DuplicateFile] = field(default_factory=list)


def _inspect_all(
    archive: SafeArchive, candidates: list[Candidate], limits: ArchiveLimits
) -> _Inspection:
    """Decode every candidate once; of files with equal bytes only the first counts.

    Candidates go in split order (train first), so when the same image sits in
    train and val the training copy is kept and the held-out one is reported.
    """
    image_limits = ImageLimits(max_bytes=limits.max_file_bytes, max_pixels=limits.max_image_pixels)
    inspection = _Inspection()
    first_by_digest: dict[str, Example | RejectedFile] = {}
    for candidate in sorted(candidates, key=lambda c: (SPLITS.index(c.split), c.member)):
        outcome = _inspect_one(archive, candidate, image_limits, first_by_digest)
        if isinstance(outcome, Example):
            inspection.accepted.append(outcome)
        elif isinstance(outcome, DuplicateFile):
            inspection.duplicates.append(outcome)
        else:
            inspection.rejected.append(outcome)
    return inspection


def _inspect_one(
    archive: SafeArchive,
    candidate: Candidate,
    image_limits: ImageLimits,
    first_by_digest: dict[str, Example | RejectedFile],
) -> Example | RejectedFile | DuplicateFile:
    member = candidate.member
    size = archive.declared_size(member)
    if size > image_limits.max_bytes:
        return RejectedFile(
            member,
            "file_too_large",
            f"the file is {size} bytes; the limit is {image_limits.max_bytes} bytes",
        )
    if looks_like_archive(member):
        return _nested_archive(member)
    try:
        data = archive.read(member)
    except EntryUnreadable as exc:
        return RejectedFile(member, "corrupt_entry", str(exc))
    digest = hashlib.sha256(data).hexdigest()
    earlier = first_by_digest.get(digest)
    if isinstance(earlier, Example):
        return DuplicateFile(member, duplicate_of=earlier.member)
    if isinstance(earlier, RejectedFile):
        return RejectedFile(
            member, earlier.code, f"{earlier.reason} (same bytes as '{earlier.member}')"
        )
    outcome = _judge_image(candidate, data, digest, image_limits)
    first_by_digest[digest] = outcome
    return outcome


def _judge_image(
    candidate: Candidate, data: bytes, digest: str, image_limits: ImageLimits
) -> Example | RejectedFile:
    if looks_like_archive(candidate.member, data[:4]):
        return _nested_archive(candidate.member)
    try:
        image_format, width, height = inspect_image(data, image_limits)
    except ImageRejected as exc:
        return RejectedFile(candidate.member, exc.code, exc.message)
    return Example(
        member=candidate.member,
        label=candidate.label,
        split=candidate.split,
        sha256=digest,
        size=len(data),
        format=image_format,
        width=width,
        height=height,
    )


def _nested_archive(member: str) -> RejectedFile:
    return RejectedFile(
        member, "nested_archive", "archives inside the archive are not opened; add the images"
    )


def _check_class_count(candidates: list[Candidate], limits: ArchiveLimits) -> None:
    """Refuse too many classes before spending time decoding their images."""
    labels = {candidate.label for candidate in candidates}
    if len(labels) > limits.max_classes:
        raise ArchiveRejected(
            "too_many_classes",
            f"the archive has {len(labels)} classes; the limit is {limits.max_classes}",
        )


def _apply_class_rules(
    accepted: list[Example], rejected: list[RejectedFile], limits: ArchiveLimits
) -> tuple[list[Example], list[ExcludedClass]]:
    """Drop classes with too few images (or none to train on); insist on two that remain."""
    if not accepted:
        raise ArchiveRejected("no_usable_images", _nothing_usable_message(rejected))
    by_label: defaultdict[str, list[Example]] = defaultdict(list)
    for example in accepted:
        by_label[example.label].append(example)
    excluded = [
        ExcludedClass(label, len(examples), reason)
        for label, examples in sorted(by_label.items())
        if (reason := _class_problem(examples, limits))
    ]
    dropped = {item.label for item in excluded}
    kept = [example for example in accepted if example.label not in dropped]
    kept_labels = sorted(by_label.keys() - dropped)
    if len(kept_labels) < _MIN_CLASSES:
        found = [f"'{label}' ({len(by_label[label])} images)" for label in kept_labels]
        found += [f"'{item.label}' ({item.reason})" for item in excluded]
        raise ArchiveRejected(
            "too_few_classes",
            f"a dataset needs at least {_MIN_CLASSES} classes with at least "
            f"{limits.min_images_per_class} usable images each; found {len(kept_labels)} "
            f"usable: {', '.join(found)}",
        )
    return kept, excluded


def _class_problem(examples: list[Example], limits: ArchiveLimits) -> str | None:
    if len(examples) < limits.min_images_per_class:
        return (
            f"only {len(examples)} usable images; at least {limits.min_images_per_class} are needed"
        )
    if not any(example.split == "train" for example in examples):
        return "no usable images in the train split"
    return None


def _nothing_usable_message(rejected: list[RejectedFile]) -> str:
    if not rejected:
        return "the archive holds no images"
    codes = Counter(item.code for item in rejected)
    detail = ", ".join(f"{count} {code}" for code, count in codes.most_common())
    return f"none of the {len(rejected)} files is a usable image ({detail})"
