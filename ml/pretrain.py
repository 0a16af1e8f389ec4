"""Pretraining of the default base model on procedurally generated images.

Only offline data is used (see :mod:`ml.procedural`).  scikit-learn's digits are
deliberately *not* used: they are the benchmark the fine-tune recipe is judged
on, and pretraining on them would leak the test set into the base model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ml import procedural
from ml.architecture import FEATURE_LAYER, HEAD_LAYER, build_backbone, build_classifier
from ml.artifacts import ArtifactMetadata, BaseReference, HeadWeights, save_artifact

DEFAULT_BASE_NAME = "mh-base-v1"
REPORT_FILE = "report.json"
SERVING_HEAD_DIR = "head"  # read by inference.selectors (same name)


def prototype_labels(prototypes) -> list[str]:
    """Readable names of the procedural classes: ``glyph-007``, ``rings-012`` …"""
    return [f"{proto.kind}-{index:03d}" for index, proto in enumerate(prototypes)]


def save_serving_head(
    output_dir: str | Path, classifier: keras.Model, labels: list[str], base: ArtifactMetadata
) -> None:
    """Keep the pretraining classifier's head as ``head/`` so the base model can answer
    predict calls itself (on the shared-backbone path, like any head-only model)."""
    kernel, bias = classifier.get_layer(HEAD_LAYER).get_weights()
    save_artifact(
        Path(output_dir) / SERVING_HEAD_DIR,
        ArtifactMetadata(
            kind="head",
            name=f"{base.name}-head",
            labels=labels,
            input_shape=base.input_shape,
            feature_layer=None,
            base_model=BaseReference(base.name, base.checksum),
            feature_dim=base.feature_dim,
        ),
        head=HeadWeights(kernel, bias),
    )


def set_determinism(seed: int) -> None:
    """Seed Python, NumPy and the backend so a run can be repeated exactly on CPU."""
    keras.utils.set_random_seed(seed)


def build_default_base_model(
    output_dir: str | Path,
    *,
    seed: int = 0,
    epochs: int = 10,
    num_classes: int = 256,
    images_per_class: int = 160,
    batch_size: int = 128,
    quick: bool = False,
    name: str = DEFAULT_BASE_NAME,
    verbose: int = 0,
) -> dict[str, Any]:
    """Pretrain the default backbone and write a base artifact plus ``report.json``.

    ``quick`` shrinks everything (a few seconds; for tests and smoke runs);
    ``verbose`` is passed to ``fit`` (2 logs one line per epoch).  The
    same ``seed`` gives the same weights on the same CPU build.  Returns the
    report (also written to ``output_dir/report.json``).
    """
    if quick:
        num_classes, images_per_class, epochs = 8, 16, 1
    started = time.perf_counter()
    set_determinism(seed)
    prototypes = procedural.make_prototypes(num_classes, seed)
    rng = np.random.default_rng(seed)
    train_labels = rng.permutation(np.repeat(np.arange(num_classes), images_per_class))
    holdout_per_class = max(4, images_per_class // 8)
    holdout_labels = np.repeat(np.arange(num_classes), holdout_per_class)
    # Held-out images use their own RNG stream: new instances of the same classes.
    x_train = procedural.render(prototypes, train_labels, seed)
    x_holdout = procedural.render(prototypes, holdout_labels, seed + 1_000_003)
    generated = time.perf_counter()

    backbone = build_backbone()
    classifier = build_classifier(backbone, num_classes, dropout=0.1)
    steps = epochs * -(-len(x_train) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        3e-3, decay_steps=steps, alpha=0.02, warmup_target=None
    )
    classifier.compile(
        optimizer=keras.optimizers.Adam(schedule, weight_decay=None),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = classifier.fit(
        x_train, train_labels, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=verbose
    )
    _, holdout_accuracy = classifier.evaluate(x_holdout, holdout_labels, batch_size=256, verbose=0)
    trained = time.perf_counter()

    metadata = save_artifact(
        output_dir,
        ArtifactMetadata(
            kind="base",
            name=name,
            labels=[],
            input_shape=list(backbone.input_shape[1:]),
            feature_layer=FEATURE_LAYER,
            feature_dim=int(backbone.output_shape[-1]),
            training={"recipe": "procedural-pretraining", "seed": seed},
        ),
        model=backbone,
    )
    save_serving_head(output_dir, classifier, prototype_labels(prototypes), metadata)
    report = {
        "name": name,
        "checksum": metadata.checksum,
        "data": {
            "source": "procedural (ml.procedural): glyph strokes and textures",
            "classes": num_classes,
            "glyph_classes": sum(p.kind == "glyph" for p in prototypes),
            "texture_classes": sum(p.kind != "glyph" for p in prototypes),
            "train_images": len(x_train),
            "holdout_images": len(x_holdout),
        },
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "train_accuracy": float(history.history["accuracy"][-1]),
        "holdout_accuracy": float(holdout_accuracy),
        "params": int(backbone.count_params()),
        "seconds": {
            "data": round(generated - started, 1),
            "training": round(trained - generated, 1),
        },
        "backend": keras.backend.backend(),
    }
    (Path(output_dir) / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    return report
