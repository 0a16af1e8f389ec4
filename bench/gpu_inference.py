"""Inference throughput of the default base model: raw, one head, 1,000-tenant head mix.

    KERAS_BACKEND=jax python bench/gpu_inference.py          # on a GPU host
    python bench/gpu_inference.py --quick                     # CPU smoke run

Self-contained (no Django, database or broker).  Prints images/s of:

* raw: the backbone's compiled forward pass on a fixed uint8 batch (the ceiling);
* base: the serving engine with one head on the shared backbone;
* mix: the engine with --tenants heads loaded, every image of a batch sent by a
  random tenant (one request per image), so grouping and per-image heads count;

each with its ratio to raw, plus the engine's single-image latency.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ml_common import configure_backend, device_name, throughput  # noqa: E402


def _random_heads(base, count: int, classes: int, seed: int):
    from ml.artifacts import ArtifactMetadata, BaseReference, HeadWeights, LoadedArtifact

    rng = np.random.default_rng(seed)
    dim = base.metadata.feature_dim
    metadata = ArtifactMetadata(
        kind="head",
        labels=[f"c{i}" for i in range(classes)],
        input_shape=base.metadata.input_shape,
        feature_layer=None,
        base_model=BaseReference(base.metadata.name, base.checksum),
        checksums={"head.npz": "in-memory"},
    )
    for _ in range(count):
        head = HeadWeights(
            rng.normal(0, 0.1, (dim, classes)).astype(np.float32),
            rng.normal(0, 0.1, classes).astype(np.float32),
        )
        yield LoadedArtifact(path=Path("memory"), metadata=metadata, head=head)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=str(ROOT / "base_models" / "mh-base-v1"))
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--quick", action="store_true", help="short CPU smoke run")
    args = parser.parse_args()
    if args.quick:
        args.seconds = min(args.seconds, 2.0)
    backend = configure_backend()

    from ml.artifacts import load_artifact
    from ml.serving import DEFAULT_BUCKETS, ServingEngine

    base = load_artifact(args.base)
    engine = ServingEngine(buckets=sorted({*DEFAULT_BUCKETS, args.batch}))
    started = time.perf_counter()
    engine.load_base(base)
    load_seconds = time.perf_counter() - started
    for index, head in enumerate(_random_heads(base, args.tenants, 10, seed=0)):
        engine.load_head(f"m{index}", head)

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.batch, *base.metadata.input_shape), dtype=np.uint8)
    tenants = [f"m{i}" for i in rng.integers(0, args.tenants, args.batch)]
    mixed = [(model_id, images[i : i + 1]) for i, model_id in enumerate(tenants)]

    raw = throughput(
        lambda: np.asarray(base.model.predict_on_batch(images)), args.batch, args.seconds
    )
    single = throughput(lambda: engine.predict([("m0", images)]), args.batch, args.seconds)
    mix = throughput(lambda: engine.predict(mixed), args.batch, args.seconds)
    latencies = []
    for i in range(200 if not args.quick else 50):
        started = time.perf_counter()
        engine.predict([(tenants[i % len(tenants)], images[i % args.batch :][:1])])
        latencies.append(time.perf_counter() - started)

    print(
        f"backend={backend} device={device_name()} base={base.metadata.name} "
        f"batch={args.batch} tenants={args.tenants} base_load={load_seconds:.2f}s"
    )
    print(f"raw forward pass            {raw:10.0f} images/s  ratio 1.00")
    print(f"base model, one head        {single:10.0f} images/s  ratio {single / raw:.2f}")
    print(f"{args.tenants}-tenant head mix      {mix:10.0f} images/s  ratio {mix / raw:.2f}")
    print(
        f"single-image latency p50 {np.percentile(latencies, 50) * 1e3:.2f} ms, "
        f"p95 {np.percentile(latencies, 95) * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()
