"""Data helpers shared by the ML benchmarks (no Django, no network)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def digits_images(size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8x8 digits as ``uint8 (n, size, size, 3)`` plus labels.

    Pixels 0..16 are scaled to 0..255 and upscaled bilinearly with Pillow, the
    same resize :func:`ml.images.load_image` applies to uploads.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    images = np.stack(
        [
            np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))
            for image in small
        ]
    )
    return np.repeat(images[..., None], 3, axis=-1), digits.target.astype(np.int64)


def digits_split(size: int = 64, test_size: float = 0.25, seed: int = 0):
    """The fixed stratified split every digits figure is reported on."""
    from sklearn.model_selection import train_test_split

    images, labels = digits_images(size)
    return train_test_split(images, labels, test_size=test_size, random_state=seed, stratify=labels)


def configure_backend() -> str:
    """Quiet TensorFlow's start-up logs; on TensorFlow, let GPU memory grow on demand."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
    return backend


def throughput(step, images_per_call: int, seconds: float, min_calls: int = 3) -> float:
    """Images per second of ``step()`` run repeatedly for about ``seconds`` (after warm-up)."""
    import time

    step()
    calls, started = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - started < seconds:
        step()
        calls += 1
    return calls * images_per_call / (time.perf_counter() - started)


def device_name() -> str:
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return str(jax.devices()[0])
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return gpus[0].name if gpus else "CPU"
