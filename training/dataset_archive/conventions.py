"""Naming conventions of dataset archives: splits, operating-system clutter, class names.

They follow Keras' ``image_dataset_from_directory``: a folder is a class, its
name is the label, and images in its subfolders belong to it too.
"""

from __future__ import annotations

import re

# Canonical split names, in the order examples are processed and reported.
# ``val`` and ``test`` are both held out: never trained on.
SPLITS = ("train", "val", "test")
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}
# Splits of images that carry none (class-folder layout, manifest rows
# without a split): the trainer carves its validation set out of them.
DEFAULT_SPLIT = "train"

_METADATA_FILES = {".ds_store", "thumbs.db", "desktop.ini"}
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
_ZIP_MAGIC = b"PK\x03\x04"
# Letters and digits of any script, then those plus a few punctuation marks.
_CLASS_NAME = re.compile(r"\w[\w .,'&+()\-]*")


def canonical_split(name: str) -> str | None:
    """Return the canonical split for a folder name or manifest value, or None."""
    return SPLIT_ALIASES.get(name.strip().lower())


def clutter_reason(path: str) -> str | None:
    """Why ``path`` is operating-system clutter to ignore silently, or None if it is content."""
    parts = path.split("/")
    if parts[0] == "__MACOSX":
        return "macOS resource fork"
    if parts[-1].lower() in _METADATA_FILES:
        return "operating system metadata file"
    if any(part.startswith(".") for part in parts):
        return "hidden file"
    return None


def looks_like_archive(path: str, head: bytes = b"") -> bool:
    """True for nested archives, by name or by content; they are never opened."""
    return path.lower().endswith(_ARCHIVE_SUFFIXES) or head.startswith(_ZIP_MAGIC)


def class_name_problem(name: str, max_length: int) -> str | None:
    """Describe what is wrong with a class name, or return None when it is acceptable."""
    if not name:
        return "the class name is empty"
    if len(name) > max_length:
        return f"the class name is {len(name)} characters long; the limit is {max_length}"
    if name != name.strip():
        return f"the class name {name!r} starts or ends with a space"
    if not _CLASS_NAME.fullmatch(name):
        return (
            f"the class name {name!r} may only hold letters, digits, spaces and _ - . , ' & + ( ), "
            "and must start with a letter, a digit or _"
        )
    return None
