import tracemalloc

import keras
import numpy as np
import pytest

from ml.architecture import HEAD_LAYER, build_classifier
from ml.artifacts import (
    ArtifactMetadata,
    BaseReference,
    HeadWeights,
    LoadedArtifact,
    load_artifact,
    save_artifact,
)
from ml.serving import (
    BucketedForward,
    EngineError,
    ModelNotLoaded,
    ServingEngine,
    apply_heads,
    cheapest_cover,
    top_k,
)

SMALL_SHAPE = (16, 16, 3)


def _head_artifact(tmp_path, base, num_classes, seed) -> tuple[LoadedArtifact, keras.Model]:
    """A head artifact plus the equivalent full classifier (same weights)."""
    rng = np.random.default_rng(seed)
    head = HeadWeights(
        kernel=rng.normal(0, 0.5, (32, num_classes)).astype(np.float32),
        bias=rng.normal(0, 0.5, num_classes).astype(np.float32),
    )
    directory = tmp_path / f"head-{seed}"
    save_artifact(
        directory,
        ArtifactMetadata(
            kind="head",
            labels=[f"c{i}" for i in range(num_classes)],
            input_shape=list(SMALL_SHAPE),
            feature_layer=None,
            base_model=BaseReference("tiny-base", base.checksum),
        ),
        head=head,
    )
    classifier = build_classifier(base.model, num_classes)
    classifier.get_layer(HEAD_LAYER).set_weights([head.kernel, head.bias])
    return load_artifact(directory), classifier


def _full_artifact(tmp_path, base, num_classes, name) -> LoadedArtifact:
    keras.utils.set_random_seed(7)
    classifier = build_classifier(base.model, num_classes)
    save_artifact(
        tmp_path / name,
        ArtifactMetadata(
            kind="full",
            labels=[f"f{i}" for i in range(num_classes)],
            input_shape=list(SMALL_SHAPE),
            feature_layer=None,
        ),
        model=classifier,
    )
    return load_artifact(tmp_path / name)


