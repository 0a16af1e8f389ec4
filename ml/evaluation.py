"""Classification metrics as plain, JSON-ready Python values (NumPy only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support, macro F1 and the confusion matrix.

    ``y_true``/``y_pred`` hold class indices into ``labels``.  The confusion
    matrix has one row per true class and one column per predicted class.  A
    class never predicted has precision 0 (and never present, recall 0): no NaN.
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    classes = len(labels)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    correct = np.diag(confusion)
    predicted, support = confusion.sum(axis=0), confusion.sum(axis=1)
    precision = np.divide(correct, predicted, out=np.zeros(classes), where=predicted > 0)
    recall = np.divide(correct, support, out=np.zeros(classes), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros(classes), where=both > 0)
    return {
        "accuracy": float(correct.sum() / max(1, len(y_true))),
        "macro_f1": float(f1.mean()) if classes else 0.0,
        "per_class": [
            {
                "label": label,
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        ],
        "confusion_matrix": confusion.tolist(),
    }


def predict_classes(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class indices from a Keras classifier, through its compiled batch path."""
    outputs = [
        np.asarray(model.predict_on_batch(images[i : i + batch_size]))
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs).argmax(axis=1)


def evaluate(
    model, images: np.ndarray, labels_true: np.ndarray, labels: Sequence[str]
) -> dict[str, Any]:
    """:func:`classification_report` of ``model`` on ``images``."""
    return classification_report(labels_true, predict_classes(model, images), labels)
