"""The one exception that refuses a whole dataset archive."""

from __future__ import annotations


class ArchiveRejected(ValueError):
    """The uploaded archive as a whole cannot be used.

    Raised for problems that make every file in it suspect (not a zip, path
    traversal, a zip bomb, …) or that leave nothing to train on. ``code`` is a
    stable machine-readable reason; ``message`` names the problem in words a
    user can act on (it is shown on the dataset as its failure reason).
    Problems with single files never raise: they are listed in the scan.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ArchiveRejected({self.code!r}, {self.message!r})"
