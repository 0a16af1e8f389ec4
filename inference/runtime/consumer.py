"""The inference worker's intake: one thread claiming lane entries in batches.

It turns each claimed entry into a batcher job.  Two limits bound what it
claims: ``capacity`` entries waiting for a forward pass, so that one worker
does not hoard requests another could serve, and ``backlog`` entries claimed
and not yet stored, which bounds memory while the database is slow.  Computed
entries waiting to be stored do not count against ``capacity``, so a slow
commit does not leave the forward pass without work.

Entries that must not run — unreadable, older than ``INFERENCE_INPUT_TTL_S``,
or returned by ``MAX_ATTEMPTS`` dead workers — become jobs with a failed
result, so they are stored, answered and acknowledged in their turn like any
other.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np
import redis
from django.conf import settings

from inference import lane
from inference.runtime.batcher import Job

logger = logging.getLogger(__name__)

REAP_INTERVAL_S = 5.0  # how often to look for claims of dead workers
BLOCK_S = 1.0  # longest wait for a first entry before looking again


def _failed(code: str, message: str) -> dict:
    return {"status": "failed", "error": {"code": code, "message": message}}


class LaneConsumer:
    def __init__(
        self, claims: lane.Claims, submit: Callable[[Job], None], *, capacity: int, backlog: int
    ) -> None:
        self.claims, self._submit = claims, submit
        self.capacity, self.backlog = capacity, max(backlog, capacity)
        self._in_flight = 0  # claimed, not yet stored (or returned)
        self._computed = 0  # of those, through the forward pass
        self._paused_until = 0.0
        self._room = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lane-consumer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        """Claim nothing more; wait up to ``timeout_s`` for what is in flight to be stored."""
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        with self._room:
            while self._in_flight and time.monotonic() < deadline:
                self._room.wait(timeout=deadline - time.monotonic())

    def computed(self, count: int) -> None:
        """``count`` jobs went through the forward pass (or were failed before it)."""
        with self._room:
            self._computed += count
            self._room.notify_all()

    def done(self, count: int) -> None:
        """``count`` computed jobs were stored (or returned to the lane) and acknowledged."""
        with self._room:
            self._in_flight -= count
            self._computed -= count
            self._room.notify_all()

    def pause(self, seconds: float) -> None:
        """Storing failed (database down?): claim nothing for a while rather than
        computing the same returned entries over and over."""
        self._paused_until = time.monotonic() + seconds

    # -- the loop ------------------------------------------------------------------------

    def _run(self) -> None:
        returned = self.claims.return_own()
        if returned:
            logger.warning("returned %d entries this node claimed before it restarted", returned)
        next_reap = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_reap:
                    if reaped := self.claims.return_dead():
                        logger.warning("returned %d entries claimed by dead workers", reaped)
                    next_reap = time.monotonic() + REAP_INTERVAL_S
                if (pause := self._paused_until - time.monotonic()) > 0:
                    self._stop.wait(pause)
                    continue
                room = self._wait_for_room()
                if room:
                    for raw, epoch in self.claims.claim(room, BLOCK_S):
                        self._submit(self._job(raw, epoch))
            except redis.RedisError as exc:
                logger.error("inference lane unavailable: %s", exc)
                self._stop.wait(1.0)

    def _wait_for_room(self) -> int:
        with self._room:
            while (room := self._room_left()) <= 0 and not self._stop.is_set():
                self._room.wait(timeout=BLOCK_S)
            return max(room, 0)

    def _room_left(self) -> int:
        waiting = self._in_flight - self._computed
        return min(self.capacity - waiting, self.backlog - self._in_flight)

    def _job(self, raw: bytes, epoch: str) -> Job:
        with self._room:
            self._in_flight += 1
        try:
            entry = lane.decode(raw)
        except lane.MalformedEntry as exc:
            logger.error("%s", exc)
            return Job(
                raw=raw,
                epoch=epoch,
                payload=None,
                images=np.empty((0,), np.uint8),
                result=_failed("malformed", str(exc)),
            )
        job = Job(raw=raw, epoch=epoch, payload=entry.payload, images=entry.images)
        if entry.attempt >= lane.MAX_ATTEMPTS:
            job.result = _failed(
                "prediction_failed",
                f"the request was claimed by {entry.attempt} workers that died before storing it",
            )
        elif time.time() - entry.payload.get("enqueued_at", 0) > settings.INFERENCE_INPUT_TTL_S:
            job.result = _failed(
                "input_expired", "the request waited longer than its time to live for a worker"
            )
        return job
