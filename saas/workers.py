"""How each kind of Celery worker runs: one definition, used by ``make run``
(saas/management/commands/runstack.py) and by the tests' real workers
(tests/workers.py), so tests exercise the pools production runs."""

from __future__ import annotations

import sys

POOLS: dict[str, list[str]] = {
    # Solo, not prefork: TensorFlow is not fork-safe.  Requests arrive through
    # the inference lane, claimed by the runtime's own thread (inference.tasks).
    "inference": ["--pool", "solo"],
    # Prefork with one child that imports TensorFlow lazily; a fresh child per
    # job returns all memory, and the hard time limit works.
    "training": ["--pool", "prefork", "--concurrency", "1", "--max-tasks-per-child", "1"],
    # Dataset validation: CPU-bound and long (up to 30 minutes per archive), so on
    # its own queue; prefork so that the task's time limits are real.
    "datasets": ["--pool", "prefork", "--concurrency", "2"],
    "default": ["--pool", "prefork", "--concurrency", "2"],
}


def worker_command(
    queue: str, *, node: str, loglevel: str = "INFO", app: str = "saas"
) -> list[str]:
    """The command line of a worker consuming ``queue`` (a queue of POOLS' kinds, or one
    named after a kind, e.g. ``inference-crash-test``)."""
    kind = next(name for name in POOLS if queue.startswith(name))
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        app,
        "worker",
        "-Q",
        queue,
        "-n",
        node,
        *POOLS[kind],
        "--loglevel",
        loglevel,
    ]
