"""Training settings, each with a default; ``saas.settings`` may override any of them.

Read through :func:`setting` at call time (never copied at import), so tests and
operators can change them without restarting anything that imports this module.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.conf import settings

from training.dataset_archive import ArchiveLimits

DEFAULTS: dict[str, Any] = {
    # The longest a fine-tune may run, and its default budget ("max_seconds": "auto").
    # The longest must stay below the broker's visibility timeout (checked below),
    # or Redis would hand a still-running job to a second worker.
    "TRAINING_MAX_JOB_SECONDS": 4 * 3600,
    "TRAINING_DEFAULT_JOB_SECONDS": 3600,
    # Jobs of one tenant running (or handed to the broker) at once; the rest wait queued.
    "TRAINING_MAX_CONCURRENT_JOBS_PER_TENANT": 2,
    # Jobs of one tenant not yet finished (validating, queued or running); more is 429.
    "TRAINING_MAX_UNFINISHED_JOBS_PER_TENANT": 10,
    # Datasets of one tenant uploaded and not yet validated (each can cost the datasets
    # worker up to 30 minutes of CPU); another upload is 429 until one settles.
    "TRAINING_MAX_PROCESSING_DATASETS_PER_TENANT": 3,
    # A running job whose worker has not written for this long is declared lost.
    "TRAINING_STALE_AFTER_S": 300,
    # How often the worker writes progress and reads cancellation.
    "TRAINING_MONITOR_INTERVAL_S": 1.0,
    # Share of each class held out for evaluation when the dataset has no val/test split.
    "TRAINING_HOLDOUT_FRACTION": 0.2,
    # Throughput of the reference training worker, for estimates only (images/s):
    # backbone forward passes, head epochs on features, unfrozen-backbone epochs.
    "TRAINING_ESTIMATE_FEATURE_IMAGES_PER_S": 1000.0,
    "TRAINING_ESTIMATE_HEAD_IMAGES_PER_S": 50_000.0,
    "TRAINING_ESTIMATE_FULL_IMAGES_PER_S": 150.0,
    "TRAINING_ESTIMATE_OVERHEAD_S": 15.0,
    # The base model a job fine-tunes when the request names none.
    "TRAINING_DEFAULT_BASE_MODEL": "mh-base-v1",
    # Overrides of training.dataset_archive.ArchiveLimits (e.g. {"max_classes": 200}).
    # Uploads over its max_archive_bytes are refused before anything is stored.
    "TRAINING_ARCHIVE_LIMITS": {},
}


def setting(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


def max_job_seconds() -> int:
    """The budget cap of any job; refuses a configuration the broker cannot honour."""
    longest = int(setting("TRAINING_MAX_JOB_SECONDS"))
    visibility = visibility_timeout_s()
    if longest >= visibility:
        raise RuntimeError(
            f"TRAINING_MAX_JOB_SECONDS ({longest}) must be below the broker visibility timeout "
            f"({visibility} s, CELERY_BROKER_TRANSPORT_OPTIONS), or a long job would be "
            "delivered twice."
        )
    return longest


def job_hold_ttl_s() -> int:
    """How long a job's budget reservation may outlive a crash of whoever should end it:
    dataset validation, the wait behind the tenant's other unfinished jobs, its own run,
    and the stale-worker reaper, with an hour to spare."""
    jobs = int(setting("TRAINING_MAX_UNFINISHED_JOBS_PER_TENANT"))
    return 1800 + jobs * max_job_seconds() + int(setting("TRAINING_STALE_AFTER_S")) + 3600


def visibility_timeout_s() -> int:
    """How long the broker waits for an acknowledgement before redelivering a task."""
    return int(settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"])


def archive_limits() -> ArchiveLimits:
    """The limits every uploaded archive is validated under."""
    return replace(ArchiveLimits(), **setting("TRAINING_ARCHIVE_LIMITS"))
