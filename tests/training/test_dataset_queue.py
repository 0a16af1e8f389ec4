"""Dataset validation runs on its own queue and worker kind, never on ``default``, where
Stripe webhooks, rollups, period close and refunds run: a crafted archive may cost up
to 30 minutes of CPU.  (The training and SDK suites' real workers include no default
worker, so every dataset they validate proves the route end to end.)"""

from __future__ import annotations

import pytest

from core.worker_health import QUEUES
from saas.celery import app
from saas.management.commands.runstack import _processes
from saas.workers import POOLS
from training.services import datasets
from training.tasks import validate_dataset


def _queue(task_name: str) -> str:
    return app.amqp.router.route({}, task_name, args=(1, "ds_x"))["queue"].name


def test_validation_is_routed_to_its_own_queue_and_never_to_default():
    assert _queue(datasets.VALIDATE_TASK) == "datasets"


@pytest.mark.parametrize(
    "billing_task",
    [
        "billing.process_stripe_event",
        "billing.rollup_usage",
        "billing.close_period",
        "billing.refund_credit_note",
    ],
)
def test_billings_work_stays_on_default(billing_task):
    assert _queue(billing_task) == "default"


def test_the_datasets_queue_has_a_worker_kind_a_heartbeat_and_working_time_limits():
    assert POOLS["datasets"][:2] == ["--pool", "prefork"]  # time limits do nothing on solo
    assert "datasets" in QUEUES  # /healthz reports it
    assert validate_dataset.soft_time_limit < validate_dataset.time_limit


def test_make_run_starts_a_datasets_worker():
    command = _processes(8000)["datasets"]

    assert command[command.index("-Q") + 1] == "datasets"
    assert command[command.index("--pool") + 1] == "prefork"
