"""Inference tasks (``inference`` queue).  No TensorFlow at import: the runtime
is imported inside the task, so the web process can import this module."""

from celery.signals import worker_ready
from django.conf import settings

from saas.celery import app


@app.task(name="inference.predict", acks_late=True, reject_on_worker_lost=True,
          ignore_result=True)
def predict(payload: dict) -> None:
    """Run one request through the batching runtime; it stores and meters the result
    and, for a synchronous call, pushes the reply the web process waits for.

    Idempotent: a redelivered payload rewrites the same prediction and its usage
    key is already in the ledger.
    """
    from inference.runtime.worker import runtime

    runtime().predict(payload, timeout_s=settings.INFERENCE_SYNC_TIMEOUT_S)


@worker_ready.connect
def _warm_up(sender, **kwargs):
    """Load the base models' serving heads before the first request arrives."""
    if "inference" not in [queue.name for queue in sender.task_consumer.queues]:
        return
    from inference.runtime.worker import runtime
    from inference.selectors import servable_base_models

    for served in servable_base_models():
        runtime().ensure_loaded(served.payload())
