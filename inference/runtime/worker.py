"""The inference worker's serving runtime: one per process.

Holds the :class:`ml.serving.ServingEngine` (LRU of loaded models within a
memory budget; one shared backbone pass for all head-only models of a base),
the model loader, and the :class:`Batcher` that turns concurrent task threads
into batched forward passes.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings

from inference import exchange
from inference.runtime.batcher import Batcher, Job
from inference.runtime.metering import record_outcomes, stored_prediction

logger = logging.getLogger(__name__)

# Before TensorFlow initialises: take GPU memory as needed, not all at start.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # keep the worker log readable

from ml.artifacts import ArtifactError, load_artifact  # noqa: E402
from ml.serving import ServingEngine, top_k  # noqa: E402


class ModelLoadError(Exception):
    pass


class InferenceRuntime:
    def __init__(self) -> None:
        # The consumer thread that receives messages competes for the GIL with
        # the compute thread's Python-side Keras work; at the default 5 ms
        # switch interval it waits that long per message.
        sys.setswitchinterval(settings.INFERENCE_GIL_SWITCH_INTERVAL_S)
        self.engine = ServingEngine(memory_budget=settings.INFERENCE_CACHE_BYTES)
        # The engine is not thread-safe: loads (warm-up, task threads) and the
        # compute thread's forward passes take turns.
        self._engine_lock = threading.RLock()
        self.batcher = Batcher(self._compute, self._finish,
                               max_images=settings.INFERENCE_MAX_BATCH_IMAGES,
                               max_wait_s=settings.INFERENCE_MAX_WAIT_MS / 1000)

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
        with self._engine_lock:
            self._compute_locked(jobs)

    def _compute_locked(self, jobs: list[Job]) -> None:
        runnable = []
        for job in jobs:
            try:
                job.result = {"cold": self.ensure_loaded(job.payload["model"])}
                runnable.append(job)
            except ModelLoadError as exc:
                logger.error("%s", exc)
                job.result = {"status": "failed", "error": {"code": "model_unavailable",
                                                            "message": str(exc)}}
        if not runnable:
            return
        probabilities = self.engine.predict([(job.payload["model"]["id"], job.images)
                                             for job in runnable])
        for job, probs in zip(runnable, probabilities, strict=True):
            labels = self.engine.labels(job.payload["model"]["id"])
            ranked = top_k(probs, labels, job.payload["top_k"])
            job.result.update(status="succeeded", results=[
                {"label": items[0]["label"], "score": items[0]["score"], "top_k": items}
                for items in ranked])

    def _finish(self, jobs: list[Job]) -> None:
        if settings.INFERENCE_METERING:
            record_outcomes([(job.payload, job.result) for job in jobs])
        exchange.discard_pixels([job.payload["prediction_id"] for job in jobs])
        for job in jobs:
            if job.payload["mode"] == "sync":
                exchange.send_reply(job.payload["prediction_id"], job.result)
            job.future.set_result(job.result)

    # -- the task's entry point ----------------------------------------------------------

    def predict(self, payload: dict, timeout_s: float) -> dict:
        images = exchange.take_pixels(payload["prediction_id"], payload["shape"])
        if images is None:
            return self._without_pixels(payload)
        job = Job(payload=payload, images=images)
        try:
            return self.batcher.submit(job).result(timeout=timeout_s)
        except Exception as exc:
            if payload["mode"] == "sync":  # do not leave the caller waiting for its timeout
                exchange.send_reply(payload["prediction_id"], {"status": "failed", "error": {
                    "code": "internal_error", "message": "the prediction failed"}})
            if isinstance(exc, FutureTimeout):
                raise TimeoutError(f"prediction {payload['prediction_id']} exceeded "
                                   f"{timeout_s:g} s") from None
            raise

    def _without_pixels(self, payload: dict) -> dict:
        """A redelivered task whose prediction was already stored (its pixels are
        discarded then) answers with the stored result; otherwise the input expired."""
        stored = stored_prediction(payload)
        if stored is not None:
            result = {"status": stored.status, "results": stored.results, "cold": False}
        else:
            result = {"status": "failed", "error": {
                "code": "input_expired",
                "message": "the images expired before a worker took the request"}}
            record_outcomes([(payload, result)])
        if payload["mode"] == "sync":
            exchange.send_reply(payload["prediction_id"], result)
        return result


_runtime: InferenceRuntime | None = None
_runtime_lock = threading.Lock()


def runtime() -> InferenceRuntime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = InferenceRuntime()
        return _runtime
