"""Run one claimed fine-tune job on this worker: data, recipe, evaluation, model version.

The recipe is :func:`ml.finetune.fine_tune`; this module supplies its inputs
(:mod:`training.runtime.data`), its hooks (:class:`JobMonitor`), and its
budget: the job's ``max_seconds`` counts from the claim, so the time spent
loading data is taken from what training may use, and a fixed reserve is kept
for evaluation and saving.  Billing never exceeds the budget either way
(training.services.lifecycle).  A run stopped by the budget still yields its
best model so far, with a warning.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from django.utils import timezone

from tenants.models import Tenant
from training.services.lifecycle import StartedJob, TrainedModel, job_finish
from training.services.lifecycle import Status as JobStatus

# Before TensorFlow initialises: take GPU memory as needed, not all of it at start.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

import keras

from ml.artifacts import ArtifactError, LoadedArtifact, load_artifact
from ml.evaluation import evaluate
from ml.finetune import FineTuneResult, fine_tune, resolve_hyperparameters
from training.dataset_archive import ArchiveRejected
from training.runtime.data import JobData, load_job_data
from training.runtime.monitor import JobMonitor

logger = logging.getLogger(__name__)

# Seconds of the budget kept for evaluation and saving after training stops.
FINISH_RESERVE_S = 5.0
_bases: dict[str, LoadedArtifact] = {}


class JobError(Exception):
    """A failure with a message meant for the job's owner."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _base(job: StartedJob) -> LoadedArtifact:
    """The base model, verified against the checksum the job was created with (cached)."""
    if job.base_checksum not in _bases:
        try:
            base = load_artifact(job.base_path)
        except ArtifactError as exc:
            raise JobError(
                "base_model_unavailable", f"The base model could not be loaded: {exc}"
            ) from exc
        if base.checksum != job.base_checksum:
            raise JobError(
                "base_model_unavailable",
                "The base model's weights changed since the job was created.",
            )
        _bases[job.base_checksum] = base
    return _bases[job.base_checksum]


def _remaining(job: StartedJob) -> float:
    elapsed = (timezone.now() - job.started_at).total_seconds()
    return job.max_seconds - elapsed - FINISH_RESERVE_S


def _hyperparameters(job: StartedJob, data: JobData) -> dict:
    """ml's resolution of every "auto", with the budget left for training."""
    requested = {
        name: value for name, value in job.hyperparameters.items() if name != "max_seconds"
    }
    hp = resolve_hyperparameters(requested, len(data.x_train), len(data.labels))
    remaining = _remaining(job)
    if remaining <= 0:
        raise JobError(
            "budget_exhausted",
            f"The budget of {job.max_seconds} s was used up "
            "before training could start; raise max_seconds.",
        )
    hp["max_seconds"] = remaining
    return hp


def _total_epochs(hp: dict) -> int:
    return hp["epochs"] + (hp["finetune_epochs"] if hp["unfreeze_layers"] else 0)


def _train(job: StartedJob, monitor: JobMonitor) -> tuple[FineTuneResult, JobData, dict]:
    data = load_job_data(job)
    base = _base(job)
    hp = _hyperparameters(job, data)
    monitor.plan(_total_epochs(hp))
    monitor.note(
        f"Training on {len(data.x_train)} images of {len(data.labels)} classes; "
        f"evaluating on {len(data.x_eval)} ({data.evaluated_on}).",
        hyperparameters={k: v for k, v in hp.items() if k != "max_seconds"},
    )
    result = fine_tune(
        base,
        data.x_train,
        data.y_train,
        data.labels,
        x_val=data.x_val,
        y_val=data.y_val,
        hyperparameters=hp,
        callbacks=monitor.callbacks(),
    )
    monitor.note(
        f"Training stopped ({result.stopped}) after {len(result.history)} epochs: "
        f"{result.images_seen} images in {result.seconds:.1f} s.",
        stopped=result.stopped,
        kind=result.kind,
        images_seen=result.images_seen,
        seconds=round(result.seconds, 3),
    )
    return result, data, hp


def _report(result: FineTuneResult, data: JobData) -> dict:
    report = evaluate(result.model, data.x_eval, data.y_eval, data.labels)
    return {
        "evaluated_on": data.evaluated_on,
        "images": len(data.x_eval),
        "labels": data.labels,
        **report,
    }


def _error_of(exc: BaseException) -> dict:
    if isinstance(exc, JobError | ArchiveRejected):
        return {"code": exc.code, "message": exc.message}
    if isinstance(exc, MemoryError) or type(exc).__name__ == "ResourceExhaustedError":
        return {
            "code": "out_of_memory",
            "message": "Training ran out of memory; lower batch_size or unfreeze_layers.",
        }
    return {
        "code": "training_error",
        "message": f"Training failed unexpectedly ({type(exc).__name__}); the error was "
        "logged for the operators.",
    }


def run_job(tenant: Tenant, job: StartedJob) -> str:
    """Train ``job`` (already claimed) to its end; returns the final status."""
    monitor = JobMonitor(tenant, job)
    monitor.start()
    finish = {"tenant": tenant, "job_id": job.job_id, "attempt": job.attempt}
    try:
        result, data, hp = _train(job, monitor)
        monitor.stop()
        if result.stopped == "cancelled":
            job_finish(**finish, status=JobStatus.CANCELLED, history=monitor.history())
            return JobStatus.CANCELLED
        evaluation = _report(result, data)
        _save_version(job, result, evaluation, hp, finish, monitor)
        return JobStatus.SUCCEEDED
    except Exception as exc:  # every failure ends the job with a reason
        if isinstance(exc, JobError | ArchiveRejected):
            logger.warning("fine-tune %s failed: %s", job.job_id, exc)
        else:
            logger.exception("fine-tune %s failed", job.job_id)
        monitor.stop()
        job_finish(
            **finish, status=JobStatus.FAILED, error=_error_of(exc), history=monitor.history()
        )
        return JobStatus.FAILED
    finally:
        monitor.stop()
        keras.backend.clear_session()


def _save_version(
    job: StartedJob,
    result: FineTuneResult,
    evaluation: dict,
    hp: dict,
    finish: dict,
    monitor: JobMonitor,
) -> None:
    hyperparameters = {**hp, "max_seconds": job.max_seconds}
    warning = ""
    if result.stopped == "budget":
        warning = (
            f"Training stopped at the time budget ({job.max_seconds} s) after "
            f"{len(result.history)} epochs; the model is the best one reached."
        )
    with tempfile.TemporaryDirectory() as directory:
        base = _bases[job.base_checksum]
        metadata = result.save(directory, base)
        trained = TrainedModel(
            artifact_dir=Path(directory),
            kind=result.kind,
            labels=result.labels,
            checksum=metadata.checksum,
            metrics={**evaluation, "history": monitor.history(), "stopped": result.stopped},
            source={
                "fine_tune": job.job_id,
                "dataset": job.dataset_id,
                "dataset_sha256": job.dataset_sha256,
                "base_model": base.metadata.name,
                "base_checksum": job.base_checksum,
                "hyperparameters": hyperparameters,
            },
        )
        job_finish(
            **finish,
            status=JobStatus.SUCCEEDED,
            history=monitor.history(),
            evaluation=evaluation,
            hyperparameters=hyperparameters,
            trained=trained,
            warning=warning,
        )
