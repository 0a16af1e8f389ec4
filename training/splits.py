"""Which images a job trains on, stops early on, and is evaluated on.

The evaluation set is never trained on: the dataset's ``test`` split if it has
one, else its ``val`` split (then also used for early stopping, and reported
as such), else a stratified share of each class held out from ``train``.
Pure NumPy, so the web (estimates) and the trainer use the same arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.conf import setting


@dataclass(frozen=True)
class SplitPlan:
    evaluate_on: str  # "test" | "val" | "holdout"
    early_stopping_on: str | None  # "val" when the dataset has one, else the trainer's own
    holdout_fraction: float  # carved from train when evaluate_on == "holdout", else 0


def split_plan(splits: list[str]) -> SplitPlan:
    """The plan for a dataset whose scan has ``splits`` (e.g. ``["train", "val"]``)."""
    has_val = "val" in splits
    if "test" in splits:
        return SplitPlan("test", "val" if has_val else None, 0.0)
    if has_val:
        return SplitPlan("val", "val", 0.0)
    return SplitPlan("holdout", None, float(setting("TRAINING_HOLDOUT_FRACTION")))


def holdout_size(class_images: int, fraction: float) -> int:
    """Images of one class held out: its share, but at least one stays to train on."""
    return max(0, min(class_images - 1, round(class_images * fraction)))


def holdout_indices(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row indices ``(train, held_out)``, stratified by class and reproducible."""
    rng = np.random.default_rng(seed)
    train, held_out = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        take = holdout_size(len(members), fraction)
        held_out.extend(members[:take])
        train.extend(members[take:])
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(held_out, dtype=np.int64))


def trained_image_count(counts: dict[str, dict[str, int]], plan: SplitPlan) -> int:
    """How many images the trainer receives, from a scan's ``{label: {split: n}}``."""
    return sum(
        by_split.get("train", 0) - holdout_size(by_split.get("train", 0), plan.holdout_fraction)
        for by_split in counts.values()
    )
