"""A job's images as arrays: train, early-stopping and evaluation sets (see training.splits).

Images are decoded from the stored archive by :func:`load_arrays`, which
checks every member against the hash the validation scan recorded, so the
trainer sees exactly the dataset version the job names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from django.core.files.storage import default_storage

from training.dataset_archive import ArchiveRejected, DatasetScan, load_arrays
from training.services.lifecycle import StartedJob
from training.splits import holdout_indices, split_plan


@dataclass(frozen=True)
class JobData:
    labels: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None  # the dataset's own val split, if it has one
    y_val: np.ndarray | None
    x_eval: np.ndarray
    y_eval: np.ndarray
    evaluated_on: str  # "test" | "val" | "holdout"


def _scan(job: StartedJob) -> DatasetScan:
    with default_storage.open(job.scan_key, "rb") as handle:
        return DatasetScan.from_dict(json.load(handle))


def load_job_data(job: StartedJob) -> JobData:
    scan = _scan(job)
    height, width = job.input_shape[0], job.input_shape[1]
    try:
        handle = default_storage.open(job.archive_key, "rb")
    except FileNotFoundError:
        raise ArchiveRejected(
            "archive_missing", f"the archive of dataset {job.dataset_id} is no longer in storage"
        ) from None
    with handle:
        x, y, split = load_arrays(handle, scan, (height, width))
    split = np.asarray(split)
    plan = split_plan(list(scan.splits))
    train = np.flatnonzero(split == "train")
    val = np.flatnonzero(split == "val") if plan.early_stopping_on == "val" else None
    if plan.evaluate_on == "holdout":
        kept, held_out = holdout_indices(
            y[train], plan.holdout_fraction, int(job.hyperparameters.get("seed", 0))
        )
        train, evaluation = train[kept], train[held_out]
    else:
        evaluation = np.flatnonzero(split == plan.evaluate_on)
    return JobData(
        labels=list(scan.classes),
        x_train=x[train],
        y_train=y[train],
        x_val=None if val is None else x[val],
        y_val=None if val is None else y[val],
        x_eval=x[evaluation],
        y_eval=y[evaluation],
        evaluated_on=plan.evaluate_on,
    )
