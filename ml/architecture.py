"""Model builders: a small CNN backbone and a dense classification head.

The backbone takes ``uint8`` images and returns one pooled feature vector per
image; scaling to floats is its first layer, so it runs on the device and no
caller ever has to remember it.  The head is a single ``Dense`` layer named
:data:`HEAD_LAYER`, which is what lets the serving engine run one backbone for
many tenants and apply each tenant's head (just ``W`` and ``b``) afterwards.
"""

from __future__ import annotations

import keras

DEFAULT_INPUT_SHAPE = (64, 64, 3)
FEATURE_LAYER = "features"
HEAD_LAYER = "head"
BACKBONE_NAME = "backbone"

# (filters, convolutions) per stage; every stage but the last halves the grid.
_STAGES = ((32, 2), (64, 2), (128, 2))


def _conv_bn_relu(x, filters: int, *, strides: int = 1, name: str):
    x = keras.layers.Conv2D(
        filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def build_backbone(
    input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE, feature_dim: int = 128
) -> keras.Model:
    """Return a CNN mapping ``uint8 (batch, h, w, 3)`` to ``float32 (batch, feature_dim)``.

    64x64 inputs keep CPU inference around a millisecond per image: the stem
    convolution has stride 2, then three stages of two 3x3 convolutions with
    batch normalisation, max-pooling between stages, and global average
    pooling.  The output layer is named :data:`FEATURE_LAYER`.
    """
    inputs = keras.Input(shape=input_shape, dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="scale")(inputs)
    x = _conv_bn_relu(x, _STAGES[0][0], strides=2, name="stem")
    for stage, (filters, convs) in enumerate(_STAGES, start=1):
        for index in range(convs):
            x = _conv_bn_relu(x, filters, name=f"s{stage}_{index}")
        if stage < len(_STAGES):
            x = keras.layers.MaxPooling2D(name=f"s{stage}_pool")(x)
    if feature_dim != _STAGES[-1][0]:
        x = _conv_bn_relu(x, feature_dim, name="project")
    features = keras.layers.GlobalAveragePooling2D(name=FEATURE_LAYER)(x)
    return keras.Model(inputs, features, name=BACKBONE_NAME)


def build_classifier(
    backbone: keras.Model, num_classes: int, *, dropout: float = 0.0
) -> keras.Model:
    """Stack a softmax ``Dense`` head named :data:`HEAD_LAYER` on ``backbone``.

    The backbone is used as one nested layer, so ``classifier.get_layer("backbone")``
    returns it and freezing or unfreezing it is a single switch.
    """
    inputs = keras.Input(shape=backbone.input_shape[1:], dtype="uint8", name="image")
    x = backbone(inputs)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=HEAD_LAYER)(x)
    return keras.Model(inputs, outputs, name="classifier")


def build_head(feature_dim: int, num_classes: int) -> keras.Model:
    """A head-only model on precomputed features (what head-only fine-tunes train)."""
    inputs = keras.Input(shape=(feature_dim,), name="features")
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=HEAD_LAYER)(inputs)
    return keras.Model(inputs, outputs, name="head_model")
