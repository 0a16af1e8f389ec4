"""The inference worker's serving runtime: one per process.

Holds the :class:`ml.serving.ServingEngine` (LRU of loaded models within a
memory budget; one shared backbone pass for all head-only models of a base),
the model loader, the :class:`LaneConsumer` that claims requests from the
inference lane, and the :class:`Batcher` that turns them into batched forward
passes and stores, answers and acknowledges them.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from django.conf import settings
from django.db import InterfaceError, OperationalError

from inference import exchange, lane
from inference.runtime.batcher import INTERNAL_ERROR, Batcher, Job
from inference.runtime.consumer import LaneConsumer
from inference.runtime.metering import record_outcomes, release_holds

logger = logging.getLogger(__name__)

# Before TensorFlow initialises: take GPU memory as needed, not all at start.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # keep the worker log readable
# CPU fallback on a host shared with the web tier: TensorFlow's idle compute
# threads spin waiting for work, taking cores the other processes need.
if settings.INFERENCE_CPU_THREADS:
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(settings.INFERENCE_CPU_THREADS))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(settings.INFERENCE_CPU_THREADS))

from ml.artifacts import ArtifactError, load_artifact  # noqa: E402
from ml.serving import ServingEngine, top_k  # noqa: E402

STORE_FAILURE_PAUSE_S = 5.0


class ModelLoadError(Exception):
    pass


class InferenceRuntime:
    def __init__(self) -> None:
        # The consumer thread that claims requests competes for the GIL with
        # the compute thread's Python-side Keras work; at the default 5 ms
        # switch interval it waits that long per claim.
        sys.setswitchinterval(settings.INFERENCE_GIL_SWITCH_INTERVAL_S)
        self.engine = ServingEngine(memory_budget=settings.INFERENCE_CACHE_BYTES)
        # The engine is not thread-safe: warm-up loads and the compute thread's
        # loads and forward passes take turns.
        self._engine_lock = threading.RLock()
        self.batcher = Batcher(
            self._compute,
            self._finish,
            max_images=settings.INFERENCE_MAX_BATCH_IMAGES,
            max_wait_s=settings.INFERENCE_MAX_WAIT_MS / 1000,
        )
        self.consumer: LaneConsumer | None = None

    def consume(self, queue: str, node: str) -> None:
        """Start claiming requests from ``queue``'s lane as worker ``node``."""
        self.consumer = LaneConsumer(
            lane.Claims(queue, node),
            self.batcher.submit,
            capacity=2 * settings.INFERENCE_MAX_BATCH_IMAGES,
            backlog=8 * settings.INFERENCE_MAX_BATCH_IMAGES,
        )
        self.consumer.start()

    # -- loading -------------------------------------------------------------------------

    def ensure_loaded(self, model: dict) -> bool:
        """Load ``model`` (and its base) unless cached; return True if it was cold."""
        if self.engine.is_loaded(model["id"]):
            return False
        with self._engine_lock:
            if self.engine.is_loaded(model["id"]):
                return False
            try:
                if not self.engine.has_base(model["base_checksum"]):
                    self.engine.load_base(load_artifact(model["base_path"]))
                self.engine.load(model["id"], load_artifact(model["artifact_path"]))
            except (ArtifactError, OSError) as exc:
                raise ModelLoadError(f"model {model['id']} could not be loaded: {exc}") from exc
            return True

    # -- the two batch stages ------------------------------------------------------------

    def _compute(self, jobs: list[Job]) -> None:
        try:
            with self._engine_lock:
                self._compute_locked(jobs)
        finally:
            self.consumer.computed(len(jobs))

    def _compute_locked(self, jobs: list[Job]) -> None:
        runnable = []
        for job in jobs:
            if job.result is not None:  # failed before it could run
                continue
            try:
                job.result = {"cold": self.ensure_loaded(job.payload["model"])}
                runnable.append(job)
            except ModelLoadError as exc:
                logger.error("%s", exc)
                job.result = {
                    "status": "failed",
                    "error": {"code": "model_unavailable", "message": str(exc)},
                }
        if not runnable:
            return
        probabilities = self.engine.predict(
            [(job.payload["model"]["id"], job.images) for job in runnable]
        )
        for job, probs in zip(runnable, probabilities, strict=True):
            labels = self.engine.labels(job.payload["model"]["id"])
            ranked = top_k(probs, labels, job.payload["top_k"])
            job.result.update(
                status="succeeded",
                results=[
                    {"label": items[0]["label"], "score": items[0]["score"], "top_k": items}
                    for items in ranked
                ],
            )

    def _finish(self, jobs: list[Job]) -> None:
        """Store the batches' predictions and usage, answer the synchronous callers,
        acknowledge the claims.  If storing fails, the entries go back to the lane
        (their callers keep waiting for the retry) and intake pauses a moment."""
        readable = [job for job in jobs if job.payload is not None]
        try:
            if settings.INFERENCE_METERING:
                record_outcomes([(job.payload, job.result) for job in readable])
            else:  # benchmarks: nothing stored, but the admission holds must end
                release_holds([job.payload for job in readable])
        except (OperationalError, InterfaceError):
            logger.exception(
                "the database is unreachable; returning %d requests to the lane", len(jobs)
            )
            self._give_back(jobs, [job.raw for job in readable])
            return
        except Exception:
            # Something in these entries themselves: each goes back with one more
            # attempt, and one that has used its attempts is dropped.
            logger.exception("storing %d predictions failed", len(readable))
            retry = [job for job in readable if job.payload["attempt"] + 1 < lane.MAX_ATTEMPTS]
            self._give_back(
                jobs, [lane.with_attempt(job.raw, job.payload["attempt"] + 1) for job in retry]
            )
            exchange.send_replies(
                [
                    (job.payload["prediction_id"], INTERNAL_ERROR)
                    for job in readable
                    if job not in retry and job.payload["mode"] == "sync"
                ]
            )
            return
        exchange.send_replies(
            [
                (job.payload["prediction_id"], job.result)
                for job in readable
                if job.payload["mode"] == "sync"
            ]
        )
        self.consumer.claims.ack([job.epoch for job in jobs])
        self.consumer.done(len(jobs))

    def _give_back(self, jobs: list[Job], entries: list[bytes]) -> None:
        self.consumer.claims.give_back(entries, [job.epoch for job in jobs])
        self.consumer.done(len(jobs))
        self.consumer.pause(STORE_FAILURE_PAUSE_S)

    def stop(self, timeout_s: float) -> None:
        if self.consumer is not None:
            self.consumer.stop(timeout_s)


_runtime: InferenceRuntime | None = None
_runtime_lock = threading.Lock()


def runtime() -> InferenceRuntime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = InferenceRuntime()
        return _runtime


def started() -> InferenceRuntime | None:
    """The runtime if this process created one (shutdown must not create it)."""
    return _runtime
