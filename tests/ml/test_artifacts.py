import json
import tomllib
from pathlib import Path

import keras
import numpy as np
import pytest
from packaging.requirements import Requirement

from ml.architecture import HEAD_LAYER, build_backbone, build_classifier
from ml.artifacts import (
    ArtifactError,
    ArtifactMetadata,
    BaseReference,
    HeadWeights,
    load_artifact,
    save_artifact,
)
from ml.base_import import find_feature_layer, import_base_model
from ml.images import PREPROCESSING_VERSION

SMALL_SHAPE = (16, 16, 3)


def _full_artifact(tmp_path, base_artifact, labels=("cat", "dog", "eel")):
    classifier = build_classifier(base_artifact.model, len(labels))
    metadata = save_artifact(
        tmp_path / "full",
        ArtifactMetadata(
            kind="full",
            labels=list(labels),
            input_shape=list(SMALL_SHAPE),
            feature_layer=None,
            base_model=BaseReference("tiny-base", base_artifact.checksum),
        ),
        model=classifier,
    )
    return classifier, metadata


def test_backbone_takes_uint8_and_returns_feature_vectors(images):
    backbone = build_backbone(SMALL_SHAPE, feature_dim=24)
    features = np.asarray(backbone.predict_on_batch(images))
    assert backbone.input.dtype == "uint8"
    assert features.shape == (12, 24)


def test_full_artifact_round_trip_keeps_predictions_and_metadata(tmp_path, base_artifact, images):
    classifier, written = _full_artifact(tmp_path, base_artifact)
    loaded = load_artifact(tmp_path / "full")
    assert loaded.kind == "full"
    assert loaded.labels == ["cat", "dog", "eel"]
    assert loaded.metadata.preprocessing_version == PREPROCESSING_VERSION
    assert loaded.metadata.base_model.checksum == base_artifact.checksum
    assert loaded.checksum == written.checksum
    np.testing.assert_allclose(
        loaded.model.predict_on_batch(images), classifier.predict_on_batch(images), atol=1e-6
    )


def test_head_artifact_round_trip(tmp_path, base_artifact):
    head = HeadWeights(kernel=np.ones((32, 2), np.float32), bias=np.array([1, 2], np.float32))
    save_artifact(
        tmp_path,
        ArtifactMetadata(
            kind="head",
            labels=["a", "b"],
            input_shape=list(SMALL_SHAPE),
            feature_layer=None,
            base_model=BaseReference("tiny-base", base_artifact.checksum),
        ),
        head=head,
    )
    loaded = load_artifact(tmp_path)
    assert loaded.model is None
    np.testing.assert_array_equal(loaded.head.kernel, head.kernel)
    np.testing.assert_array_equal(loaded.head.bias, head.bias)
    assert json.loads((tmp_path / "metadata.json").read_text())["kind"] == "head"


def test_tampered_weights_are_refused(tmp_path, base_artifact):
    _full_artifact(tmp_path, base_artifact)
    weights = tmp_path / "full" / "model.keras"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum"):
        load_artifact(tmp_path / "full")


def test_other_preprocessing_version_is_refused(tmp_path, base_artifact):
    _full_artifact(tmp_path, base_artifact)
    path = tmp_path / "full" / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["preprocessing_version"] = "rgb-nearest-v0"
    path.write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match="preprocessing"):
        load_artifact(tmp_path / "full")


def test_missing_artifact_is_a_clear_error(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        load_artifact(tmp_path / "nothing-here")


def _operator_classifier() -> keras.Model:
    inputs = keras.Input(shape=(20, 20, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


def test_feature_layer_is_the_one_before_the_classifier_skipping_dropout():
    assert find_feature_layer(_operator_classifier()) == "pool"


def test_import_base_model_cuts_the_head_and_takes_uint8(tmp_path, images):
    model = _operator_classifier()
    model.save(tmp_path / "operator.keras")
    base = import_base_model(
        tmp_path / "operator.keras", tmp_path / "base", name="op-base", input_scaling="unit"
    )
    pixels = np.random.default_rng(0).integers(0, 256, (4, 20, 20, 3), dtype=np.uint8)
    expected = keras.Model(model.input, model.get_layer("pool").output)(pixels / 255.0)
    assert base.kind == "base"
    assert base.metadata.feature_layer == "pool"
    assert base.metadata.feature_dim == 8
    np.testing.assert_allclose(base.model.predict_on_batch(pixels), expected, atol=1e-5)


def test_import_base_model_with_named_spatial_layer_pools_it(tmp_path):
    _operator_classifier().save(tmp_path / "operator.keras")
    base = import_base_model(
        tmp_path / "operator.keras", tmp_path / "base", name="op", feature_layer="conv"
    )
    assert base.model.output_shape == (None, 8)


def test_import_of_a_non_model_file_is_refused(tmp_path):
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="not a loadable"):
        import_base_model(tmp_path / "junk.keras", tmp_path / "base", name="junk")


def test_classifier_head_is_a_named_dense_layer(base_artifact):
    classifier = build_classifier(base_artifact.model, 4)
    assert classifier.get_layer(HEAD_LAYER).kernel.shape == (32, 4)


def test_a_model_file_carrying_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"

    def payload(x):
        marker.write_text("code from the model file ran")  # runs when traced or deserialised
        return x

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(payload)(inputs))
    model.save(tmp_path / "lambda.keras")
    marker.unlink()  # building the model traced it once

    with pytest.raises(ArtifactError, match="not a loadable"):
        import_base_model(tmp_path / "lambda.keras", tmp_path / "base", name="lambda")
    assert not marker.exists()


def test_keras_is_pinned_past_the_published_safe_mode_bypasses():
    """Releases before 3.14 have published ways past safe_mode (pyproject.toml)."""
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    pins = [Requirement(r) for r in project["project"]["dependencies"]]
    keras_pin = next(pin for pin in pins if pin.name == "keras")
    assert not keras_pin.specifier.contains("3.13.99")
    assert keras_pin.specifier.contains(keras.__version__)
