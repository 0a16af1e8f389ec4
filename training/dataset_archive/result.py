"""The result of scanning a dataset archive: plain, immutable, JSON-serialisable."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from .conventions import SPLITS
from .limits import ArchiveLimits


@dataclass(frozen=True)
class Example:
    """One accepted image: where it is, its label and split, and facts that pin its bytes."""

    member: str
    label: str
    split: str
    sha256: str
    size: int
    format: str
    width: int
    height: int


@dataclass(frozen=True)
class RejectedFile:
    """A file that is not used, with a stable ``code`` and a ``reason`` for people."""

    member: str
    code: str
    reason: str


@dataclass(frozen=True)
class IgnoredFile:
    """Clutter skipped on purpose (``__MACOSX/``, ``.DS_Store``, files a manifest omits)."""

    member: str
    reason: str


@dataclass(frozen=True)
class DuplicateFile:
    """A file whose bytes equal an earlier accepted one; only the earlier one is used."""

    member: str
    duplicate_of: str


@dataclass(frozen=True)
class ExcludedClass:
    """A class left out of the dataset, with how many usable images it had and why."""

    label: str
    images: int
    reason: str


@dataclass(frozen=True)
class ImageStats:
    """Sizes and formats of the accepted images (zeros when there are none)."""

    count: int
    min_width: int
    max_width: int
    mean_width: float
    min_height: int
    max_height: int
    mean_height: float
    formats: dict[str, int]

    @classmethod
    def of(cls, examples: Iterable[Example]) -> ImageStats:
        examples = list(examples)
        if not examples:
            return cls(0, 0, 0, 0.0, 0, 0, 0.0, {})
        widths = [example.width for example in examples]
        heights = [example.height for example in examples]
        return cls(
            count=len(examples),
            min_width=min(widths),
            max_width=max(widths),
            mean_width=round(sum(widths) / len(widths), 1),
            min_height=min(heights),
            max_height=max(heights),
            mean_height=round(sum(heights) / len(heights), 1),
            formats=dict(sorted(Counter(example.format for example in examples).items())),
        )


@dataclass(frozen=True)
class DatasetScan:
    """Everything learnt from one archive; the examples are what training uses.

    ``classes`` (sorted) defines the label indices a model is trained with.
    Counts and statistics are derived from ``examples``, so they cannot
    disagree with it. ``to_dict``/``from_dict`` round-trip through JSON, so a
    scan can be stored with the dataset version and handed to the trainer.
    """

    layout: str  # "class_folders" | "split_folders" | "manifest"
    examples: tuple[Example, ...]
    rejected: tuple[RejectedFile, ...]
    ignored: tuple[IgnoredFile, ...]
    duplicates: tuple[DuplicateFile, ...]
    excluded_classes: tuple[ExcludedClass, ...]
    limits: ArchiveLimits

    @cached_property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted({example.label for example in self.examples}))

    @cached_property
    def splits(self) -> tuple[str, ...]:
        present = {example.split for example in self.examples}
        return tuple(split for split in SPLITS if split in present)

    @cached_property
    def counts(self) -> dict[str, dict[str, int]]:
        """``{label: {split: images}}`` for every class and the splits it has images in."""
        pairs = Counter((example.label, example.split) for example in self.examples)
        return {
            label: {split: pairs[label, split] for split in self.splits if pairs[label, split]}
            for label in self.classes
        }

    @property
    def class_counts(self) -> dict[str, int]:
        return {label: sum(by_split.values()) for label, by_split in self.counts.items()}

    @property
    def split_counts(self) -> dict[str, int]:
        totals = Counter(example.split for example in self.examples)
        return {split: totals[split] for split in self.splits}

    @cached_property
    def image_stats(self) -> ImageStats:
        return ImageStats.of(self.examples)

    def summary(self) -> dict[str, Any]:
        """Everything except the per-image list: what the dataset API shows."""
        return {
            "layout": self.layout,
            "classes": list(self.classes),
            "splits": list(self.splits),
            "counts": self.counts,
            "class_counts": self.class_counts,
            "split_counts": self.split_counts,
            "image_stats": asdict(self.image_stats),
            "rejected": [asdict(item) for item in self.rejected],
            "ignored": [asdict(item) for item in self.ignored],
            "duplicates": [asdict(item) for item in self.duplicates],
            "excluded_classes": [asdict(item) for item in self.excluded_classes],
            "limits": asdict(self.limits),
        }

    def to_dict(self) -> dict[str, Any]:
        """The summary plus every accepted example; :meth:`from_dict` reads it back."""
        return {**self.summary(), "examples": [asdict(example) for example in self.examples]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetScan:
        """Rebuild a scan from :meth:`to_dict` output (derived keys are recomputed)."""
        return cls(
            layout=data["layout"],
            examples=tuple(Example(**item) for item in data["examples"]),
            rejected=tuple(RejectedFile(**item) for item in data["rejected"]),
            ignored=tuple(IgnoredFile(**item) for item in data["ignored"]),
            duplicates=tuple(DuplicateFile(**item) for item in data["duplicates"]),
            excluded_classes=tuple(ExcludedClass(**item) for item in data["excluded_classes"]),
            limits=ArchiveLimits(**data["limits"]),
        )
