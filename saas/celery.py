"""The Celery application shared by every worker and by beat.

Queues: ``inference`` and ``training`` (GPU workers; the only processes that
import TensorFlow), ``datasets`` (dataset validation: CPU-heavy, minutes per
archive, kept off ``default`` so billing never waits behind it), ``default``
(everything else).  Tasks are routed by the prefix of their stable names.
"""

import os

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.production")

app = Celery("saas")
app.config_from_object("django.conf:settings", namespace="CELERY")

app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_default_queue="default",
    task_routes={
        "inference.*": {"queue": "inference"},
        "training.*": {"queue": "training"},
        "datasets.*": {"queue": "datasets"},
    },
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    result_expires=3600,
    task_time_limit=600,
    task_soft_time_limit=540,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()

_heartbeat = {}


@worker_ready.connect
def _start_heartbeat(sender, **kwargs):
    from core.worker_health import start_heartbeat

    queues = [queue.name for queue in sender.task_consumer.queues]
    _heartbeat["stop"] = start_heartbeat(queues, sender.hostname)


@worker_shutdown.connect
def _stop_heartbeat(**kwargs):
    if "stop" in _heartbeat:
        _heartbeat["stop"].set()