def test_mixed_heads_in_one_batch_match_each_full_classifier(tmp_path, base_artifact, images):
    engine = ServingEngine()
    engine.load_base(base_artifact)
    expected, requests = [], []
    for seed, (classes, count) in enumerate([(3, 1), (7, 5), (2, 4), (3, 2)]):
        artifact, classifier = _head_artifact(tmp_path, base_artifact, classes, seed)
        engine.load_head(f"m{seed}", artifact)
        batch = images[:count]
        requests.append((f"m{seed}", batch))
        expected.append(np.asarray(classifier.predict_on_batch(batch)))
    results = engine.predict(requests)
    for got, want in zip(results, expected, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_full_models_and_heads_are_served_together(tmp_path, base_artifact, images):
    engine = ServingEngine()
    engine.load_base(base_artifact)
    head, classifier = _head_artifact(tmp_path, base_artifact, 4, seed=1)
    full = _full_artifact(tmp_path, base_artifact, 5, "full")
    assert engine.load_head("h", head) is True
    assert engine.load_full("f", full) is True
    got_full, got_head = engine.predict([("f", images[:3]), ("h", images[3:12])])
    np.testing.assert_allclose(got_full, full.model.predict_on_batch(images[:3]), atol=1e-5)
    np.testing.assert_allclose(got_head, classifier.predict_on_batch(images[3:12]), atol=1e-5)


def test_batches_larger_than_the_largest_bucket_are_split(tmp_path, base_artifact, images):
    engine = ServingEngine(buckets=(1, 4))
    engine.load_base(base_artifact)
    head, classifier = _head_artifact(tmp_path, base_artifact, 3, seed=2)
    engine.load_head("h", head)
    (probabilities,) = engine.predict([("h", images)])
    assert probabilities.shape == (12, 3)
    np.testing.assert_allclose(probabilities, classifier.predict_on_batch(images), atol=1e-5)


def test_batches_run_as_the_cheapest_bucket_calls():
    buckets = (1, 2, 4, 8, 16, 32, 64, 128)
    # A CPU: every image costs the same, a call a little more.
    per_image = {size: 0.7 + size for size in buckets}
    assert cheapest_cover(40, per_image) == (32, 8)
    assert cheapest_cover(9, per_image) == (8, 1)
    assert cheapest_cover(64, per_image) == (64,)
    assert cheapest_cover(300, per_image) == (128, 128, 32, 8, 4)
    # An accelerator: a call costs the same whatever its size; pad instead.
    per_call = {size: 1.0 + size / 1000 for size in buckets}
    assert cheapest_cover(40, per_call) == (64,)
    assert cheapest_cover(300, per_call) == (128, 128, 64)


def test_warm_up_times_every_bucket_and_split_batches_match_one_pass(base_artifact, images):
    forward = BucketedForward(base_artifact.model, buckets=(1, 2, 4, 8, 16))
    forward.warm_up()
    assert all(0 < seconds < 1 for seconds in forward.call_seconds.values())
    assert sum(forward.plan(11)) >= 11
    np.testing.assert_allclose(
        forward(images[:11]), base_artifact.model.predict_on_batch(images[:11]), atol=1e-5
    )


def test_loading_twice_is_warm(tmp_path, base_artifact):
    engine = ServingEngine()
    head, _ = _head_artifact(tmp_path, base_artifact, 3, seed=3)
    assert engine.load_base(base_artifact) is True
    assert engine.load_base(base_artifact) is False
    assert engine.load_head("h", head) is True
    assert engine.load_head("h", head) is False


def test_lru_eviction_keeps_the_cache_within_its_budget(tmp_path, base_artifact, images):
    heads = [_head_artifact(tmp_path, base_artifact, 10, seed)[0] for seed in range(4)]
    one_head = heads[0].head.nbytes
    engine = ServingEngine(memory_budget=3 * one_head)
    engine.load_base(base_artifact)
    for i, head in enumerate(heads[:3]):
        engine.load_head(f"m{i}", head)
    engine.predict([("m0", images[:1])])  # m0 becomes the most recently used
    engine.load_head("m3", heads[3])
    assert engine.model_ids == ["m2", "m0", "m3"]
    assert engine.cached_bytes <= engine.memory_budget
    with pytest.raises(ModelNotLoaded):
        engine.predict([("m1", images[:1])])


def test_head_without_its_base_is_refused(tmp_path, base_artifact):
    head, _ = _head_artifact(tmp_path, base_artifact, 3, seed=4)
    with pytest.raises(EngineError, match="base"):
        ServingEngine().load_head("h", head)


def test_wrong_image_shape_or_dtype_is_refused(tmp_path, base_artifact, images):
    engine = ServingEngine()
    engine.load_base(base_artifact)
    engine.load_head("h", _head_artifact(tmp_path, base_artifact, 3, seed=5)[0])
    with pytest.raises(EngineError, match="uint8"):
        engine.predict([("h", images.astype(np.float32))])
    with pytest.raises(EngineError, match="shape"):
        engine.predict([("h", images[:, :8])])


def test_apply_heads_pads_narrow_heads_with_zero_probability():
    features = np.eye(2, dtype=np.float32)
    wide = HeadWeights(np.zeros((2, 3), np.float32), np.zeros(3, np.float32))
    narrow = HeadWeights(np.zeros((2, 1), np.float32), np.zeros(1, np.float32))
    probabilities = apply_heads(features, [wide, narrow], np.array([0, 1]))
    np.testing.assert_allclose(probabilities, [[1 / 3, 1 / 3, 1 / 3], [1, 0, 0]])


def test_a_wide_head_is_applied_without_copying_its_kernel_per_image():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(64, 1280)).astype(np.float32)
    wide = HeadWeights(
        rng.normal(0, 0.01, (1280, 1000)).astype(np.float32), np.zeros(1000, np.float32)
    )
    narrow = HeadWeights(rng.normal(0, 0.01, (1280, 3)).astype(np.float32), np.zeros(3, np.float32))
    head_index = np.array([0, 1] * 32)

    tracemalloc.start()
    probabilities = apply_heads(features, [wide, narrow], head_index)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert peak < 8 * 1024 * 1024  # a kernel per image would be 64 x 5 MB
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    expected = np.exp(features[0] @ wide.kernel)
    np.testing.assert_allclose(probabilities[0], expected / expected.sum(), rtol=1e-4)
    assert probabilities[1, 3:].max() == 0


def test_top_k_orders_labels_by_score():
    probabilities = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    assert top_k(probabilities, ["a", "b", "c"], k=2) == [
        [{"label": "b", "score": 0.7}, {"label": "c", "score": 0.2}],
        [{"label": "a", "score": 0.5}, {"label": "c", "score": 0.3}],
    ]
