"""The inference worker's hooks into Celery.  The worker process is a Celery
worker on the ``inference`` queue (process management, heartbeat, health);
requests reach it through ``inference.lane``, claimed by the runtime's
consumer thread, not as Celery tasks.  No TensorFlow at import: the runtime is
imported inside the hooks, so the web process can import this module."""

import sys

from celery.signals import worker_ready, worker_shutdown

STOP_TIMEOUT_S = 20.0  # how long shutdown waits for claimed requests to be stored


def _inference_queues(sender) -> list[str]:
    return [
        queue.name for queue in sender.task_consumer.queues if queue.name.startswith("inference")
    ]


@worker_ready.connect
def _start_serving(sender, **kwargs):
    """Load the base models' serving heads, then start claiming requests."""
    queues = _inference_queues(sender)
    if not queues:
        return
    from inference.runtime.worker import runtime
    from inference.selectors import served_base_model_list

    for served in served_base_model_list():
        runtime().ensure_loaded(served.payload())
    runtime().consume(queues[0], sender.hostname)


@worker_shutdown.connect
def _stop_serving(**kwargs):
    worker = sys.modules.get("inference.runtime.worker")  # imported only where it serves
    if worker is not None and worker.started() is not None:
        worker.started().stop(STOP_TIMEOUT_S)
