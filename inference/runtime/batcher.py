"""Dynamic batching: concurrent requests become one forward pass.

The lane consumer ``submit``s jobs.  One compute thread takes whatever is
queued — up to ``max_images``, waiting at most ``max_wait_s`` for more once the
first job arrives — and hands the batch to ``compute``.  A second thread runs
``finish`` (metering: database writes, replies, acknowledgement) on finished
batches, so the next forward pass overlaps the previous batch's writes; it
stores all batches finished meanwhile in one go.

Every job reaches ``finish`` exactly once and in submission order (a batch
whose forward pass raised arrives with failed results): the lane acknowledges
claims by count, oldest first.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

INTERNAL_ERROR = {
    "status": "failed",
    "error": {"code": "internal_error", "message": "the prediction failed"},
}


@dataclass(eq=False)  # jobs are compared by identity
class Job:
    raw: bytes  # the lane entry, kept to return it to the lane if storing fails
    epoch: str  # of the claim (inference.lane.Claims)
    payload: dict | None  # None: an unreadable entry, only acknowledged
    images: np.ndarray
    result: Any = None  # set by compute (or before, for a job that must not run)


class Batcher:
    def __init__(
        self,
        compute: Callable[[list[Job]], None],
        finish: Callable[[list[Job]], None],
        *,
        max_images: int,
        max_wait_s: float,
    ) -> None:
        self._compute, self._finish = compute, finish
        self.max_images, self.max_wait_s = max_images, max_wait_s
        self._incoming: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._computed: queue.SimpleQueue[list[Job]] = queue.SimpleQueue()
        self._last_jobs = 0
        threading.Thread(target=self._compute_loop, name="batcher-compute", daemon=True).start()
        threading.Thread(target=self._finish_loop, name="batcher-finish", daemon=True).start()

    def submit(self, job: Job) -> None:
        self._incoming.put(job)

    def _collect(self) -> list[Job]:
        jobs = [self._incoming.get()]
        images = len(jobs[0].images)
        # Wait for company only under load (the last batch had several jobs): a
        # lone caller should not pay max_wait_s.
        wait = self.max_wait_s if self._last_jobs > 1 else 0.0
        deadline = time.monotonic() + wait
        while images < self.max_images:
            remaining = deadline - time.monotonic()
            try:
                job = (
                    self._incoming.get(timeout=remaining)
                    if remaining > 0
                    else self._incoming.get_nowait()
                )
            except queue.Empty:
                break
            jobs.append(job)
            images += len(job.images)
        self._last_jobs = len(jobs)
        return jobs

    def _compute_loop(self) -> None:
        while True:
            jobs = self._collect()
            try:
                self._compute(jobs)
            except Exception:
                logger.exception("inference batch failed")
                for job in jobs:
                    if job.result is None or "status" not in job.result:
                        job.result = dict(INTERNAL_ERROR)
            self._computed.put(jobs)

    def _finish_loop(self) -> None:
        while True:
            # Take every batch computed meanwhile: one transaction for all of them,
            # so storing keeps up however small the forward passes are.
            jobs = self._computed.get()
            while True:
                try:
                    jobs += self._computed.get_nowait()
                except queue.Empty:
                    break
            try:
                self._finish(jobs)
            except Exception:  # finish handles its own failures; never lose the thread
                logger.exception("finishing an inference batch failed")
