"""Between the training loop and the database: progress out, cancellation in.

The training loop's callbacks only touch memory (a lock, a list, an event), so
reporting costs the loop nothing measurable.  A background thread writes the
latest progress, the epoch history and new events every
``TRAINING_MONITOR_INTERVAL_S`` — which is also the job's heartbeat — and reads
back whether the job must stop (cancel requested, or settled by someone else).
The loop checks that flag after every batch, so a cancel lands one batch
after the monitor sees it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import connections

from core.context import tenant_context
from ml.finetune import FineTuneCallbacks
from tenants.models import Tenant
from training.conf import setting
from training.services.lifecycle import StartedJob, job_record_progress

logger = logging.getLogger(__name__)


class JobMonitor:
    def __init__(self, tenant: Tenant, job: StartedJob) -> None:
        self.tenant, self.job = tenant, job
        self.stop_requested = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._progress: dict[str, Any] = {}
        self._history: list[dict[str, float]] = []
        self._pending: list[dict[str, Any]] = []
        self._epochs = 0
        self._started = time.monotonic()  # epochs record their time since the claim
        self._thread = threading.Thread(target=self._run, name=f"monitor-{job.job_id}", daemon=True)

    # -- called by the training loop (memory only) ---------------------------------------

    def callbacks(self) -> FineTuneCallbacks:
        return FineTuneCallbacks(
            on_epoch_end=self._epoch_end,
            on_progress=self._step,
            should_stop=self.stop_requested.is_set,
        )

    def plan(self, epochs: int) -> None:
        """How many epochs (both phases) the run may take, for progress reports."""
        self._epochs = epochs

    def note(self, message: str, *, level: str = "info", **data) -> None:
        with self._lock:
            self._pending.append(
                {"type": "message", "level": level, "message": message, "data": data}
            )

    def _step(self, epoch: int, step: int, steps: int) -> None:
        self._progress = {"epoch": epoch + 1, "epochs": self._epochs, "step": step, "steps": steps}

    def _epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        row = {
            "epoch": epoch + 1,
            **{name: round(value, 6) for name, value in metrics.items()},
            "elapsed_s": round(time.monotonic() - self._started, 3),
        }
        text = ", ".join(f"{name} {value:.4f}" for name, value in metrics.items())
        text += f" ({row['elapsed_s']:.1f} s)"
        with self._lock:
            self._history.append(row)
            self._pending.append(
                {"type": "metrics", "message": f"Epoch {epoch + 1}: {text}", "data": row}
            )

    def history(self) -> list[dict[str, float]]:
        with self._lock:
            return list(self._history)

    # -- the reporting thread ------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write everything still pending and end the thread (idempotent)."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        interval = float(setting("TRAINING_MONITOR_INTERVAL_S"))
        try:
            with tenant_context(self.tenant):
                while not self._done.wait(interval):
                    self._flush()
                self._flush()
        finally:
            connections.close_all()  # this thread's connections only

    def _flush(self) -> None:
        with self._lock:
            events, self._pending = self._pending, []
            history = list(self._history)
        try:
            keep_going = job_record_progress(
                self.tenant,
                job_id=self.job.job_id,
                attempt=self.job.attempt,
                progress=dict(self._progress),
                history=history,
                events=events,
            )
        except Exception:  # a lost write must not kill the run; retried next tick
            logger.exception("could not record progress of %s", self.job.job_id)
            with self._lock:
                self._pending[:0] = events
            return
        if not keep_going:
            self.stop_requested.set()
