"""Turning an operator-provided Keras classifier into a base artifact.

The classifier's head is cut off at its *feature layer*: by default the last
layer before the final classification layer (a ``Dense``, or the 1x1
``Conv2D`` that MobileNet-style models end with), skipping ``Dropout``; name it
explicitly when the model's tail is not a simple chain.  The backbone is
wrapped so that, like ours, it takes ``uint8`` images and scales them itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import keras

from ml.artifacts import (
    ArtifactError,
    ArtifactMetadata,
    LoadedArtifact,
    load_artifact,
    save_artifact,
)

# What the imported model expects its pixels to be: 0..255, 0..1 or -1..1.
InputScaling = Literal["raw", "unit", "symmetric"]
_SCALING = {"raw": (1.0, 0.0), "unit": (1 / 255.0, 0.0), "symmetric": (1 / 127.5, -1.0)}
_HEAD_LAYERS = (keras.layers.Dense, keras.layers.Conv2D)


def find_feature_layer(model: keras.Model) -> str:
    """Name of the layer whose output feeds the model's classification layer."""
    layers = model.layers
    head = max(
        (i for i, layer in enumerate(layers) if isinstance(layer, _HEAD_LAYERS)), default=None
    )
    if head is None:
        raise ArtifactError(
            "The model has no Dense or Conv2D classification layer; "
            "name its feature layer explicitly."
        )
    for layer in reversed(layers[:head]):
        if not isinstance(layer, keras.layers.Dropout | keras.layers.InputLayer):
            return layer.name
    raise ArtifactError("Nothing precedes the classification layer; name the feature layer.")


def build_imported_backbone(
    model: keras.Model, feature_layer: str, input_scaling: InputScaling = "raw"
) -> keras.Model:
    """``uint8`` images -> the model's ``feature_layer`` output, flattened to a vector."""
    input_shape = tuple(model.input_shape[1:])
    if len(input_shape) != 3 or None in input_shape or input_shape[-1] != 3:
        raise ArtifactError(f"The model's input shape {input_shape} is not a fixed (h, w, 3).")
    try:
        cut = keras.Model(model.input, model.get_layer(feature_layer).output)
    except ValueError as exc:
        raise ArtifactError(f"Cannot cut the model at {feature_layer!r}: {exc}") from None
    scale, offset = _SCALING[input_scaling]
    inputs = keras.Input(shape=input_shape, dtype="uint8", name="image")
    x = cut(keras.layers.Rescaling(scale, offset, name="scale")(inputs))
    if len(x.shape) == 4:
        x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    elif len(x.shape) != 2:
        raise ArtifactError(
            f"Feature layer {feature_layer!r} outputs shape {x.shape}; "
            "expected (batch, d) or (batch, h, w, d)."
        )
    return keras.Model(inputs, x, name="backbone")


def import_base_model(
    keras_file: str | Path,
    output_dir: str | Path,
    *,
    name: str,
    feature_layer: str | None = None,
    input_scaling: InputScaling = "raw",
) -> LoadedArtifact:
    """Write a base artifact cut from the classifier in ``keras_file``; return it loaded.

    The file is loaded with ``safe_mode=True`` (no Lambda code).  Only operators
    call this, on files they trust; tenants never provide model files.
    """
    try:
        model = keras.saving.load_model(keras_file, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - any loader failure means "not importable"
        raise ArtifactError(f"{keras_file} is not a loadable Keras model: {exc}") from None
    feature_layer = feature_layer or find_feature_layer(model)
    backbone = build_imported_backbone(model, feature_layer, input_scaling)
    save_artifact(
        output_dir,
        ArtifactMetadata(
            kind="base",
            name=name,
            labels=[],
            input_shape=list(backbone.input_shape[1:]),
            feature_layer=feature_layer,
            feature_dim=int(backbone.output_shape[-1]),
            training={
                "recipe": "imported",
                "source_file": Path(keras_file).name,
                "input_scaling": input_scaling,
            },
        ),
        model=backbone,
    )
    return load_artifact(output_dir)
