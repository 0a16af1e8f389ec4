"""Shared-backbone serving engine: what the inference worker predicts with.

Head-only fine-tunes (the common case) share their base's backbone.  All images
whose models share a backbone go through *one* backbone forward pass; then each
head is applied to its own images in one matrix product, into logits padded to
the widest head and masked before the softmax.  A thousand tenants therefore
cost about what one does.  Full (unfrozen) fine-tunes run their own forward
pass.

Forward passes go through ``predict_on_batch`` (a compiled function; on
TensorFlow CPU it measured as fast as a hand-made ``tf.function`` and runs on
every Keras backend) in a few fixed bucket sizes, so shapes never cause
retracing; every bucket is traced and timed once when a model is loaded, and a
batch runs as the cheapest set of bucket-sized calls (see BucketedForward).
``model.predict()`` is never used: it costs tens of milliseconds per call.

Heads and full models live in an LRU cache bounded by an approximate memory
budget (bytes of weights).  Backbones are few and shared, so they are kept until
:meth:`ServingEngine.unload_base`.  The engine is not thread-safe: one worker
thread owns it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from ml.artifacts import HeadWeights, LoadedArtifact

DEFAULT_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
WARM_UP_TIMINGS = 3  # per bucket; the fastest counts (a busy host only slows calls down)
DEFAULT_MEMORY_BUDGET = 512 * 1024 * 1024


class EngineError(Exception):
    """A request the engine cannot serve (model not loaded, wrong input, wrong base)."""


class ModelNotLoaded(EngineError):
    def __init__(self, model_id: str) -> None:
        super().__init__(f"Model {model_id!r} is not loaded.")
        self.model_id = model_id


def weights_nbytes(model: keras.Model) -> int:
    """Approximate memory of a model: the bytes of its weights."""
    return int(sum(np.prod(v.shape) * np.dtype(v.dtype).itemsize for v in model.weights))


class BucketedForward:
    """Run a model on ``uint8`` batches cut into fixed bucket sizes (no retracing).

    A batch of ``n`` images runs as the cheapest combination of bucket-sized
    calls, each bucket's cost timed at warm-up: on a CPU, where every image
    costs about the same, 40 images run as 32 + 8 rather than padded to 64; on
    an accelerator, where a call costs about the same whatever its size, they
    run as one padded call.
    """

    def __init__(self, model: keras.Model, buckets: Sequence[int] = DEFAULT_BUCKETS) -> None:
        self.model = model
        self.buckets = tuple(sorted(buckets))
        self.input_shape = tuple(model.input_shape[1:])
        # Until warm_up times them, a call is assumed to cost its size.
        self.call_seconds = {size: float(size) for size in self.buckets}
        self._plans: dict[int, tuple[int, ...]] = {}

    def warm_up(self) -> None:
        """Trace every bucket size once, so no request pays for tracing, then time it."""
        for size in self.buckets:
            batch = np.zeros((size, *self.input_shape), dtype=np.uint8)
            self.model.predict_on_batch(batch)
            self.call_seconds[size] = min(
                _seconds(self.model.predict_on_batch, batch) for _ in range(WARM_UP_TIMINGS)
            )
        self._plans.clear()

    def plan(self, count: int) -> tuple[int, ...]:
        """Bucket sizes, largest first, whose calls cover ``count`` images at least cost."""
        if count not in self._plans:
            self._plans[count] = cheapest_cover(count, self.call_seconds)
        return self._plans[count]

    def __call__(self, images: np.ndarray) -> np.ndarray:
        outputs, start = [], 0
        for size in self.plan(len(images)):
            outputs.append(self._run(images[start : start + size], size))
            start += size
        return np.concatenate(outputs) if len(outputs) != 1 else outputs[0]

    def _run(self, chunk: np.ndarray, size: int) -> np.ndarray:
        count = len(chunk)
        if size != count:
            padding = np.zeros((size - count, *chunk.shape[1:]), dtype=chunk.dtype)
            chunk = np.concatenate([chunk, padding])
        return np.asarray(self.model.predict_on_batch(chunk))[:count]


def cheapest_cover(count: int, call_seconds: dict[int, float]) -> tuple[int, ...]:
    """Bucket sizes (largest first) covering ``count`` images at the least total cost.

    ``call_seconds`` maps each bucket size to the cost of one call; the last
    call may be padded.  Dynamic programming over the images still to cover.
    """
    best = [(0.0, 0)] * (count + 1)  # (cost, bucket of the first call) per remaining count
    for remaining in range(1, count + 1):
        best[remaining] = min(
            (seconds + best[max(0, remaining - size)][0], size)
            for size, seconds in call_seconds.items()
        )
    plan, remaining = [], count
    while remaining > 0:
        size = best[remaining][1]
        plan.append(size)
        remaining = max(0, remaining - size)
    return tuple(sorted(plan, reverse=True))


def _seconds(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


@dataclass
class _Backbone:
    name: str
    forward: BucketedForward
    feature_dim: int


@dataclass
class _Head:
    checksum: str
    base_checksum: str
    labels: list[str]
    weights: HeadWeights

    @property
    def nbytes(self) -> int:
        return self.weights.nbytes


@dataclass
class _Full:
    checksum: str
    labels: list[str]
    forward: BucketedForward
    nbytes: int


def apply_heads(
    features: np.ndarray, heads: Sequence[HeadWeights], head_index: np.ndarray
) -> np.ndarray:
    """Softmax of ``features[i] @ heads[head_index[i]]``, padded to the widest head.

    Returns ``float32 (n, max_classes)``; columns past a head's own class count
    are exactly 0.  One matrix product per distinct head over its own rows: a
    per-image gather of kernels would copy ``n x features x classes`` floats
    (650 MB for 128 images on a 1280-feature, 1000-class ImageNet head).
    """
    widest = max(h.bias.shape[0] for h in heads)
    logits = np.full((len(features), widest), -np.inf, dtype=np.float32)
    order = np.argsort(head_index, kind="stable")
    for rows in np.split(order, np.flatnonzero(np.diff(head_index[order])) + 1):
        head = heads[head_index[rows[0]]]
        logits[rows, : head.bias.shape[0]] = features[rows] @ head.kernel + head.bias
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


class ServingEngine:
    """Backbones by base checksum, heads and full models by model id (LRU, byte budget)."""

    def __init__(
        self, memory_budget: int = DEFAULT_MEMORY_BUDGET, buckets: Sequence[int] = DEFAULT_BUCKETS
    ) -> None:
        self.memory_budget = memory_budget
        self.buckets = tuple(buckets)
        self._backbones: dict[str, _Backbone] = {}
        self._models: OrderedDict[str, _Head | _Full] = OrderedDict()
        self._bytes = 0

    # -- loading ---------------------------------------------------------------------------

    def load_base(self, artifact: LoadedArtifact) -> bool:
        """Load a base backbone (traced and warmed up); return True if it was not loaded."""
        if artifact.kind != "base":
            raise EngineError(f"{artifact.path} is a {artifact.kind} artifact, not a base.")
        if artifact.checksum in self._backbones:
            return False
        forward = BucketedForward(artifact.model, self.buckets)
        forward.warm_up()
        self._backbones[artifact.checksum] = _Backbone(
            name=artifact.metadata.name,
            forward=forward,
            feature_dim=int(artifact.model.output_shape[-1]),
        )
        return True

    def load_head(self, model_id: str, artifact: LoadedArtifact) -> bool:
        """Register a head on its (already loaded) base; costs only the head's weights."""
        if artifact.kind != "head":
            raise EngineError(f"{artifact.path} is a {artifact.kind} artifact, not a head.")
        cached = self._models.get(model_id)
        if isinstance(cached, _Head) and cached.checksum == artifact.checksum:
            self._models.move_to_end(model_id)
            return False
        base = artifact.metadata.base_model
        backbone = self._backbones.get(base.checksum) if base else None
        if backbone is None:
            raise EngineError(f"The base of model {model_id!r} is not loaded; load it first.")
        if artifact.head.kernel.shape[0] != backbone.feature_dim:
            raise EngineError(
                f"Model {model_id!r} expects {artifact.head.kernel.shape[0]} "
                f"features; its base gives {backbone.feature_dim}."
            )
        self._insert(
            model_id, _Head(artifact.checksum, base.checksum, list(artifact.labels), artifact.head)
        )
        return True

    def load_full(self, model_id: str, artifact: LoadedArtifact) -> bool:
        """Register a whole classifier (traced and warmed up)."""
        if artifact.kind != "full":
            raise EngineError(f"{artifact.path} is a {artifact.kind} artifact, not a full model.")
        cached = self._models.get(model_id)
        if isinstance(cached, _Full) and cached.checksum == artifact.checksum:
            self._models.move_to_end(model_id)
            return False
        forward = BucketedForward(artifact.model, self.buckets)
        forward.warm_up()
        self._insert(
            model_id,
            _Full(
                artifact.checksum, list(artifact.labels), forward, weights_nbytes(artifact.model)
            ),
        )
        return True

    def load(self, model_id: str, artifact: LoadedArtifact) -> bool:
        """Load a head or full model, whichever ``artifact`` is."""
        if artifact.kind == "head":
            return self.load_head(model_id, artifact)
        return self.load_full(model_id, artifact)

    def unload(self, model_id: str) -> None:
        entry = self._models.pop(model_id, None)
        if entry is not None:
            self._bytes -= entry.nbytes

    def unload_base(self, checksum: str) -> None:
        """Drop a backbone and every head that depends on it."""
        self._backbones.pop(checksum, None)
        for model_id in [
            m
            for m, e in self._models.items()
            if isinstance(e, _Head) and e.base_checksum == checksum
        ]:
            self.unload(model_id)

    def _insert(self, model_id: str, entry: _Head | _Full) -> None:
        self.unload(model_id)
        self._models[model_id] = entry
        self._bytes += entry.nbytes
        # Evict least recently used entries; the newest one stays even if it alone
        # exceeds the budget (the budget is approximate, refusing would be worse).
        while self._bytes > self.memory_budget and len(self._models) > 1:
            self.unload(next(iter(self._models)))

    # -- introspection ---------------------------------------------------------------------

    def is_loaded(self, model_id: str) -> bool:
        return model_id in self._models

    def has_base(self, checksum: str) -> bool:
        return checksum in self._backbones

    def labels(self, model_id: str) -> list[str]:
        return self._entry(model_id).labels

    @property
    def cached_bytes(self) -> int:
        """Bytes of weights held by heads and full models (what the budget bounds)."""
        return self._bytes

    @property
    def model_ids(self) -> list[str]:
        """Loaded model ids, least recently used first."""
        return list(self._models)

    def _entry(self, model_id: str) -> _Head | _Full:
        try:
            return self._models[model_id]
        except KeyError:
            raise ModelNotLoaded(model_id) from None

    # -- prediction ------------------------------------------------------------------------

    def predict(self, requests: Sequence[tuple[str, np.ndarray]]) -> list[np.ndarray]:
        """Probabilities for each ``(model_id, uint8 images (n, h, w, 3))`` request.

        Returns one ``float32 (n, num_classes)`` array per request, in order.
        Raises :class:`ModelNotLoaded` before any work if a model is missing.
        """
        entries = [self._entry(model_id) for model_id, _ in requests]
        for model_id, _ in requests:
            self._models.move_to_end(model_id)
        results: list[np.ndarray | None] = [None] * len(requests)
        by_backbone: dict[str, list[int]] = {}
        by_full: dict[str, list[int]] = {}
        for i, ((model_id, _), entry) in enumerate(zip(requests, entries, strict=True)):
            if isinstance(entry, _Head):
                by_backbone.setdefault(entry.base_checksum, []).append(i)
            else:
                by_full.setdefault(model_id, []).append(i)
        for checksum, indices in by_backbone.items():
            self._predict_heads(self._backbones[checksum], requests, entries, indices, results)
        for model_id, indices in by_full.items():
            entry = self._models[model_id]
            self._predict_full(entry, requests, indices, results)
        return results

    def _predict_heads(self, backbone: _Backbone, requests, entries, indices, results) -> None:
        images = _batch([requests[i][1] for i in indices], backbone.forward.input_shape)
        features = backbone.forward(images)
        heads: dict[int, int] = {}  # id(HeadWeights) -> position in the stack
        stack: list[HeadWeights] = []
        head_index = []
        for i in indices:
            weights = entries[i].weights
            position = heads.setdefault(id(weights), len(stack))
            if position == len(stack):
                stack.append(weights)
            head_index.extend([position] * len(requests[i][1]))
        probabilities = apply_heads(features, stack, np.asarray(head_index))
        start = 0
        for i in indices:
            count = len(requests[i][1])
            classes = entries[i].weights.bias.shape[0]
            results[i] = probabilities[start : start + count, :classes]
            start += count

    @staticmethod
    def _predict_full(entry: _Full, requests, indices, results) -> None:
        images = _batch([requests[i][1] for i in indices], entry.forward.input_shape)
        probabilities = entry.forward(images)
        start = 0
        for i in indices:
            count = len(requests[i][1])
            results[i] = probabilities[start : start + count]
            start += count


def _batch(arrays: list[np.ndarray], input_shape: tuple[int, ...]) -> np.ndarray:
    for array in arrays:
        if array.dtype != np.uint8 or tuple(array.shape[1:]) != input_shape:
            raise EngineError(
                f"Expected uint8 images of shape (n, {', '.join(map(str, input_shape))})"
                f"; got {array.dtype} {tuple(array.shape)}."
            )
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def top_k(probabilities: np.ndarray, labels: Sequence[str], k: int = 5) -> list[list[dict]]:
    """Per image, the ``k`` most probable ``{"label", "score"}`` pairs, best first."""
    k = min(k, probabilities.shape[1])
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [
        [{"label": labels[j], "score": float(row[j])} for j in top]
        for row, top in zip(probabilities, order, strict=True)
    ]
