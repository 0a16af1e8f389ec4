"""Fixtures for the ML core: tiny models on 16x16 inputs so every test takes seconds."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

SMALL_SHAPE = (16, 16, 3)


@pytest.fixture(scope="session")
def base_artifact(tmp_path_factory):
    """A saved and reloaded base artifact with a randomly initialised small backbone."""
    import keras

    from ml.architecture import FEATURE_LAYER, build_backbone
    from ml.artifacts import ArtifactMetadata, load_artifact, save_artifact

    keras.utils.set_random_seed(1)
    backbone = build_backbone(SMALL_SHAPE, feature_dim=32)
    directory = tmp_path_factory.mktemp("base")
    save_artifact(
        directory,
        ArtifactMetadata(
            kind="base",
            name="tiny-base",
            labels=[],
            input_shape=list(SMALL_SHAPE),
            feature_layer=FEATURE_LAYER,
            feature_dim=32,
        ),
        model=backbone,
    )
    return load_artifact(directory)


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(12, *SMALL_SHAPE), dtype=np.uint8)
