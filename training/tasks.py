"""Training's Celery tasks: interfaces that enter the tenant and call one service.

* ``datasets.validate`` (queue ``datasets``, its own worker): scan an uploaded
  archive.  Up to 30 minutes of CPU for a crafted one, so never on ``default``,
  where Stripe webhooks, rollups, period close and refunds run.
* ``training.run_fine_tune`` (queue ``training``): run one job.
* ``fine_tunes.reap_stale`` (queue ``default``, on a schedule): fail jobs whose
  worker went silent.

No TensorFlow here: the trainer (:mod:`training.runtime`) is imported inside
the task body, so the web process and the datasets and default workers can import
this module.

The training worker runs ``--pool prefork --concurrency 1`` (one job per GPU,
one worker per GPU) and ``--max-tasks-per-child 1``: TensorFlow is not
fork-safe, and it is only ever imported in the child, after the fork (as the
child starts, so the import is not on the next job's clock) — the parent
process never imports it.  A fresh child per job
returns all GPU and host memory after each job (TensorFlow keeps what it took,
and recovering from an out-of-memory error in-process is unreliable).  Prefork
also makes the hard time limit below a real backstop (it does nothing on the
``solo`` and ``threads`` pools); the budget itself is enforced by the trainer,
between batches.  If the child dies (out of memory, killed), the parent rejects
the message back to the queue (``reject_on_worker_lost``) and the next claim
marks the job failed instead of running it twice (training.services.lifecycle).
"""

from __future__ import annotations

import logging

from celery import current_app, shared_task
from celery.signals import worker_process_init

from core.context import tenant_context
from tenants.models import Tenant
from training.conf import max_job_seconds
from training.services import datasets, lifecycle

logger = logging.getLogger(__name__)

# A backstop only: the trainer stops at the job's budget, well before this.
_TRAINING_HARD_LIMIT_S = max_job_seconds() + 900
_VALIDATE_LIMITS = {"soft_time_limit": 1740, "time_limit": 1800}


@shared_task(name=datasets.VALIDATE_TASK, acks_late=True, **_VALIDATE_LIMITS)
def validate_dataset(tenant_id: int, dataset_id: str) -> str | None:
    """Idempotent: a settled dataset is left as it is."""
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        dataset = datasets.dataset_validate(tenant, dataset_id=dataset_id)
        return None if dataset is None else dataset.status


@shared_task(
    name=lifecycle.RUN_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=_TRAINING_HARD_LIMIT_S,
    soft_time_limit=_TRAINING_HARD_LIMIT_S - 60,
)
def run_fine_tune(tenant_id: int, job_id: str) -> str:
    """Claim the job (or find it must not run) and train it; returns its final status."""
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        started = lifecycle.job_start(
            tenant, job_id=job_id, worker=run_fine_tune.request.hostname or ""
        )
        if started is None:
            return "skipped"
        from training.runtime.trainer import run_job  # TensorFlow: worker side only

        return run_job(tenant, started)


@worker_process_init.connect
def _load_tensorflow_before_the_first_job(**kwargs) -> None:
    """A training worker's fresh child imports TensorFlow and the trainer while it
    waits for its job, so that seconds of imports are not taken from the next job's
    budget (and bill).  Only in children of workers that consume ``training``."""
    queues = current_app.amqp.queues.consume_from or {}
    if any(name.startswith("training") for name in queues):
        import training.runtime.trainer  # noqa: F401


@shared_task(name="fine_tunes.reap_stale", soft_time_limit=240, time_limit=300)
def reap_stale_jobs() -> list[str]:
    return lifecycle.jobs_reap_stale()
