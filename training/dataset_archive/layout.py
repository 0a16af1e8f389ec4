"""Work out an archive's layout and give every content file its label and split.

Three layouts are understood, all optionally inside one wrapping folder (what
zipping a directory produces):

* ``class_folders``: ``cat/1.jpg``, ``dog/2.png`` — every image is in ``train``;
* ``split_folders``: ``train/cat/1.jpg``, ``val/dog/2.png`` (also ``validation/``
  and ``test/``);
* ``manifest``: ``manifest.csv`` (or the only CSV at the top) with columns
  ``path,label[,split]`` naming images elsewhere in the archive.

Nothing here reads an image; it only decides what each path is.
"""

from __future__ import annotations

from .conventions import (
    DEFAULT_SPLIT,
    canonical_split,
    clutter_reason,
)
from .errors import ArchiveRejected
from .limits import ArchiveLimits
from .manifest import plan_from_manifest
from .plan import LayoutPlan
from .result import IgnoredFile, RejectedFile
from .zip_safety import SafeArchive


def plan_layout(archive: SafeArchive, limits: ArchiveLimits) -> LayoutPlan:
    """Classify every file of ``archive``; raise :class:`ArchiveRejected` if no layout fits."""
    clutter = [
        IgnoredFile(path, reason) for path in archive.paths if (reason := clutter_reason(path))
    ]
    content = [path for path in archive.paths if not clutter_reason(path)]
    if not content:
        raise ArchiveRejected(
            "no_usable_images",
            "the archive holds no files" + (" apart from system clutter" if clutter else ""),
        )
    root = _wrapping_folder(content)
    relative = {path: path[len(root) :] for path in content}
    manifest = _find_manifest(relative, root)
    if manifest:
        plan = LayoutPlan("manifest")
        plan_from_manifest(plan, archive, manifest, root, content, limits)
    elif any(canonical_split(top) for top in _top_folders(relative)):
        plan = _plan_split_folders(relative, limits)
    else:
        plan = _plan_class_folders(relative, limits)
    plan.ignored[:0] = clutter
    return plan


def _wrapping_folder(content: list[str]) -> str:
    """Return ``"name/"`` when everything sits in one folder that is not itself a class.

    The folder wraps the dataset when it holds only folders (``pets/cat/1.jpg``)
    or holds the CSV manifest; a lone folder with images directly inside it is
    a class (``cat/1.jpg``), and a lone ``train/`` is a split.
    """
    tops = {path.split("/", 1)[0] for path in content}
    if len(tops) != 1 or any("/" not in path for path in content):
        return ""
    (top,) = tops
    if canonical_split(top):
        return ""
    direct = [path for path in content if path.count("/") == 1]
    if direct and not any(path.lower().endswith(".csv") for path in direct):
        return ""
    return top + "/"


def _find_manifest(relative: dict[str, str], root: str) -> str | None:
    top_csvs = sorted(
        member
        for member, path in relative.items()
        if "/" not in path and path.lower().endswith(".csv")
    )
    named = [member for member in top_csvs if relative[member].lower() == "manifest.csv"]
    if named:
        return named[0]
    if len(top_csvs) > 1:
        names = ", ".join(relative[member] for member in top_csvs)
        raise ArchiveRejected(
            "ambiguous_manifest",
            f"the archive has several CSV files at its top ({names}); name the manifest "
            f"{root}manifest.csv",
        )
    return top_csvs[0] if top_csvs else None


def _top_folders(relative: dict[str, str]) -> list[str]:
    return sorted({path.split("/", 1)[0] for path in relative.values() if "/" in path})


def _plan_split_folders(relative: dict[str, str], limits: ArchiveLimits) -> LayoutPlan:
    others = [top for top in _top_folders(relative) if not canonical_split(top)]
    if others:
        splits = [top for top in _top_folders(relative) if canonical_split(top)]
        raise ArchiveRejected(
            "ambiguous_layout",
            f"the top level mixes split folders ({', '.join(splits)}) with other folders "
            f"({', '.join(others)}); put every class folder inside train/ and val/, "
            "or use no split folders at all",
        )
    plan = LayoutPlan("split_folders")
    for member, path in relative.items():
        parts = path.split("/")
        if len(parts) < 3:
            plan.rejected.append(
                RejectedFile(
                    member,
                    "not_in_class_folder",
                    "images must be inside a class folder within a split, e.g. train/cat/1.jpg",
                )
            )
            continue
        plan.add(member, parts[1], canonical_split(parts[0]) or DEFAULT_SPLIT, limits)
    return plan


def _plan_class_folders(relative: dict[str, str], limits: ArchiveLimits) -> LayoutPlan:
    plan = LayoutPlan("class_folders")
    for member, path in relative.items():
        parts = path.split("/")
        if len(parts) < 2:
            plan.rejected.append(
                RejectedFile(
                    member,
                    "not_in_class_folder",
                    "images must be inside a folder named after their class, e.g. cat/1.jpg",
                )
            )
            continue
        plan.add(member, parts[0], DEFAULT_SPLIT, limits)
    return plan
