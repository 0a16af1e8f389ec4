"""What the layout step decides about each file, before any image is decoded."""

from __future__ import annotations

from dataclasses import dataclass, field

from .conventions import class_name_problem
from .limits import ArchiveLimits
from .result import IgnoredFile, RejectedFile


@dataclass(frozen=True)
class Candidate:
    """A file that should be an image of ``label`` in ``split``; not yet decoded."""

    member: str
    label: str
    split: str


@dataclass
class LayoutPlan:
    layout: str
    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    ignored: list[IgnoredFile] = field(default_factory=list)

    def add(self, member: str, label: str, split: str, limits: ArchiveLimits) -> None:
        """Add a candidate, or a rejection when its class name is unacceptable."""
        problem = class_name_problem(label, limits.max_class_name_length)
        if problem:
            self.rejected.append(RejectedFile(member, "invalid_class_name", problem))
        else:
            self.candidates.append(Candidate(member, label, split))
