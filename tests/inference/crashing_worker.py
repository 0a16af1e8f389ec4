"""A Celery app for tests/inference/test_worker_crash.py: production's app, with the
inference worker's store step wrapped so that the process dies right after a round
commits and before its lane claims are acknowledged — once, while the marker file
named by ``CRASH_MARKER`` exists.  Run as ``celery -A tests.inference.crashing_worker``."""

from __future__ import annotations

import os
from pathlib import Path

from celery.signals import worker_ready

from saas.celery import app

__all__ = ["app"]
CRASH_MARKER = "MODELHOUSE_TEST_CRASH_MARKER"


@worker_ready.connect
def _crash_after_the_next_commit(**kwargs) -> None:
    # Connected before inference.tasks starts serving on the same signal, so the
    # wrap is in place before the first entry is claimed.
    from inference.runtime import worker

    marker = Path(os.environ[CRASH_MARKER])
    store = worker.record_outcomes

    def store_then_die(outcomes) -> None:
        store(outcomes)
        if marker.exists():
            marker.unlink()
            os._exit(1)

    worker.record_outcomes = store_then_die
