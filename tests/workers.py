"""Real Celery workers for integration tests, started as subprocesses."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from core import worker_health
from saas.workers import worker_command

ROOT = Path(__file__).resolve().parent.parent
_numbers = itertools.count(1)


def _alive(queue: str, node: str) -> bool:
    return bool(worker_health.client().exists(f"mh:workers:{queue}:{node}"))


@contextlib.contextmanager
def celery_worker(queue: str, *, env: dict | None = None, app: str = "saas"):
    """Start a worker on ``queue`` with the test settings, run as production runs it
    (saas.workers); stop it afterwards.  ``app`` may name a test module that wraps
    production's Celery app (fault injection)."""
    node = f"{queue}-test-{os.getpid()}-{next(_numbers)}@{socket.gethostname()}"
    command = worker_command(queue, node=node, loglevel="WARNING", app=app)
    process_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "saas.settings.test", **(env or {})}
    process = subprocess.Popen(command, cwd=ROOT, env=process_env, start_new_session=True)
    process.node, process.queue = node, queue
    try:
        deadline = time.monotonic() + 90
        while not _alive(queue, node):
            if process.poll() is not None:
                raise RuntimeError(f"the {queue} worker exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {queue} worker did not start")
            time.sleep(0.2)
        yield process
    finally:
        stop_worker(process)


def stop_worker(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # Its heartbeat would linger for a few seconds after death.
    worker_health.client().delete(f"mh:workers:{process.queue}:{process.node}")
